"""Attacks on the video verification's speed-ups (children side by side, the input's report read in a
thread): each case here once made the new code guard less than the code it replaced. Children are real
processes (sh, ffmpeg); cases generated with ffmpeg from lavfi sources."""
from __future__ import annotations

import pytest

from shared.errors import MalformedInput, VerificationFailed
from video.plan import plan_strip
from video.probe import MAX_CHILDREN, Limits, MiB, Tool, probe_file, run_tools
from video.strip import strip_file
from video.verify import PacketReport, packet_report, verify_output
from videokit import av_hashes, ffmpeg

LIMITS = Limits(timeout=60, memory_bytes=1024 * MiB)


def test_children_at_once_do_not_grow_with_the_tools_asked_for(tmp_path):
    """One first-packet read per H.264 track ran beside the copy: 60 tracks in 275 KB were 60 ffmpeg at
    once (3.3 GB). Each child counts its running siblings after a pause that lets every one start."""
    running = tmp_path / "running"
    running.mkdir()
    counting = "touch {mark}; sleep 0.3; ls {dir} | wc -l; rm {mark}"
    tools = [Tool(["sh", "-c", counting.format(mark=running / str(i), dir=running)], f"child {i}")
             for i in range(3 * MAX_CHILDREN)]
    seen = [int(done.stdout) for done in run_tools(tools, LIMITS)]
    assert len(seen) == len(tools) and max(seen) <= MAX_CHILDREN


@pytest.fixture(scope="module")
def many_tracks(tmp_path_factory):
    """An MP4 with 12 H.264 tracks: each gets its own first-packet (SEI) read."""
    folder = tmp_path_factory.mktemp("many")
    one = folder / "one.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-c:v", "libx264",
           "-metadata", "title=secret", one)
    path = folder / "many.mp4"
    ffmpeg("-i", one, *["-map", "0:v"] * 12, "-c", "copy", "-metadata", "title=secret", path)
    return path


def test_a_file_of_many_tracks_is_stripped_with_every_track(many_tracks, tmp_path):
    dst = tmp_path / "out.mp4"
    result = strip_file(many_tracks, dst)
    assert len(result.kept) == 12 and av_hashes(dst) == av_hashes(many_tracks)


def test_the_input_error_comes_first_even_when_the_output_is_empty(many_tracks, tmp_path):
    """The empty output was refused before the input's report was read, so an input cut short was named
    a verification failure; as in turn, the input's refusal comes first."""
    plan = plan_strip(probe_file(many_tracks, LIMITS), many_tracks.read_bytes()[:4096], keep_subtitles=False)
    empty = tmp_path / "out.mp4"
    empty.touch()

    def refused() -> PacketReport:
        raise MalformedInput("truncated: the file holds 0.50 s of the 1.00 s its header declares (50%)")

    with pytest.raises(MalformedInput, match="truncated"):
        verify_output(empty, plan, refused, LIMITS)
    with pytest.raises(VerificationFailed, match="empty file"):  # and with the input fine, the output's
        verify_output(empty, plan, lambda: packet_report(many_tracks, LIMITS), LIMITS)
