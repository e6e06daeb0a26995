"""Fail-closed checks of a stripped video before anyone sees it.

The output must probe cleanly as the same container and brand, hold exactly the kept streams
(same codecs, rotation, durations within a frame, identical packets by ffmpeg's framehash: the same
bytes at the same dts and pts, so edit lists, codec delay and B-frame order are kept)
and nothing else: no tag beyond structure, no chapter, no metadata box, no data or picture track.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

from shared.errors import ScrubError, VerificationFailed
from video import classify
from video.codecdata import cleaned_xiph
from video.container import HEADER_BYTES, choose_container, metadata_items
from video.plan import Plan
from video.probe import INPUT_GUARD_ARGS, Limits, Probe, Stream, probe_file, run_tool, tool_message

HASH = "murmur3"  # framehash's per-packet digest: a fast 128-bit hash (SHA-256 cost most of a strip's CPU)
EMPTY_STREAM_HASH = hashlib.sha256(b"").hexdigest()  # what a stream with no packets digests to
_AUDIO_FRAME_SECONDS = 0.13  # the longest common audio frame: 1024 AAC samples at 8 kHz
HASH_ARGS = ["-copyts", "-f", "framehash", "-hash", HASH]  # -copyts: timestamps as the demuxer reads them


def _parse_report(report: bytes) -> tuple[dict[int, tuple[int, int]], list[list[str]]]:
    """A framehash report's time base per stream (numerator, denominator) and its packet rows, split."""
    time_bases: dict[int, tuple[int, int]] = {}
    rows = []
    for line in report.decode("ascii").splitlines():
        if line.startswith("#tb "):
            index, _, tb = line[4:].partition(":")
            num, _, den = tb.partition("/")
            time_bases[int(index)] = (int(num), int(den or 1))
        elif line and not line.startswith("#"):
            rows.append(line.split(","))
    if any(den <= 0 for _, den in time_bases.values()):
        raise ValueError("time base with no denominator")
    return time_bases, rows


def _exact(ticks: int, base: tuple[int, int]) -> str:
    """ticks x time base as a reduced fraction: the same instant reads the same whatever the time base
    (integer gcd: Fraction cost more than ffmpeg's whole hashing pass)."""
    num, den = ticks * base[0], base[1]
    common = math.gcd(num, den)
    return f"{num // common}/{den // common}"


def packet_digests(report: bytes) -> list[str]:
    """One digest per stream over every packet's dts, pts (as exact times, whatever the time base), size
    and data hash, from ffmpeg's framehash report; durations and side data are left out."""
    records: dict[int, list[str]] = {}
    try:
        time_bases, rows = _parse_report(report)
        for index, dts, pts, _, size, digest, *_ in rows:
            base = time_bases[int(index)]
            records.setdefault(int(index), []).append(
                f"{_exact(int(dts), base)},{_exact(int(pts), base)},{size.strip()},{digest.strip()}\n")
    except (ValueError, KeyError, UnicodeDecodeError):
        raise VerificationFailed("ffmpeg's packet report is unreadable") from None
    return [hashlib.sha256("".join(records[i]).encode()).hexdigest() if i in records else EMPTY_STREAM_HASH
            for i in range(len(time_bases))]


def held_seconds(report: bytes) -> float:
    """How far the packets of a framehash report reach: the latest pts + duration, in seconds."""
    time_bases, rows = _parse_report(report)
    last: dict[int, int] = {}
    for index, _, pts, duration, *_ in rows:
        last[int(index)] = max(last.get(int(index), 0), int(pts) + int(duration))
    return max((ticks * time_bases[index][0] / time_bases[index][1] for index, ticks in last.items()), default=0.0)


def stream_hashes(path: Path, limits: Limits, filters: dict[str, str] | None = None) -> list[str]:
    """A digest of every stream's packets (timestamps and data), without decoding, after `filters`
    (`{"bsf:N": filter}`)."""
    bsf_args = [arg for key, value in (filters or {}).items() for arg in (f"-{key}", value)]
    done = run_tool(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *INPUT_GUARD_ARGS, "-i", "file:" + str(path),
                     "-map", "0", "-c", "copy", *bsf_args, *HASH_ARGS, "-"], limits, "ffmpeg")
    if done.returncode != 0:
        raise VerificationFailed(f"output streams cannot be read back: {tool_message(done.stderr, path, first=True)}")
    return packet_digests(done.stdout)


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
        with path.open("rb") as stream:
            left += [f"box {box}" for box in metadata_items(stream, path.stat().st_size)]
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


def verify_output(path: Path, plan: Plan, input_hashes: list[str], limits: Limits,
                  filters: dict[str, str] | None = None) -> None:
    """Raise VerificationFailed unless `path` is a clean, faithful stream copy of the planned streams."""
    try:
        out = probe_file(path, limits)
    except ScrubError as exc:
        raise VerificationFailed(f"output does not probe: {exc.reason}") from None
    _check_container(path, plan, out)
    _check_streams(plan, out)
    _check_clean(path, plan, out)
    if len(input_hashes) != len(plan.kept):
        raise VerificationFailed(f"hashed {len(input_hashes)} input streams, expected {len(plan.kept)}")
    if stream_hashes(path, limits, filters) != input_hashes:
        raise VerificationFailed("packet data differs between input and output streams (bytes or timestamps)")
