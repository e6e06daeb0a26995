"""The container a file really is (from its content, not its name), and the ISO-BMFF metadata boxes
it carries, which ffprobe only partly reports (vendor `udta` children, `uuid` XMP, `meta` keys).
"""
from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from shared.errors import MalformedInput, UnsupportedFormat
from video.probe import ISO_FAMILY, ISO_TOP_LEVEL_BOXES, MATROSKA_FAMILY, SUPPORTED, Probe, not_a_video_image

HEADER_BYTES = 4096  # what is read to find the ftyp brand or the EBML DocType
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_METADATA_BOXES = {"udta", "meta"}
_SKELETON = {"meta", "hdlr", "ilst", "free", "skip"}  # structure and padding around items
_DESCEND_INTO = {"moov", "trak"}  # where udta/meta/uuid live; sample tables hold no tags


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
            return head[payload:payload + 4].decode("latin-1")
        if kind in ("moov", "mdat"):
            break
    return None


def recognises(head: bytes) -> bool:
    """Whether the first HEADER_BYTES of a file are a container this package strips (an MP4/MOV family
    file that is not a HEIF/AVIF image, or Matroska/WebM): decided before the object is fetched whole."""
    if head[4:8] == b"ftyp":
        return not_a_video_image(head[8:12].decode("latin-1")) is None
    return head[4:8] in ISO_TOP_LEVEL_BOXES or matroska_doctype(head) in ("matroska", "webm")


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
                return head[pos:pos + size].rstrip(b"\0").decode("ascii", "replace")
            pos += size
    except IndexError:
        return None
    return None


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
    """(type, payload start, box end) of each box between start and end; stops at a broken size."""
    pos = start
    while pos + 8 <= end:
        stream.seek(pos)
        header = stream.read(16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        header_length = 8
        if size == 1 and len(header) == 16:
            size, header_length = struct.unpack(">Q", header[8:16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header_length or pos + size > end:
            return
        yield kind.decode("latin-1"), pos + header_length, pos + size
        pos += size


def _meta_payload(stream: BinaryIO, start: int) -> int:
    """ISO `meta` is a full box (4 bytes of version/flags before its children); QuickTime's is not."""
    stream.seek(start)
    return start + 4 if stream.read(4) == b"\0\0\0\0" else start


def metadata_items(stream: BinaryIO, size: int) -> list[str]:
    """Every metadata item at the top level, in moov and in its tracks, as a path like "moov/udta/©xyz".

    udta children, meta children (ilst entries one by one) and uuid boxes count; the empty
    udta/meta/hdlr/ilst skeleton that ffmpeg's mp4 muxer always writes yields nothing.
    """
    found: list[str] = []

    def walk(start: int, end: int, path: str, inside: bool) -> None:
        for kind, payload, box_end in _boxes(stream, start, end):
            here = path + (kind if kind.isprintable() else f"key#{int.from_bytes(kind.encode('latin-1'), 'big')}")
            if kind == "uuid" or (inside and kind not in _SKELETON):
                found.append(here)
            elif kind in _METADATA_BOXES or (inside and kind == "ilst"):
                first = _meta_payload(stream, payload) if kind == "meta" else payload
                walk(first, box_end, here + "/", True)
            elif kind in _DESCEND_INTO and not inside:
                walk(payload, box_end, here + "/", False)

    walk(0, size, "", False)
    return found
