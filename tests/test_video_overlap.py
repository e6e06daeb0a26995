"""Python work beside the children: the input's packet report is read and checked while the output is
probed and hashed, with the same errors as in turn (the input's first), and a result or an error of the
work beside always reaches whoever waits for it. Cases generated with ffmpeg from lavfi sources."""
from __future__ import annotations

import threading

import pytest

from shared.errors import InputTooLarge, MalformedInput, VerificationFailed
from video.plan import plan_strip
from video.probe import Limits, MiB, Tool, beside, probe_file, run_tools
from video.strip import strip_file
from video.verify import packet_report, verify_output
from videokit import ffmpeg

LIMITS = Limits(timeout=60, memory_bytes=1024 * MiB)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("overlap") / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
           "-c:v", "libx264", "-c:a", "aac", "-shortest", "-metadata", "title=secret", path)
    return path


def test_beside_hands_over_the_result_and_the_error():
    assert beside(lambda: 42)() == 42

    def fails() -> None:
        raise MalformedInput("cut short")

    with pytest.raises(MalformedInput, match="cut short"):
        beside(fails)()


def test_the_work_beside_runs_while_the_children_run(tmp_path):
    """The child waits for a file that only the Python work writes: in turn, it would run out of time."""
    flag = tmp_path / "flag"
    waiting = beside(lambda: flag.touch())
    waiter = Tool(["sh", "-c", f"while [ ! -e '{flag}' ]; do sleep 0.01; done; echo seen"], "waiter")
    (waited,) = run_tools([waiter], Limits(timeout=20, memory_bytes=1024 * MiB))
    waiting()
    assert waited.stdout == b"seen\n"


def test_the_input_report_is_read_during_the_output_checks(clip, tmp_path):
    dst = tmp_path / "out.mp4"
    strip_file(clip, dst)
    plan = plan_strip(probe_file(clip, LIMITS), clip.read_bytes()[:4096], keep_subtitles=False)
    threads = []

    def expected():
        threads.append(threading.current_thread())
        return packet_report(clip, LIMITS)

    verify_output(dst, plan, expected, LIMITS)
    assert threads and threads[0] is not threading.main_thread()


def test_the_input_error_comes_first_even_when_the_output_fails(clip, tmp_path):
    """An input refused (cut short) is refused as such, whatever the output's checks find meanwhile."""
    plan = plan_strip(probe_file(clip, LIMITS), clip.read_bytes()[:4096], keep_subtitles=False)
    junk = tmp_path / "out.mp4"
    junk.write_bytes(b"not a video at all" * 100)

    def refused():
        raise MalformedInput("truncated: the file holds 0.50 s of the 1.00 s its header declares (50%)")

    with pytest.raises(MalformedInput, match="truncated"):
        verify_output(junk, plan, refused, LIMITS)
    with pytest.raises(VerificationFailed, match="does not probe"):  # and with the input fine, the output's
        verify_output(junk, plan, lambda: packet_report(clip, LIMITS), LIMITS)


def test_the_input_error_comes_first_even_when_a_child_runs_out_of_time(clip, tmp_path):
    dst = tmp_path / "out.mp4"
    strip_file(clip, dst)
    plan = plan_strip(probe_file(clip, LIMITS), clip.read_bytes()[:4096], keep_subtitles=False)
    no_time = Limits(timeout=0.001, memory_bytes=1024 * MiB)

    def refused():
        raise MalformedInput("stream 1: audio aac has no frames (empty or broken track)")

    with pytest.raises(MalformedInput, match="no frames"):
        verify_output(dst, plan, refused, no_time)
    with pytest.raises(InputTooLarge, match="did not finish"):
        verify_output(dst, plan, lambda: packet_report(clip, LIMITS), no_time)
