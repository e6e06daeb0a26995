"""A strip's children run side by side and its packet reports are compared as text, with every guarantee
kept: children run at the same time under the same limits, the first failure stops the others, a large
input hashed by a second ffmpeg beside the copy gives the very bytes and findings of one ffmpeg doing
both, and a packet that differs is named (stream, packet, what changed) whatever the time base.
Children are real processes (sh, dd, python, ffmpeg); cases generated with ffmpeg from lavfi sources."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shared.errors import InputTooLarge, ScrubError, VerificationFailed
from video import strip as strip_module
from video.plan import plan_strip
from video.probe import Limits, MiB, Tool, probe_file, run_tools
from video.strip import VideoOptions, inspect_file, strip_file
from video.verify import HASH, PacketReport, packet_report, verify_output
from videokit import ffmpeg

LIMITS = Limits(timeout=60, memory_bytes=1024 * MiB)
CLIP = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-c:v", "libx264", "-bf", "2", "-c:a", "aac", "-shortest", "-metadata", "location=+48.85+002.29/"]


def test_children_run_at_the_same_time(tmp_path):
    """The first child waits for a file that only the second writes: in turn, it would run out of time."""
    flag = tmp_path / "flag"
    waiter = Tool(["sh", "-c", f"while [ ! -e '{flag}' ]; do sleep 0.01; done; echo seen"], "waiter")
    writer = Tool(["sh", "-c", f"touch '{flag}'"], "writer")
    waited, wrote = run_tools([waiter, writer], Limits(timeout=20, memory_bytes=1024 * MiB))
    assert (waited.returncode, waited.stdout, wrote.returncode) == (0, b"seen\n", 0)


def test_the_first_failure_stops_the_other_children(tmp_path):
    """A child that writes past its file cap fails the run, and its sibling is killed, not waited for."""
    done = tmp_path / "done"
    sibling = Tool([sys.executable, "-c", f"import pathlib, time; time.sleep(20); pathlib.Path('{done}').touch()"],
                   "sibling")
    writer = Tool(["dd", "if=/dev/zero", f"of={tmp_path / 'big'}", "bs=64k", "count=32"], "writer", output_bytes=MiB)
    with pytest.raises(InputTooLarge, match="writer's output would exceed 1048576 bytes"):
        run_tools([sibling, writer], LIMITS)
    assert not done.exists()


def test_a_child_that_cannot_start_stops_those_that_did(tmp_path):
    done = tmp_path / "done"
    sibling = Tool([sys.executable, "-c", f"import pathlib, time; time.sleep(20); pathlib.Path('{done}').touch()"],
                   "sibling")
    with pytest.raises(ScrubError, match="no-such-ffmpeg-binary is not installed"):
        run_tools([sibling, Tool(["no-such-ffmpeg-binary"], "ffmpeg")], LIMITS)
    assert not done.exists()


def _report(tb: str, rows: list[str]) -> PacketReport:
    head = f"#format: frame checksums\n#version: 2\n#hash: {HASH}\n#tb 0: {tb}\n#stream#, dts, pts, duration, size, hash\n"
    return PacketReport.parse((head + "".join(row + "\n" for row in rows)).encode())


def test_a_difference_names_the_stream_the_packet_and_what_changed():
    packets = ["0,          0,          0,      512,      100, " + "a" * 32,
               "0,        512,       1024,      512,      120, " + "b" * 32]
    same = _report("1/15360", packets)
    assert same.difference(_report("1/15360", packets)) is None
    rebased = _report("1/30720", ["0, 0, 0, 1024, 100, " + "a" * 32, "0, 1024, 2048, 1024, 120, " + "b" * 32])
    assert same.difference(rebased) is None
    other_bytes = _report("1/15360", [packets[0], "0, 512, 1024, 512, 120, " + "c" * 32])
    assert same.difference(other_bytes) == f"stream 0 packet 1: size and hash 120, {'b' * 32} became 120, {'c' * 32}"
    later = _report("1/15360", [packets[0], "0, 512, 1025, 512, 120, " + "b" * 32])
    assert same.difference(later) == "stream 0 packet 1: timestamps (dts, pts) 512, 1024 became 512, 1025"
    assert same.difference(_report("1/15360", packets[:1])) == "stream 0: 2 packets became 1"


def test_durations_and_side_data_are_left_out_as_before():
    plain = _report("1/48000", ["0, -1024, -1024, 1024, 258, " + "a" * 32])
    with_side_data = _report("1/48000", ["0, -1024, -1024, 960, 258, " + "a" * 32 + ", S=1, 10, " + "f" * 32])
    assert plain.difference(with_side_data) is None
    assert with_side_data.held_seconds() == pytest.approx(-64 / 48000)


@pytest.mark.parametrize("body", ["0, 1, 1, 1, 10\n", "0, 1, 1, 1, 10, " + "a" * 32 + "\nnot a packet\n",
                                  "1, 1, 1, 1, 10, " + "a" * 32 + "\n", "0,\n 1, 1, 1, 10, " + "a" * 32 + "\n"])
def test_every_line_of_a_report_is_a_packet_of_a_declared_stream(body):
    with pytest.raises(VerificationFailed, match="unreadable"):
        PacketReport.parse(b"#tb 0: 1/25\n" + body.encode())


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parallel") / "bframes.mp4"
    ffmpeg(*CLIP, path)
    return path


def test_the_output_check_names_the_packet_that_differs(clip, tmp_path):
    dst = tmp_path / "out.mp4"
    strip_file(clip, dst)
    plan = plan_strip(probe_file(clip, LIMITS), clip.read_bytes()[:4096], keep_subtitles=False)
    expected = packet_report(clip, LIMITS)
    verify_output(dst, plan, lambda: expected, LIMITS)
    video = expected.packets[0]
    index, times, duration, data = video[3]
    dts, pts = (int(t) for t in times.split(b","))
    moved = (index, f"{dts}, {pts + 1}".encode(), duration, data)
    with pytest.raises(VerificationFailed, match=r"output: stream 0 packet 3: timestamps \(dts, pts\)"):
        verify_output(dst, plan, lambda: PacketReport(expected.time_bases, ([*video[:3], moved, *video[4:]],
                                                                            *expected.packets[1:])), LIMITS)


def test_strip_reports_what_inspect_reports(clip, tmp_path):
    """The reads of first packets (H.264 SEI here) run beside the copy and find what inspect finds."""
    options = VideoOptions(strip_encoder_sei=True)
    result = strip_file(clip, tmp_path / "out.mp4", options)
    report = inspect_file(clip, options)
    assert result.removed == report["removes"] and "encoder_sei" in result.removed
    assert any("x264" in line for line in report["encoder_sei"])


SIDE_BY_SIDE_CASES = {
    "delayed-aac.mp4": ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-itsoffset", "0.2",
                        "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-bf", "2", "-c:a", "aac",
                        "-metadata", "title=secret"],
    "opus.webm": ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-f", "lavfi", "-i",
                  "sine=duration=1", "-c:v", "libvpx", "-c:a", "libopus", "-metadata", "title=secret"],
}


@pytest.mark.parametrize("name", sorted(SIDE_BY_SIDE_CASES))
@pytest.mark.parametrize("options", [VideoOptions(), VideoOptions(strip_encoder_sei=True)], ids=["plain", "sei"])
def test_a_second_ffmpeg_hashing_beside_the_copy_gives_the_same_strip(name, options, tmp_path, monkeypatch):
    src = tmp_path / name
    ffmpeg(*SIDE_BY_SIDE_CASES[name], src)
    alone, beside = tmp_path / ("alone-" + name), tmp_path / ("beside-" + name)
    first = strip_file(src, alone, options)
    runs: list[int] = []

    def counted(tools, limits):
        runs.append(len(tools))
        return run_tools(tools, limits)
    monkeypatch.setattr(strip_module, "SIDE_BY_SIDE_BYTES", 0)
    monkeypatch.setattr(strip_module, "run_tools", counted)
    second = strip_file(src, beside, options)
    assert runs[0] == (3 if name.endswith(".mp4") else 2)  # the copy, the input's hash (, the H.264 SEI read)
    assert beside.read_bytes() == alone.read_bytes()
    assert (second.removed, second.notes, second.kept) == (first.removed, first.notes, first.kept)
