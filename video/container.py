"""The container a file really is (from its content, not its name), and the ISO-BMFF metadata boxes
it carries, which ffprobe only partly reports (vendor `udta` children, `uuid` XMP, `meta` keys).
"""
from __future__ import annotations

import array
import io
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from shared.boxes import HEADER_BYTES as BOX_HEADER_BYTES
from shared.boxes import box_header, ftyp_brands
from shared.errors import InputTooLarge, MalformedInput, UnsupportedFormat
from video.probe import ISO_FAMILY, ISO_TOP_LEVEL_BOXES, MATROSKA_FAMILY, SUPPORTED, Probe, not_a_video_image

HEADER_BYTES = 4096  # what is read to find the ftyp brand or the EBML DocType
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_EBML_VOID = b"\xec"
_CODEC_PRIVATE = b"\x63\xa2"
_TRACKS_WINDOW = 4 << 20  # ffmpeg writes Tracks within its first few KiB; Xiph setup headers are < 64 KiB
_METADATA_BOXES = {"udta", "meta"}
_SKELETON = {"meta", "hdlr", "ilst", "free", "skip"}  # structure and padding around items
# Where udta/meta/uuid and the sample tables (stsz, stz2, stts; trun in fragments) live.
_DESCEND_INTO = {"moov", "trak", "mdia", "minf", "stbl", "moof", "traf"}
MAX_BOXES = 200_000  # a long fragmented recording has tens of thousands; 2 million empty udta is a flood
MAX_DEPTH = 32  # real files nest about 8 deep
MAX_ITEMS = 64  # metadata items listed; the rest are counted
SAMPLE_SLACK_BYTES = 4096
_CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class Container:
    format: str  # what it is called in results: mp4, mov, m4v, 3gp, 3g2, matroska, webm
    muxer: str  # ffmpeg's -f
    brand: str | None  # ISO major brand to write back (-brand); None lets the muxer choose

    @property
    def is_iso(self) -> bool:
        return self.muxer in ("mp4", "mov", "ipod", "3gp", "3g2")


def major_brand(head: bytes) -> str | None:
    """The ftyp major brand among the top-level boxes at the start of the file; None without ftyp.

    Read from the bytes, not from ffprobe's tags, which a `keys` entry named major_brand overrides.
    """
    for kind, payload, _ in _boxes(io.BytesIO(head), 0, len(head)):
        if kind == "ftyp":
            return _brand(head[payload:payload + 4])
        if kind in ("moov", "mdat"):
            break
    return None


def recognises(head: bytes) -> bool:
    """Whether the first HEADER_BYTES of a file are a container this package strips (an MP4/MOV family
    file that is not a HEIF/AVIF image, or Matroska/WebM): decided before the object is fetched whole."""
    if brands := ftyp_brands(head):
        return not_a_video_image(brands[0].decode("latin-1")) is None
    return head[4:8] in ISO_TOP_LEVEL_BOXES or matroska_doctype(head) in ("matroska", "webm")


def _brand(raw: bytes) -> str:
    """A brand is four printable ASCII characters; anything else (NUL bytes, UTF-8) cannot be written back."""
    if len(raw) != 4 or not all(0x20 <= byte < 0x7F for byte in raw):
        raise MalformedInput(f"ftyp major brand {raw!r} is not four printable ASCII characters")
    return raw.decode("ascii")


