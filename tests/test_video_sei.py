"""Encoder SEI inside the H.264/HEVC bitstream: `inspect` reports its text, the default keeps the
stream bit-identical, and STRIP_ENCODER_SEI removes every SEI NAL unit, verified against the filtered
input, without changing a decoded picture. Cases generated with ffmpeg (x264, x265, h264_metadata).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.errors import ScrubError
from video.strip import VideoOptions, inspect_file, strip_file
from videokit import ffmpeg

CLIP = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5"]
UUID = "086f3693b7b34f2c965321492feee5b8"



def pictures(path: Path) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                          capture_output=True, check=True, timeout=60).stdout.split(b"\n#", 1)[-1]


def packets(path: Path) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framemd5",
                           "-"], capture_output=True, check=True, timeout=60).stdout.split(b"\n#", 1)[-1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sei")
    ffmpeg(*CLIP, "-c:v", "libx264", "-preset", "ultrafast", d / "x264.mp4")
    ffmpeg("-i", d / "x264.mp4", "-c", "copy", "-bsf:v", f"h264_metadata=sei_user_data={UUID}+Jane Doe at 48.8584N",
           d / "userdata.mp4")
    ffmpeg(*CLIP, "-c:v", "libx265", "-x265-params", "log-level=0", d / "x265.mkv")
    return {p.name: p for p in d.iterdir()}


def test_inspect_reports_encoder_and_user_data_sei_and_the_default_keeps_them(clips, tmp_path):
    report = inspect_file(clips["userdata.mp4"])
    texts = " ".join(report["encoder_sei"])
    assert "x264 - core" in texts and "Jane Doe at 48.8584N" in texts
    assert "encoder_sei" not in report["removes"]
    dst = tmp_path / "out.mp4"
    result = strip_file(clips["userdata.mp4"], dst)
    assert "encoder_sei" not in result.removed
    assert packets(dst) == packets(clips["userdata.mp4"])  # bit-identical by default
    assert b"Jane Doe" in dst.read_bytes()


@pytest.mark.parametrize("name", ["userdata.mp4", "x264.mp4"])
def test_strip_encoder_sei_removes_it_without_changing_a_picture(name, clips, tmp_path):
    src, dst = clips[name], tmp_path / ("out-" + name)
    options = VideoOptions(strip_encoder_sei=True)
    assert "encoder_sei" in inspect_file(src, options)["removes"]
    result = strip_file(src, dst, options)
    assert result.removed["encoder_sei"] and any("SEI NAL units removed" in note for note in result.notes)
    data = dst.read_bytes()
    assert b"x264 - core" not in data and b"Jane Doe" not in data
    assert inspect_file(dst)["encoder_sei"] == []
    assert pictures(dst) == pictures(src)


def test_x265_options_in_the_hvcc_record_are_reported_as_kept(clips, tmp_path):
    report = inspect_file(clips["x265.mkv"], VideoOptions(strip_encoder_sei=True))
    assert any("x265" in line and "(kept)" in line for line in report["encoder_sei"]), report["encoder_sei"]
    assert "encoder_sei" not in report["removes"]
    dst = tmp_path / "out.mkv"
    strip_file(clips["x265.mkv"], dst, VideoOptions(strip_encoder_sei=True))
    assert pictures(dst) == pictures(clips["x265.mkv"])


def test_strip_encoder_sei_setting(monkeypatch):
    monkeypatch.setenv("STRIP_ENCODER_SEI", "true")
    assert VideoOptions.from_env().strip_encoder_sei
    monkeypatch.setenv("STRIP_ENCODER_SEI", "perhaps")
    with pytest.raises(ScrubError, match="STRIP_ENCODER_SEI"):
        VideoOptions.from_env()
