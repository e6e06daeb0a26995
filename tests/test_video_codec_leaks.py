"""Metadata that hides below the container, where exiftool on the video does not look: EXIF/XMP inside
MJPEG frames, still-image tracks, codec configuration records. Every case is made here (ffmpeg lavfi,
exiftool on JPEG frames, hand-edited bytes); the leak is asserted gone from the output's bytes.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import judge
import pytest

from video.strip import inspect_file, strip_file

SECRETS = (b"LeakCam", b"Jane Doe", b"Exif\0\0", b"http://ns.adobe.com/xap")
CLIP = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5"]


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


def decoded(path: Path, selector: str = "0:v:0") -> bytes:
    """md5 of every decoded frame of one video stream: the picture, whatever the packets carry."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", selector, "-f", "framemd5", "-"],
                          capture_output=True, check=True, timeout=60).stdout.split(b"\n#", 1)[-1]


def exif_jpegs(directory: Path, count: int) -> Path:
    """`count` JPEG frames, each with EXIF make/GPS/artist, XMP and a comment, as frame%d.jpg."""
    for n in range(1, count + 1):
        ffmpeg("-f", "lavfi", "-i", f"color=c=0x{n * 40:02x}4080:size=64x48", "-frames:v", "1", "-c:v", "mjpeg",
               directory / f"frame{n}.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Make=LeakCam", "-Artist=Jane Doe",
                    "-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-XMP:Creator=Jane Doe", "-Comment=Jane Doe",
                    *[str(directory / f"frame{n}.jpg") for n in range(1, count + 1)]], check=True, timeout=60)
    return directory / "frame%d.jpg"


def assert_no_secret(path: Path) -> None:
    data = path.read_bytes()
    assert not [s for s in SECRETS if s in data], path
    leaks = judge.leaks_in_file(str(path))
    assert {tag: value for tag, value in leaks.items() if value != "Lavf"} == {}  # bitexact Matroska's app name


@pytest.mark.parametrize("muxer, suffix", [("mov", "mov"), ("mp4", "mp4"), ("matroska", "mkv")])
def test_mjpeg_frames_lose_their_exif_xmp_and_comments_but_not_a_pixel(muxer, suffix, tmp_path):
    frames = exif_jpegs(tmp_path, 3)
    src = tmp_path / f"mjpeg.{suffix}"
    ffmpeg("-framerate", "10", "-i", frames, "-c:v", "copy", "-f", muxer, src)
    assert b"LeakCam" in src.read_bytes() and b"Exif\0\0" in src.read_bytes()
    dst = tmp_path / f"out.{suffix}"
    result = strip_file(src, dst)
    assert_no_secret(dst)
    assert decoded(dst) == decoded(src)
    assert any("MJPEG frames" in note for note in result.notes)
    assert result.lossless


def test_a_still_jpeg_second_video_track_is_dropped(tmp_path):
    frames = exif_jpegs(tmp_path, 1)
    src = tmp_path / "still.mov"
    ffmpeg(*CLIP, "-framerate", "1", "-i", frames, "-map", "0", "-map", "1", "-c:v:0", "libx264",
           "-preset", "ultrafast", "-c:v:1", "copy", "-f", "mov", src)
    assert b"LeakCam" in src.read_bytes()
    found = inspect_file(src)["found"]
    assert any("mjpeg" in line for line in found["cover_art"]), found
    dst = tmp_path / "out.mov"
    result = strip_file(src, dst)
    assert_no_secret(dst)
    assert [line.split(":")[1].split()[:2] for line in result.kept] == [["video", "h264"]]
    assert decoded(dst) == decoded(src)