def _iso_container(brand: str | None) -> Container:
    name = (brand or "").strip()
    if name in ("", "qt"):  # QuickTime, with or without an ftyp box
        return Container("mov", "mov", brand)
    if image := not_a_video_image(name):
        raise image
    if name in ("mj2", "mjp2"):
        raise UnsupportedFormat("Motion JPEG 2000 cannot be written back by ffmpeg")
    if name.startswith("3g2"):
        return Container("3g2", "3g2", brand)
    if name.startswith("3g"):
        return Container("3gp", "3gp", brand)
    if name.startswith(("M4V", "M4A", "M4B", "M4P")):
        return Container("m4v", "ipod", brand)
    return Container("mp4", "mp4", brand)


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at `pos`: (value, position after it)."""
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8:
        raise IndexError("invalid EBML length")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1:pos + length]:
        value = value << 8 | byte
    if pos + length > len(data):
        raise IndexError("EBML element cut short")
    return value, pos + length


def matroska_doctype(head: bytes) -> str | None:
    """DocType ("matroska", "webm") from the EBML header at the start of the file."""
    if not head.startswith(_EBML_MAGIC):
        return None
    try:
        size, pos = _vint(head, 4, keep_marker=False)
        end = min(len(head), pos + size)
        while pos < end:
            element, pos = _vint(head, pos, keep_marker=True)
            size, pos = _vint(head, pos, keep_marker=False)
            if element == _EBML_DOCTYPE:
                return head[pos:pos + size].rstrip(b"\0").decode("ascii", "backslashreplace")
            pos += size
    except IndexError:
        return None
    return None


def _ebml_size(value: int, width: int) -> bytes:
    """`value` as an EBML size of exactly `width` bytes (1..8)."""
    if width > 8 or value >= (1 << (7 * width)) - 1:
        raise ValueError("EBML size does not fit")
    return (value | 1 << (7 * width)).to_bytes(width, "big")


def _same_length_element(element_id: bytes, payload: bytes, length: int) -> bytes:
    """`element_id` holding `payload`, padded with an EBML Void element to exactly `length` bytes."""
    for width in range(1, 9):
        try:
            element = element_id + _ebml_size(len(payload), width) + payload
        except ValueError:
            continue
        pad = length - len(element)
        if pad == 0:
            return element
        void_width = 1 if pad - 2 < 127 else 8
        if pad - 1 - void_width >= 0:
            return element + _EBML_VOID + _ebml_size(pad - 1 - void_width, void_width) + b"\0" * (pad - 1 - void_width)
    raise ValueError("the new element does not fit")


def replace_codec_private(stream: BinaryIO, old: bytes, new: bytes) -> None:
    """Rewrite, in place, the Matroska CodecPrivate element that holds `old` so that it holds the
    shorter `new`, padded with a Void element: no other byte of the file moves.

    Looked for in the header that ffmpeg's muxer writes before the first cluster (Tracks comes first).
    """
    stream.seek(0)
    head = stream.read(_TRACKS_WINDOW)
    pos = head.find(_CODEC_PRIVATE)
    while pos >= 0:
        try:
            size, payload = _vint(head, pos + len(_CODEC_PRIVATE), keep_marker=False)
        except IndexError:
            break
        if size == len(old) and head[payload:payload + size] == old:
            stream.seek(pos)
            stream.write(_same_length_element(_CODEC_PRIVATE, new, payload + size - pos))
            return
        pos = head.find(_CODEC_PRIVATE, pos + 1)
    raise MalformedInput("the written Matroska file has no CodecPrivate to clean")


def choose_container(probe: Probe, head: bytes) -> Container:
    """The muxer that writes the same container and brand back, decided from content only."""
    if probe.format_name == ISO_FAMILY:
        return _iso_container(major_brand(head))
    if probe.format_name == MATROSKA_FAMILY:
        doctype = matroska_doctype(head)
        if doctype in ("matroska", "webm"):
            return Container(doctype, doctype, None)
        raise MalformedInput(f"Matroska file with an unreadable EBML DocType ({doctype!r})")
    raise UnsupportedFormat(f"{probe.format_name or 'unknown'} is not a supported container ({SUPPORTED})")


def _boxes(stream: BinaryIO, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, box end) of each box between start and end; stops at a broken header (ffmpeg,
    which reads the file next, judges it)."""
    pos = start
    while pos < end:
        stream.seek(pos)
        try:
            header = box_header(stream.read(BOX_HEADER_BYTES), end - pos, "the file", any_type=True)
        except MalformedInput:
            return
        yield header.type, pos + header.length, pos + header.size
        pos += header.size


def unboxed_tail(stream: BinaryIO, size: int) -> int:
    """How many bytes at the end of the file no complete top-level box covers: ffmpeg's ISO muxers end
    every file with a box, so any tail is something else's (say, a longer file's stale bytes)."""
    end = 0
    for _, _, end in _boxes(stream, 0, size):
        pass
    return size - end


def moov_room(stream: BinaryIO, size: int) -> tuple[int, int] | None:
    """(the moov box's size, its size plus the free/skip boxes right after it: the room a file written
    with a reserved moov holds), from the top-level boxes; None when there is no moov. An empty 8-byte
    free box is not room: ffmpeg writes one before every mdat, for a 64-bit size."""
    pos, moov_start, found = 0, 0, None
    for kind, _, end in _boxes(stream, 0, size):
        if found is None and kind == "moov":
            moov_start, found = pos, (end - pos, end - pos)
        elif found is not None:
            if kind not in ("free", "skip"):
                break
            if end - pos > 8:
                found = (found[0], end - moov_start)
        pos = end
    return found


