"""What a video file holds, as ffprobe reports it: container, streams, tags, chapters.

Every ffmpeg/ffprobe process runs through `run_tool`, which bounds it with a timeout and turns its
failures into typed errors with a one-line reason.
"""
from __future__ import annotations

import functools
import json
import math
import re
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from queue import SimpleQueue
from typing import TypeVar

from shared.boxes import ftyp_brands
from shared.errors import InputTooLarge, MalformedInput, ScrubError, UnsupportedFormat
from shared.routing import ISO_IMAGE_BRANDS

ISO_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
MATROSKA_FAMILY = "matroska,webm"
SUPPORTED = "MP4, MOV, M4V, 3GP, 3G2, Matroska or WebM"
# Input options for every ffmpeg/ffprobe run: only local files, only the two demuxers we write back.
# Without them a playlist (HLS, concat) named .mp4 would make ffprobe open other files or URLs.
INPUT_GUARD = {"protocol_whitelist": "file", "format_whitelist": "mov,matroska"}
INPUT_GUARD_ARGS = [arg for key, value in INPUT_GUARD.items() for arg in (f"-{key}", value)]


@dataclass(frozen=True)
class Stream:
    """One stream of the container, reduced to what stripping and verification look at."""

    index: int
    kind: str  # video, audio, subtitle, data, attachment
    codec: str
    codec_tag: str
    disposition: frozenset[str]
    tags: dict[str, str]
    rotation: float | None
    duration: float | None
    frame_seconds: float | None  # one video frame, for "durations within a frame"
    size: str  # "1920x1080" or "48000 Hz 2 ch"
    extradata: bytes = b""  # codec configuration: avcC/hvcC record, Matroska CodecPrivate
    time_base: Fraction | None = None  # the container's time base for this stream's timestamps
    start: float | None = None  # seconds: where the track starts (an edit list can delay it)

    @property
    def is_picture(self) -> bool:
        """Cover art: ffmpeg calls it a video stream (attached picture); `0:V` leaves it out."""
        return self.kind == "video" and "attached_pic" in self.disposition

    @property
    def real_codec_tag(self) -> str:
        """The FourCC, or "" when the container has none (Matroska shows [0][0][0][0])."""
        return "" if self.codec_tag.strip("[0]") == "" else self.codec_tag

    def describe(self) -> str:
        parts = [f"stream {self.index}: {self.kind} {self.codec or self.real_codec_tag or '?'}", self.size]
        if self.rotation:
            parts.append(f"rotation {self.rotation:g}")
        return " ".join(p for p in parts if p)


STILL_IMAGE_CODECS = {"mjpeg", "png", "bmp", "gif", "tiff", "webp", "jpeg2000", "jpegls", "ljpeg"}


def secondary_stills(streams: tuple[Stream, ...]) -> set[int]:
    """Indexes of video tracks in an image codec that are not the primary video: stills and thumbnails
    that are not flagged as cover art, each frame a JPEG/PNG with its own EXIF. The primary video is the
    first video stream that is not an attached picture, whatever its codec."""
    videos = [s for s in streams if s.kind == "video" and not s.is_picture]
    return {s.index for s in videos[1:] if s.codec in STILL_IMAGE_CODECS}


@dataclass(frozen=True)
class Probe:
    format_name: str
    tags: dict[str, str]
    streams: tuple[Stream, ...]
    chapters: tuple[str, ...]  # one title (or time range) per chapter
    duration: float | None


