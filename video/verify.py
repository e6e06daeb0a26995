"""Fail-closed checks of a stripped video before anyone sees it.

The output must probe cleanly as the same container and brand, hold exactly the kept streams
(same codecs, rotation, durations within a frame, identical packets by ffmpeg's framehash: the same
bytes at the same dts and pts, so edit lists, codec delay and B-frame order are kept)
and nothing else: no tag beyond structure, no chapter, no metadata box, no data or picture track.
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from shared.errors import ScrubError, VerificationFailed
from video import classify
from video.codecdata import cleaned_xiph
from video.container import HEADER_BYTES, choose_container, metadata_items, unboxed_tail
from video.plan import Plan
from video.probe import (
    INPUT_GUARD_ARGS,
    Limits,
    Probe,
    Stream,
    Tool,
    beside,
    probe_tool,
    read_probe,
    run_tools,
    tool_message,
)

HASH = "murmur3"  # framehash's per-packet digest: a fast 128-bit hash (SHA-256 cost most of a strip's CPU)
_AUDIO_FRAME_SECONDS = 0.13  # the longest common audio frame: 1024 AAC samples at 8 kHz
# The report's output options, the same for the input's hash (video/strip.py) and the output's;
# -flush_packets 0: the report in 32 KiB writes, not a write (and a wake-up of this process) per packet.
# Both runs add the global -copyts (timestamps as the demuxer reads them).
HASH_OUTPUT = {"f": "framehash", "hash": HASH, "flush_packets": "0"}
_HASH_ARGS = ["-copyts", *(arg for option, value in HASH_OUTPUT.items() for arg in (f"-{option}", value))]
# One packet: stream, "dts, pts", duration, "size, hash" (side data may follow). Equal values are
# written as equal text (fixed-width fields), so packets in the same time base compare as text.
_ROW = re.compile(rb"^(\d+),( *-?\d+, *-?\d+), *(-?\d+),( *\d+, *[0-9a-f]+)(?:,.*)?$", re.MULTILINE)
_TIME_BASE = re.compile(rb"^#tb (\d+): (\d+)/(\d+)$", re.MULTILINE)


_Packet = tuple[bytes, bytes, bytes, bytes]  # stream, "dts, pts", duration, "size, hash": as written


@dataclass(frozen=True)
class PacketReport:
    """ffmpeg's framehash report per stream: its time base and its packets in order."""

    time_bases: tuple[tuple[int, int], ...]  # (numerator, denominator), by stream index
    packets: tuple[list[_Packet], ...]

    @classmethod
    def parse(cls, report: bytes) -> PacketReport:
        """Every line after the header must be a packet row; anything else is VerificationFailed."""
        header, body = _split_header(report)
        bases = {int(index): (int(num), int(den)) for index, num, den in _TIME_BASE.findall(header)}
        if sorted(bases) != list(range(len(bases))) or any(den == 0 for _, den in bases.values()):
            raise VerificationFailed("ffmpeg's packet report is unreadable (time bases)")
        rows = _ROW.findall(body)
        if len(rows) != body.count(b"\n") + (not body.endswith(b"\n") and bool(body)):
            raise VerificationFailed("ffmpeg's packet report is unreadable (a line is not a packet)")
        rows.sort(key=itemgetter(0))  # stable: each stream's packets together, in their order
        by_stream = {int(index): list(packets) for index, packets in groupby(rows, itemgetter(0))}
        if not by_stream.keys() <= bases.keys():
            raise VerificationFailed("ffmpeg's packet report is unreadable (a packet of no stream)")
        return cls(tuple(bases[i] for i in range(len(bases))), tuple(by_stream.get(i, []) for i in range(len(bases))))

    def held_seconds(self) -> float:
        """How far the packets reach: the latest pts + duration, in seconds."""
        ends = (max(int(times.rpartition(b",")[2]) + int(duration) for _, times, duration, _ in packets) * num / den
                for (num, den), packets in zip(self.time_bases, self.packets) if packets)
        return max(ends, default=0.0)

    def difference(self, output: PacketReport) -> str | None:
        """The first packet of `output` that is not this report's (bytes, or dts/pts as instants,
        whatever each side's time base), or None; durations and side data are left out."""
        if len(output.packets) != len(self.packets):
            return f"{len(self.packets)} streams became {len(output.packets)}"
        for index, (before, after) in enumerate(zip(self.packets, output.packets)):
            if len(before) != len(after):
                return f"stream {index}: {len(before)} packets became {len(after)}"
            if before == after and self.time_bases[index] == output.time_bases[index]:
                continue  # the usual case, at the speed of a list comparison
            scale = (self.time_bases[index][0] * output.time_bases[index][1],
                     output.time_bases[index][0] * self.time_bases[index][1])
            for number, ((_, times, _, data), (_, times_out, _, data_out)) in enumerate(zip(before, after)):
                if data.split() != data_out.split():
                    return f"stream {index} packet {number}: size and hash {_text(data)} became {_text(data_out)}"
                if [int(t) * scale[0] for t in times.split(b",")] != [int(t) * scale[1] for t in times_out.split(b",")]:
                    return f"stream {index} packet {number}: timestamps (dts, pts) {_text(times)} became {_text(times_out)}"
        return None


