"""Timestamps survive a strip, and a second strip: every packet keeps its dts and pts (edit lists, AAC
priming and a delayed audio start in MP4, Opus codec delay in WebM/Matroska, B-frame order), and the
verification refuses an output whose timestamps moved. Cases generated with ffmpeg from lavfi sources.
"""
from __future__ import annotations

import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from shared.errors import ScrubError, VerificationFailed
from video.plan import plan_strip
from video.probe import probe_file
from video.strip import VideoOptions, strip_file
from video.verify import packet_report, verify_output
from videokit import ffmpeg

LIMITS = VideoOptions().limits()
VIDEO = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=1"]
DELAYED_SINE = ["-itsoffset", "0.188", "-f", "lavfi", "-i", "sine=duration=1"]



def _ffprobe_csv(path: Path, entries: str) -> list[list[str]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", entries, "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [line.split(",") for line in out.split()]


def packet_times(path: Path) -> list[tuple[int, Fraction | None, Fraction]]:
    """(stream, dts, pts) of every packet in seconds, as ffprobe reads them (Matroska has no dts)."""
    bases = {int(i): Fraction(tb) for i, tb in _ffprobe_csv(path, "stream=index,time_base")}
    rows = [row[:3] for row in _ffprobe_csv(path, "packet=stream_index,pts,dts") if row[0].isdigit()]
    return [(int(s), None if d == "N/A" else int(d) * bases[int(s)], int(p) * bases[int(s)]) for s, p, d in rows]


def start_times(path: Path) -> list[str]:
    return subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=start_time", "-of", "csv=p=0",
                           str(path)], capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("timing")
    made = {
        "opus.webm": [*VIDEO, "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libvpx", "-c:a", "libopus"],
        "opus.mkv": [*VIDEO, "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-bf", "2", "-c:a", "libopus"],
        "delayed-aac.mp4": [*VIDEO, *DELAYED_SINE, "-c:v", "libx264", "-bf", "2", "-c:a", "aac"],
        "delayed-aac.mov": [*VIDEO, *DELAYED_SINE, "-c:v", "libx264", "-bf", "2", "-c:a", "aac", "-f", "mov"],
        "bframes.mp4": [*VIDEO, "-c:v", "libx264", "-bf", "3", "-g", "12"],
    }
    for name, args in made.items():
        ffmpeg(*args, d / name)
    return {name: d / name for name in made}


@pytest.mark.parametrize("name", ["opus.webm", "opus.mkv", "delayed-aac.mp4", "delayed-aac.mov", "bframes.mp4"])
def test_every_packet_keeps_its_timestamps_through_two_strips(name, cases, tmp_path):
    src = cases[name]
    once, twice = tmp_path / ("once-" + name), tmp_path / ("twice-" + name)
    strip_file(src, once)
    strip_file(once, twice)
    assert packet_times(once) == packet_times(src)
    assert packet_times(twice) == packet_times(src)  # nothing accumulates
    assert start_times(twice) == start_times(src)


def test_a_delayed_audio_start_is_kept(cases, tmp_path):
    dst = tmp_path / "out.mp4"
    strip_file(cases["delayed-aac.mp4"], dst)
    audio_start = float(start_times(dst)[1])
    assert 0.15 < audio_start == float(start_times(cases["delayed-aac.mp4"])[1])


def test_verification_refuses_moved_timestamps(cases, tmp_path):
    """The same packet bytes, every video packet 40 ms later: the verifier must see it."""
    src, moved = tmp_path / "in.mkv", tmp_path / "moved.mkv"
    ffmpeg("-i", cases["bframes.mp4"], "-c", "copy", src)
    ffmpeg("-copyts", "-i", src, "-c", "copy", "-bsf:v", "setts=ts=TS+40", moved)
    assert packet_times(moved) != packet_times(src)
    plan = plan_strip(probe_file(src, LIMITS), src.read_bytes()[:4096], keep_subtitles=False)
    dst = tmp_path / "out.mkv"
    strip_file(src, dst)
    verify_output(dst, plan, lambda: packet_report(src, LIMITS), LIMITS)
    with pytest.raises(VerificationFailed, match="timestamps"):
        verify_output(dst, plan, lambda: packet_report(moved, LIMITS), LIMITS)


def test_a_corrupt_ctts_table_is_copied_faithfully_or_refused(cases, tmp_path):
    """Composition offsets all zeroed except one huge one: never B-frames silently reordered."""
    data = bytearray(cases["bframes.mp4"].read_bytes())
    ctts = data.index(b"ctts") + 4
    entries = struct.unpack(">I", data[ctts + 4:ctts + 8])[0]
    for n in range(entries):
        offset = ctts + 8 + 8 * n + 4
        data[offset:offset + 4] = struct.pack(">I", 0x7FFFFF00 if n == 1 else 0)
    src = tmp_path / "ctts.mp4"
    src.write_bytes(bytes(data))
    dst = tmp_path / "out.mp4"
    try:
        strip_file(src, dst)
    except ScrubError as refused:
        assert "\n" not in str(refused) and not dst.exists()
    else:
        assert packet_times(dst) == packet_times(src)