def _meta_payload(stream: BinaryIO, start: int) -> int:
    """ISO `meta` is a full box (4 bytes of version/flags before its children); QuickTime's is not."""
    stream.seek(start)
    return start + 4 if stream.read(4) == b"\0\0\0\0" else start


@dataclass(frozen=True)
class Samples:
    """What sample tables declare: sizes (stsz, stz2, trun) and timing entries (stts) are counted apart."""

    sized: int = 0
    bytes: int = 0  # the bytes the sized samples reference; overlapping references count each time
    timed: int = 0

    def __add__(self, other: Samples) -> Samples:
        return Samples(self.sized + other.sized, self.bytes + other.bytes, self.timed + other.timed)


@dataclass
class BoxSurvey:
    """What one walk of an ISO-BMFF file's boxes found: metadata items and what its sample tables declare."""

    items: list[str] = field(default_factory=list)  # the first MAX_ITEMS metadata items, as paths
    more_items: int = 0  # items beyond those listed
    samples: Samples = field(default_factory=lambda: Samples())  # declared by all sample tables and fragments
    boxes: int = 0

    def listed_items(self) -> list[str]:
        return self.items + ([f"... and {self.more_items} more"] if self.more_items else [])

    def add_item(self, path: str) -> None:
        if len(self.items) < MAX_ITEMS:
            self.items.append(path)
        else:
            self.more_items += 1


def _label(kind: str) -> str:
    return kind if kind.isprintable() else f"key#{int.from_bytes(kind.encode('latin-1'), 'big')}"


def survey_boxes(stream: BinaryIO, size: int) -> BoxSurvey:
    """Walk the boxes where metadata and sample tables live, iteratively, by seeking (memory bounded by
    MAX_ITEMS, not by the file's box count).

    Metadata items: udta children, meta children (ilst entries one by one) and uuid boxes, as paths
    like "moov/udta/©xyz"; the empty udta/meta/hdlr/ilst skeleton ffmpeg's mp4 muxer writes yields
    nothing. Raises InputTooLarge beyond MAX_BOXES boxes, MalformedInput beyond MAX_DEPTH levels.
    """
    survey = BoxSurvey()
    levels = [(_boxes(stream, 0, size), "", False)]  # an explicit stack: one box iterator per open level
    while levels:
        boxes, path, inside = levels[-1]
        box = next(boxes, None)
        if box is None:
            levels.pop()
            continue
        kind, payload, box_end = box
        survey.boxes += 1
        if survey.boxes > MAX_BOXES:
            raise InputTooLarge(f"more than {MAX_BOXES} boxes (a box flood)")
        here = path + _label(kind)
        opens = None
        if kind == "uuid" or (inside and kind not in _SKELETON):
            survey.add_item(here)
        elif kind in _METADATA_BOXES or (inside and kind == "ilst"):
            opens = (_meta_payload(stream, payload) if kind == "meta" else payload, True)
        elif kind in _DESCEND_INTO and not inside:
            opens = (payload, False)
        elif kind in _SAMPLE_COUNTERS and not inside:
            survey.samples += _SAMPLE_COUNTERS[kind](stream, payload, box_end)
        if opens:
            if len(levels) >= MAX_DEPTH:
                raise MalformedInput(f"boxes nested more than {MAX_DEPTH} deep ({here[:40]}...)")
            levels.append((_boxes(stream, opens[0], box_end), here + "/", opens[1]))
    return survey


def survey_iso_boxes(stream: BinaryIO, size: int, head: bytes) -> BoxSurvey | None:
    """The box survey of anything not Matroska (a non-box file stops at its first "box"), with its
    sample tables checked against the file's size; None for Matroska."""
    if head.startswith(_EBML_MAGIC):
        return None
    survey = survey_boxes(stream, size)
    check_sample_tables(survey, size)
    return survey


def metadata_items(stream: BinaryIO, size: int) -> list[str]:
    """Every metadata item at the top level, in moov and in its tracks (see survey_boxes), capped."""
    return survey_boxes(stream, size).listed_items()


def check_sample_tables(survey: BoxSurvey, file_size: int) -> None:
    """Refuse sample tables that declare more than the file holds, before ffprobe/ffmpeg index them:
    more sample bytes than the file has is MalformedInput, more samples than bytes InputTooLarge.

    Samples that all point at the same bytes made a 3 MB file a 4.47 GB "copy"; 85 million declared
    samples in 12.5 KB made ffprobe allocate 6 GB. Real samples are disjoint byte ranges of the file.
    """
    declared = survey.samples
    if declared.bytes > file_size + SAMPLE_SLACK_BYTES:
        raise MalformedInput(f"sample tables reference {declared.bytes} bytes, more than the file's {file_size} "
                             "(overlapping samples, an amplification bomb, or a truncated file)")
    if max(declared.sized, declared.timed) > file_size + SAMPLE_SLACK_BYTES:
        raise InputTooLarge(f"sample tables declare {max(declared.sized, declared.timed)} samples in a file "
                            f"of {file_size} bytes (at most one per byte)")