@dataclass(frozen=True)
class Limits:
    """What each ffmpeg/ffprobe child may use: time (capped by the caller's deadline), address space,
    and the size of any file it writes."""

    timeout: float  # seconds per process (FFMPEG_TIMEOUT)
    memory_bytes: int  # RLIMIT_AS (FFMPEG_MEMORY_MB)
    deadline: float | None = None  # time.monotonic() by which all work must be done, e.g. a Lambda's end

    def seconds(self, what: str) -> float:
        """The time `what` may take now; InputTooLarge when the deadline has passed."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise InputTooLarge(f"no time left to run {what} before the deadline")
        return min(self.timeout, left)


def _limit_child(memory_bytes: int, output_bytes: int | None) -> None:
    """Runs in the child before exec: its own limits, so a bomb fails the child and not this process."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if output_bytes is not None:  # the largest file it may write; beyond it the write fails (SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))


# Children at once: a strip's copy, its input hash and two first-packet reads. Not one per stream: a
# read per H.264 track ran 60 ffmpeg at once (3.3 GB) for 60 tracks in 275 KB
MAX_CHILDREN = 4


@dataclass(frozen=True)
class Tool:
    """One ffmpeg/ffprobe run: its arguments, its name in errors, and the largest file it may write."""

    args: list[str]
    what: str
    output_bytes: int | None = None


@dataclass(frozen=True)
class _Child:
    tool: Tool
    process: subprocess.Popen
    seconds: float  # its timeout
    deadline: float  # time.monotonic() by which it must be done
    memory_bytes: int


def _start(tool: Tool, limits: Limits) -> _Child:
    seconds = limits.seconds(tool.what)
    limit = functools.partial(_limit_child, limits.memory_bytes, tool.output_bytes)
    try:  # run_tools starts its threads only after every child has started (see there)
        process = subprocess.Popen(tool.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=limit)  # noqa: PLW1509
    except FileNotFoundError:
        raise ScrubError(f"{tool.args[0]} is not installed (apt-get install ffmpeg)") from None
    except (OSError, ValueError, subprocess.SubprocessError) as exc:  # e.g. a NUL byte in an argument
        raise ScrubError(f"{tool.what} could not be started: {exc}") from None
    return _Child(tool, process, seconds, time.monotonic() + seconds, limits.memory_bytes)


