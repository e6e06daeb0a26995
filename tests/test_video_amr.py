"""3GP with AMR audio, the phones' format: stripped, not refused, whether each sample holds one AMR
frame or several (ffmpeg 5.1's 3gp muxer takes one per packet). The AMR stream is written by hand
(Debian's ffmpeg has no AMR encoder): 12.2 kbit/s frames, a header byte and 31 bytes each.
"""
from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from video.strip import strip_file
from videokit import ffmpeg

FRAMES = 50  # one second



def probe(path: Path, entries: str, selector: str = "a:0") -> list[str]:
    return subprocess.run(["ffprobe", "-v", "error", "-select_streams", selector, "-show_entries", entries,
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout.split()


def audio_bytes_hash(path: Path) -> bytes:
    """SHA-512 of the AMR stream's bytes, however they are packed into samples."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy", "-f", "streamhash",
                           "-hash", "sha512", "-"], capture_output=True, check=True).stdout.split(b"=")[-1]


@pytest.fixture(scope="module")
def amr(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("amr") / "speech.amr"
    path.write_bytes(b"#!AMR\n" + b"".join(bytes([0x3C]) + bytes((n + i) % 256 for i in range(31))
                                         for n in range(FRAMES)))
    return path


def ten_frames_per_sample(single: bytes) -> bytes:
    """An audio-only 3GP (one chunk of single-frame samples) rewritten to samples of ten frames each."""
    data = bytearray(single)
    stsz, stts, stsc = (data.index(kind) + 4 for kind in (b"stsz", b"stts", b"stsc"))
    assert struct.unpack(">II", data[stsz + 4:stsz + 12]) == (32, FRAMES)
    assert struct.unpack(">III", data[stsc + 8:stsc + 20]) == (1, FRAMES, 1), "one chunk"
    data[stsz + 4:stsz + 12] = struct.pack(">II", 320, FRAMES // 10)
    data[stts + 8:stts + 16] = struct.pack(">II", FRAMES // 10, 1600)
    data[stsc + 8:stsc + 20] = struct.pack(">III", 1, FRAMES // 10, 1)
    return bytes(data)


def test_amr_samples_of_several_frames_are_stripped_byte_for_byte(amr, tmp_path):
    single = tmp_path / "single.3gp"
    ffmpeg("-i", amr, "-c", "copy", "-metadata", "location=+48.8584+002.2945/", "-f", "3gp", single)
    src = tmp_path / "packed.3gp"
    src.write_bytes(ten_frames_per_sample(single.read_bytes()))
    assert probe(src, "packet=size")[0] == "320"
    dst = tmp_path / "out.3gp"
    result = strip_file(src, dst)
    assert result.format == "3gp" and "gps" in result.removed
    assert any("one frame per packet" in note for note in result.notes)
    assert audio_bytes_hash(dst) == audio_bytes_hash(src)
    assert probe(dst, "packet=size") == ["32"] * FRAMES
    assert b"48.8584" not in dst.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".amr"], "no temporary file left"


def test_a_phone_3gp_with_h264_and_delayed_amr_keeps_sync(amr, tmp_path):
    src = tmp_path / "phone.3gp"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=176x144:rate=15:duration=1", "-itsoffset", "0.2", "-i", amr,
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", "-metadata", "location=+48.8584+002.2945/",
           "-f", "3gp", src)
    dst = tmp_path / "out.3gp"
    strip_file(src, dst)
    assert probe(dst, "stream=start_time") == probe(src, "stream=start_time")
    assert probe(dst, "stream=start_time", "v:0") == probe(src, "stream=start_time", "v:0")
    assert audio_bytes_hash(dst) == audio_bytes_hash(src)
    assert dst.read_bytes()[8:12] == src.read_bytes()[8:12]
    assert b"48.8584" not in dst.read_bytes()