def _sum_fields(stream: BinaryIO, start: int, count: int, stride: int, offset: int = 0, width: int = 4) -> int:
    """Sum of `count` big-endian unsigned fields (`width` 1, 2 or 4 bytes, at `offset` in records of
    `stride` bytes) from `start`, read in bounded chunks."""
    code = {1: "B", 2: "H", 4: "I"}[width]
    per_chunk = max(1, _CHUNK_BYTES // stride)
    total = 0
    for first in range(0, count, per_chunk):
        stream.seek(start + first * stride)
        chunk = stream.read(min(per_chunk, count - first) * stride)
        values = array.array(code, chunk[:len(chunk) // stride * stride])
        if sys.byteorder == "little":
            values.byteswap()
        total += sum(values[offset // width::stride // width])
    return total


def _full_box_fields(stream: BinaryIO, payload: int, count: int) -> tuple[int, ...]:
    """The version/flags word and the `count` 32-bit fields after it; zeros where the box is too short."""
    stream.seek(payload)
    raw = stream.read(4 * (count + 1)).ljust(4 * (count + 1), b"\0")
    return struct.unpack(f">{count + 1}I", raw)


def _stored(count: int, start: int, end: int, stride: int) -> int:
    """How many of `count` records of `stride` bytes the box really holds."""
    return min(count, max(0, end - start) // stride)


def _stsz(stream: BinaryIO, payload: int, end: int) -> Samples:
    _, constant, count = _full_box_fields(stream, payload, 2)
    if constant:
        return Samples(count, constant * count)
    return Samples(count, _sum_fields(stream, payload + 12, _stored(count, payload + 12, end, 4), 4))


def _stz2(stream: BinaryIO, payload: int, end: int) -> Samples:
    _, field_size, count = _full_box_fields(stream, payload, 2)
    width = field_size & 0xFF
    if width == 4:  # two sizes per byte
        return Samples(count, _nibble_sum(stream, payload + 12, _stored((count + 1) // 2, payload + 12, end, 1)))
    if width in (8, 16):
        step = width // 8
        return Samples(count, _sum_fields(stream, payload + 12, _stored(count, payload + 12, end, step), step,
                                          width=step))
    return Samples(count, 0)


def _nibble_sum(stream: BinaryIO, start: int, count: int) -> int:
    total = 0
    for first in range(0, count, _CHUNK_BYTES):
        stream.seek(start + first)
        total += sum((b >> 4) + (b & 15) for b in stream.read(min(_CHUNK_BYTES, count - first)))
    return total


def _stts(stream: BinaryIO, payload: int, end: int) -> Samples:
    """Timing entries (count, delta): ffmpeg allocates from these counts too."""
    _, entries = _full_box_fields(stream, payload, 1)
    return Samples(timed=_sum_fields(stream, payload + 8, _stored(entries, payload + 8, end, 8), 8))


_TRUN_OPTIONAL = ((0x001, 4), (0x004, 4))  # data offset, first sample flags: before the records
_TRUN_RECORD = ((0x100, 4), (0x200, 4), (0x400, 4), (0x800, 4))  # duration, size, flags, composition offset


def _trun(stream: BinaryIO, payload: int, end: int) -> Samples:
    """A track fragment run. Without per-sample sizes each sample counts one byte (tfhd/trex defaults
    are not followed: the output cap on ffmpeg stops what this underestimates)."""
    flags_word, count = _full_box_fields(stream, payload, 1)
    flags = flags_word & 0xFFFFFF
    if not flags & 0x200:
        return Samples(count, count)
    records = payload + 8 + sum(width for bit, width in _TRUN_OPTIONAL if flags & bit)
    stride = sum(width for bit, width in _TRUN_RECORD if flags & bit)
    offset = 4 if flags & 0x100 else 0
    return Samples(count, _sum_fields(stream, records, _stored(count, records, end, stride), stride, offset))


_SAMPLE_COUNTERS = {"stsz": _stsz, "stz2": _stz2, "stts": _stts, "trun": _trun}