def _split_header(report: bytes) -> tuple[bytes, bytes]:
    """The report's "#" lines, which all come first, and its packet rows."""
    last = report.rfind(b"\n#") + 1  # 0: the first line is the only header line, or there is none
    if not last and not report.startswith(b"#"):
        return b"", report
    end = report.find(b"\n", last)
    return (report, b"") if end < 0 else (report[:end + 1], report[end + 1:])


def _text(field: bytes) -> str:
    return " ".join(field.decode("ascii").split())


def packet_tool(path: Path, filters: dict[str, str] | None = None) -> Tool:
    """The ffmpeg run that reports every stream's packets (timestamps and data hashes), without decoding,
    after `filters` (`{"bsf:N": filter}`)."""
    bsf_args = [arg for key, value in (filters or {}).items() for arg in (f"-{key}", value)]
    return Tool(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *INPUT_GUARD_ARGS, "-i", "file:" + str(path),
                 "-map", "0", "-c", "copy", *bsf_args, *_HASH_ARGS, "-"], "ffmpeg")


def read_packets(path: Path, done: subprocess.CompletedProcess) -> PacketReport:
    if done.returncode != 0:
        raise VerificationFailed(f"output streams cannot be read back: {tool_message(done.stderr, path, first=True)}")
    return PacketReport.parse(done.stdout)


def packet_report(path: Path, limits: Limits, filters: dict[str, str] | None = None) -> PacketReport:
    """Every stream's packets of `path` (see packet_tool)."""
    return read_packets(path, run_tools([packet_tool(path, filters)], limits)[0])


def _same_stream(before: Stream, after: Stream) -> str | None:
    """Why `after` is not a faithful copy of `before`, or None."""
    if (before.kind, before.codec, before.size) != (after.kind, after.codec, after.size):
        return f"{before.describe()} came out as {after.describe()}"
    if (before.rotation or 0) != (after.rotation or 0):
        return f"{before.describe()}: rotation {before.rotation or 0:g} became {after.rotation or 0:g}"
    tolerance = before.frame_seconds or _AUDIO_FRAME_SECONDS
    if before.duration is not None and after.duration is not None and abs(before.duration - after.duration) > tolerance:
        return f"{before.describe()}: duration {before.duration:.3f} s became {after.duration:.3f} s"
    return None


def _leftovers(probe: Probe) -> list[str]:
    """Every tag, chapter or non-kept track that the output still carries."""
    left = [f"tag {k}" for k, v in probe.tags.items() if not classify.is_structural(k, v, stream=False)]
    for stream in probe.streams:
        left += [f"stream {stream.index} tag {k}" for k, v in stream.tags.items()
                 if not classify.is_structural(k, v, stream=True)]
        if stream.kind not in ("video", "audio", "subtitle") or stream.is_picture:
            left.append(f"{stream.describe()} track")
    return left + [f"chapter {title}" for title in probe.chapters]


def _check_streams(plan: Plan, out: Probe) -> None:
    if len(out.streams) != len(plan.kept):
        raise VerificationFailed(f"output has {len(out.streams)} streams, expected {len(plan.kept)}")
    for before, after in zip(plan.kept, out.streams):
        if problem := _same_stream(before, after):
            raise VerificationFailed(problem)
        if before.codec in ("vorbis", "theora") and after.extradata != (cleaned_xiph(before) or before.extradata):
            raise VerificationFailed(f"{after.describe()}: its headers are not the input's with an empty comment")


def _check_clean(path: Path, plan: Plan, out: Probe) -> None:
    left = _leftovers(out)
    if plan.container.is_iso:
        size = path.stat().st_size
        with path.open("rb") as stream:
            left += [f"box {box}" for box in metadata_items(stream, size)]
            if tail := unboxed_tail(stream, size):
                left.append(f"{tail} bytes after its last box")
    if left:
        raise VerificationFailed("output still carries " + ", ".join(left[:6]))


def _check_container(path: Path, plan: Plan, out: Probe) -> None:
    with path.open("rb") as stream:
        head = stream.read(HEADER_BYTES)
    try:
        written = choose_container(out, head)
    except ScrubError as exc:
        raise VerificationFailed(f"output container unreadable: {exc.reason}") from None
    if written.format != plan.container.format or (plan.container.brand or written.brand) != written.brand:
        raise VerificationFailed(f"container changed from {plan.container} to {written}")


def verify_output(path: Path, plan: Plan, expected: Callable[[], PacketReport], limits: Limits,
                  filters: dict[str, str] | None = None) -> None:
    """Raise VerificationFailed unless `path` is a clean, faithful stream copy of the planned streams,
    whose packets `expected` reports (it runs in a thread while the output is probed and its packets
    read, two children at the same time; its errors come first, as the input's)."""
    expecting = beside(expected)
    try:
        if path.stat().st_size == 0:
            raise VerificationFailed("output does not probe: empty file (0 bytes)")
        probed, packets = run_tools([probe_tool(path), packet_tool(path, filters)], limits)
    finally:
        report = expecting()
    try:
        out = read_probe(path, probed)
    except ScrubError as exc:
        raise VerificationFailed(f"output does not probe: {exc.reason}") from None
    _check_container(path, plan, out)
    _check_streams(plan, out)
    _check_clean(path, plan, out)
    if len(report.packets) != len(plan.kept):
        raise VerificationFailed(f"hashed {len(report.packets)} input streams, expected {len(plan.kept)}")
    if difference := report.difference(read_packets(path, packets)):
        raise VerificationFailed(f"packet data differs between input and output: {difference}")
