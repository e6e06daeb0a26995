"""Metadata that hides below the container, where exiftool on the video does not look: EXIF/XMP inside
MJPEG frames, still-image tracks, codec configuration records. Every case is made here (ffmpeg lavfi,
exiftool on JPEG frames, hand-edited bytes); the leak is asserted gone from the output's bytes.
"""
from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from devtools import judge
from shared.errors import MalformedInput
from video.codecdata import avcc_length, hvcc_length
from video.strip import inspect_file, strip_file
from videokit import ffmpeg

SECRETS = (b"LeakCam", b"Jane Doe", b"Exif\0\0", b"http://ns.adobe.com/xap")
CLIP = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5"]



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
    assert any("segments in its frames" in line for line in inspect_file(src)["found"]["user_data"])
    dst = tmp_path / f"out.{suffix}"
    result = strip_file(src, dst)
    assert_no_secret(dst)
    assert "user_data" not in inspect_file(dst)["found"]
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


# --- codec configuration data ------------------------------------------------------------------------

def comment_header(length: int) -> bytes:
    """A Vorbis comment header of exactly `length` bytes: a telling vendor string and an ARTIST."""
    comment = b"ARTIST=Jane Doe"
    fixed = 7 + 4 + 4 + 4 + len(comment) + 1
    vendor = (b"LeakCam at 48.8584N 2.2945E " * 8)[:length - fixed]
    return (b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<II", 1, len(comment))
            + comment + b"\x01")


@pytest.mark.parametrize("suffix, video", [("webm", "libvpx"), ("mkv", "libx264")])
def test_a_vorbis_comment_header_is_emptied(suffix, video, tmp_path):
    made = tmp_path / f"made.{suffix}"
    ffmpeg(*CLIP, "-f", "lavfi", "-i", "sine=duration=0.5", "-c:v", video, "-c:a", "libvorbis", made)
    data = made.read_bytes()
    start = data.index(b"\x03vorbis")
    end = data.index(b"\x05vorbis", start)  # the setup header follows the comment header
    src = tmp_path / f"comments.{suffix}"
    src.write_bytes(data[:start] + comment_header(end - start) + data[end:])
    found = inspect_file(src)["found"]["user_data"]
    assert any("ARTIST=Jane Doe" in line and "LeakCam" in line for line in found), found
    dst = tmp_path / f"out.{suffix}"
    result = strip_file(src, dst)
    assert_no_secret(dst)
    assert any("comment headers emptied" in note for note in result.notes)
    assert inspect_file(dst)["found"] == {}
    assert decoded(dst, "0:a") == decoded(src, "0:a")
    again = tmp_path / f"again.{suffix}"
    assert not any("emptied" in note for note in strip_file(dst, again).notes)  # nothing left to empty


def _grow(data: bytes, at: int, extra: bytes, ancestors: list[int]) -> bytes:
    """`extra` inserted at `at`, and each box starting at an offset in `ancestors` made that much larger."""
    out = bytearray(data[:at] + extra + data[at:])
    for start in ancestors:
        out[start:start + 4] = struct.pack(">I", struct.unpack(">I", out[start:start + 4])[0] + len(extra))
    return bytes(out)


def _avcc_ancestors(data: bytes) -> tuple[int, list[int]]:
    """(end of the avcC box, offsets of avcC and every box around it) in an MP4 whose moov is last."""
    avcc = data.rindex(b"avcC") - 4
    ancestors, pos, end = [], 0, len(data)
    while pos < avcc:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + size <= avcc:
            pos += size
            continue
        ancestors.append(pos)
        pos += {b"stsd": 16, b"avc1": 86}.get(kind, 8)  # children after the full box / sample entry fields
        end = pos
    assert end
    return avcc + struct.unpack(">I", data[avcc:avcc + 4])[0], ancestors + [avcc]


def test_bytes_after_an_avcc_record_are_refused(tmp_path):
    made = tmp_path / "made.mp4"
    ffmpeg(*CLIP, "-c:v", "libx264", "-preset", "ultrafast", made)
    data = made.read_bytes()
    avcc_end, ancestors = _avcc_ancestors(data)
    src = tmp_path / "avcc.mp4"
    src.write_bytes(_grow(data, avcc_end, b"Jane Doe 48.8584N", ancestors))
    with pytest.raises(MalformedInput, match="avcC configuration record carries 17 bytes beyond"):
        strip_file(src, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    strip_file(made, tmp_path / "plain.mp4")  # the record as x264 writes it passes


@pytest.mark.parametrize("record, length", [
    (bytes([1, 66, 0, 30, 0xFF, 0xE1, 0, 2, 0x67, 0x42, 1, 0, 1, 0x68]), 14),  # Baseline: no extension
    (bytes([1, 100, 0, 30, 0xFF, 0xE1, 0, 1, 0x67, 1, 0, 1, 0x68, 0xFD, 0xF8, 0xF8, 0]), 17),  # High
])
def test_avcc_length(record, length):
    assert avcc_length(record) == length
    assert avcc_length(record + b"trailing text") == length


def test_hvcc_length():
    record = bytes([1] + [0] * 21) + bytes([1, 0x20, 0, 1, 0, 3]) + b"VPS"
    assert hvcc_length(record) == len(record)
    assert hvcc_length(record + b"Jane") == len(record)
    with pytest.raises(IndexError):
        hvcc_length(record[:-1])
