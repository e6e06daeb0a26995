"""The ISO base media file format's box header (ISO/IEC 14496-12, 4.2): one reading of a box's size,
type, 64-bit size and uuid, shared by the HEIF editor (images/isobmff.py: in memory, strict: a bad
header is an error) and the video survey (video/container.py: from a stream, lenient: a bad header
ends the walk, ffmpeg judges the file). Pure: bytes in, a header out."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from shared.errors import MalformedInput

HEADER_BYTES = 32  # the most a header takes: size, type, 64-bit size, uuid


@dataclass(frozen=True)
class BoxHeader:
    type: str
    length: int  # bytes before the payload
    size: int  # the whole box, header included
    to_end: bool  # declared size 0: the box runs to the end of what encloses it


def four_character_code(raw: bytes, where: str) -> str:
    """A box or item type: four printable characters (a control byte means this is not a box at all)."""
    code = raw.decode("latin-1")
    if not code.isprintable():
        raise MalformedInput(f"{where} has type {raw!r}, not four printable characters")
    return code


def box_header(raw: bytes, room: int, where: str, any_type: bool = False) -> BoxHeader:
    """The header at the start of `raw` (the box's first bytes, up to HEADER_BYTES) of a box with `room`
    bytes left before the end of what encloses it. MalformedInput says what is wrong with it. With
    `any_type`, a type need not be printable: QuickTime `keys` metadata names its ilst entries by
    number (0x00000001...)."""
    if room < 8 or len(raw) < 8:
        raise MalformedInput(f"{min(room, len(raw))} stray bytes at the end of {where}")
    size, kind = struct.unpack_from(">I4s", raw)
    box_type = kind.decode("latin-1") if any_type else four_character_code(kind, f"box in {where}")
    length = 8
    if size == 1:
        if room < 16 or len(raw) < 16:
            raise MalformedInput(f"'{box_type}' box in {where} is truncated")
        size, length = struct.unpack_from(">Q", raw, 8)[0], 16
    if box_type == "uuid":
        length += 16
    to_end = size == 0
    size = room if to_end else size
    if size < length:
        raise MalformedInput(f"'{box_type}' box in {where} declares {size} bytes, less than its header")
    if size > room:
        raise MalformedInput(f"'{box_type}' box in {where} runs {size - room} bytes past its end")
    return BoxHeader(box_type, length, size, to_end)


def ftyp_brands(head: bytes) -> tuple[bytes, list[bytes]] | None:
    """(major brand, compatible brands) of a file that starts with an ftyp box; None for one that does not."""
    if head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    return head[8:12], [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