def _finish(child: _Child) -> subprocess.CompletedProcess:
    """Its output once it exits; InputTooLarge (and killed) when it runs out of time, memory or file size."""
    try:
        stdout, stderr = child.process.communicate(timeout=max(0.0, child.deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        child.process.kill()
        child.process.communicate()
        raise InputTooLarge(f"{child.tool.what} did not finish within {child.seconds:g} s "
                            "(FFMPEG_TIMEOUT or the deadline)") from None
    done = subprocess.CompletedProcess(child.tool.args, child.process.returncode, stdout, stderr)
    if done.returncode == -signal.SIGXFSZ or b"File too large" in done.stderr:
        raise InputTooLarge(f"{child.tool.what}'s output would exceed {child.tool.output_bytes} bytes "
                            "(the input's size plus slack)")
    if done.returncode != 0 and any(sign in done.stderr for sign in _OUT_OF_MEMORY):
        raise InputTooLarge(f"{child.tool.what} needed more than {child.memory_bytes // MiB} MiB of memory (FFMPEG_MEMORY_MB)")
    return done


def run_tools(tools: list[Tool], limits: Limits) -> list[subprocess.CompletedProcess]:
    """Run ffmpeg/ffprobe children at the same time (a strip's independent reads share the cores), at most
    MAX_CHILDREN at once, in the order given, each with no stdin, captured output, a time limit, a memory
    limit and, when given, a cap on the size of the file it writes. Running out of any of them is
    InputTooLarge; the first failure stops the others."""
    return [done for first in range(0, len(tools), MAX_CHILDREN)
            for done in _side_by_side(tools[first:first + MAX_CHILDREN], limits)]


def _side_by_side(tools: list[Tool], limits: Limits) -> list[subprocess.CompletedProcess]:
    children: list[_Child] = []
    try:
        for tool in tools:  # every child starts before any thread does: preexec_fn is not thread-safe
            children.append(_start(tool, limits))
        finished: SimpleQueue[bool] = SimpleQueue()  # one entry per child: whether it failed
        results = [beside(functools.partial(_finish, child), finished) for child in children]
        try:
            for _ in children:
                if finished.get():
                    break
        finally:  # before waiting for the threads, which wait for their children
            _stop(children)
        return [result() for result in results]
    finally:  # a child that could not start: stop those that did
        _stop(children)


_T = TypeVar("_T")


def beside(work: Callable[[], _T], finished: SimpleQueue[bool] | None = None) -> Callable[[], _T]:
    """Start `work` in a thread (Python work beside the children, which run on the other core) and
    return what waits for it: its result, or its exception raised. `finished` hears whether it failed."""
    results: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # noqa: BLE001  # raised to whoever waits for the result
            errors.append(exc)
        if finished is not None:
            finished.put(bool(errors))

    thread = threading.Thread(target=run)
    thread.start()

    def result() -> _T:
        thread.join()
        if errors:
            raise errors[0]
        return results[0]

    return result


def _stop(children: list[_Child]) -> None:
    """Kill and reap what still runs (after a failure: nothing of a failed strip keeps running)."""
    for child in children:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


def run_tool(args: list[str], limits: Limits, what: str, output_bytes: int | None = None) -> subprocess.CompletedProcess:
    """Run one ffmpeg/ffprobe child as run_tools does."""
    return run_tools([Tool(args, what, output_bytes)], limits)[0]


_OUT_OF_MEMORY = (b"Cannot allocate memory", b"failed to map segment", b"std::bad_alloc", b"out of memory")
MiB = 1024 * 1024


IMAGE_BRANDS = {brand.decode() for brand in ISO_IMAGE_BRANDS}
ISO_TOP_LEVEL_BOXES = {b"ftyp", b"mdat", b"moov", b"wide", b"free", b"skip", b"pnot", b"uuid"}
_LOG_PREFIX = re.compile(r"^\[[^\]]+ @ 0x[0-9a-f]+\] ")


def tool_message(stderr: bytes, path: Path, first: bool = False) -> str:
    """One line of ffmpeg's complaint, without log prefixes or the file's path.

    ffprobe's last line is its summary; ffmpeg's first line is usually the cause.
    """
    text = stderr.decode("utf-8", "replace").replace(f"file:{path}: ", "")
    lines = [_LOG_PREFIX.sub("", ln).strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "no message"
    return lines[0] if first else lines[-1]


def not_a_video_image(brand: str) -> UnsupportedFormat | None:
    """The error for an ISO-BMFF image brand (HEIF, AVIF), which has no moov; None for other brands."""
    name = brand.strip()
    return UnsupportedFormat(f"an image (ftyp {name}), not a video") if name in IMAGE_BRANDS else None


def _missing_moov(path: Path) -> ScrubError | None:
    with path.open("rb") as stream:
        head = stream.read(12)
    brands = ftyp_brands(head)
    if brands and (image := not_a_video_image(brands[0].decode("latin-1"))):
        return image
    if head[4:8] in ISO_TOP_LEVEL_BOXES:  # an MP4/MOV indeed, not just a .mp4 name
        return MalformedInput("truncated or unfinished MP4/MOV: no moov box (movie header)")
    return None


def _reading_error(stderr: bytes, path: Path) -> ScrubError:
    text = stderr.decode("utf-8", "replace")
    if "moov atom not found" in text and (error := _missing_moov(path)):
        return error
    if "not on whitelist" in text:
        return UnsupportedFormat(f"not a supported container ({SUPPORTED})")
    if "Invalid data found when processing input" in text:
        return UnsupportedFormat("not a video container ffmpeg recognises")
    if "End of file" in text or "Input/output error" in text:
        return MalformedInput("truncated: the file ends inside its header")
    return MalformedInput(f"ffprobe cannot read it: {tool_message(stderr, path)}")


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if not math.isnan(number) and number >= 0 else None  # NaN and negatives are "unknown"


def _frame_seconds(raw: dict) -> float | None:
    num, _, den = str(raw.get("avg_frame_rate") or raw.get("r_frame_rate") or "0/0").partition("/")
    rate = _number(num) or 0.0
    per = _number(den) or 0.0
    return per / rate if rate and per else None


def _rotation(raw: dict) -> float | None:
    for side_data in raw.get("side_data_list", []):
        if "rotation" in side_data:
            return float(side_data["rotation"])
    rotate = (raw.get("tags") or {}).get("rotate")
    return float(rotate) if rotate not in (None, "") else None


def _size(raw: dict) -> str:
    if raw.get("width"):
        return f"{raw['width']}x{raw.get('height')}"
    if raw.get("sample_rate"):
        return f"{raw['sample_rate']} Hz {raw.get('channels', '?')} ch"
    return ""


def _stream(raw: dict) -> Stream:
    tags = {str(k): str(v) for k, v in (raw.get("tags") or {}).items()}
    return Stream(
        index=int(raw["index"]),
        kind=str(raw.get("codec_type") or "data"),
        codec=str(raw.get("codec_name") or ""),
        codec_tag=str(raw.get("codec_tag_string") or ""),
        disposition=frozenset(k for k, v in (raw.get("disposition") or {}).items() if v),
        tags=tags,
        rotation=_rotation(raw),
        duration=_number(raw.get("duration")),
        frame_seconds=_frame_seconds(raw) if raw.get("codec_type") == "video" else None,
        size=_size(raw),
        extradata=_hexdump_bytes(str(raw.get("extradata") or "")),
        time_base=_time_base(raw.get("time_base")),
        start=_number(raw.get("start_time")),
    )


def _time_base(value: object) -> Fraction | None:
    try:
        base = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return base if base > 0 else None


def _hexdump_bytes(dump: str) -> bytes:
    """The bytes of ffprobe's -show_data hexdump ("00000000: 0164 001f ...  .d.."): 8 groups per line."""
    return b"".join(bytes.fromhex(line[10:49]) for line in dump.splitlines() if line[8:10] == ": ")


def _chapter(raw: dict) -> str:
    title = (raw.get("tags") or {}).get("title")
    return str(title) if title else f"{raw.get('start_time')}-{raw.get('end_time')} s"


def parse_probe(document: dict) -> Probe:
    """The ffprobe JSON (-show_format -show_streams -show_chapters) as a Probe."""
    fmt = document.get("format") or {}
    return Probe(
        format_name=str(fmt.get("format_name") or ""),
        tags={str(k): str(v) for k, v in (fmt.get("tags") or {}).items()},
        streams=tuple(_stream(s) for s in document.get("streams", [])),
        chapters=tuple(_chapter(c) for c in document.get("chapters", [])),
        duration=_number(fmt.get("duration")),
    )


def probe_tool(path: Path) -> Tool:
    """The ffprobe run whose report `read_probe` reads."""
    return Tool(["ffprobe", "-v", "error", "-hide_banner", *INPUT_GUARD_ARGS, "-show_format", "-show_streams",
                 "-show_data", "-show_chapters", "-of", "json", "file:" + str(path)], "ffprobe")


def read_probe(path: Path, done: subprocess.CompletedProcess) -> Probe:
    """The Probe from a finished probe_tool run; unreadable, truncated or non-video input raises a typed error."""
    if done.returncode != 0:
        raise _reading_error(done.stderr, path)
    try:
        return parse_probe(json.loads(done.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedInput(f"ffprobe gave an unreadable report: {exc}") from None


def probe_file(path: Path, limits: Limits) -> Probe:
    """ffprobe `path`; empty, unreadable, truncated or non-video input raises a typed error."""
    if path.stat().st_size == 0:
        raise MalformedInput("empty file (0 bytes)")
    return read_probe(path, run_tools([probe_tool(path)], limits)[0])
