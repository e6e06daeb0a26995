"""GIF: keep the screen descriptor, colour tables and every frame byte-identical, drop metadata blocks.

Kept: the header, logical screen descriptor and global colour table; every graphic control
extension and image (descriptor, local colour table, LZW sub-blocks); the loop count of the looping
application extension (NETSCAPE2.0 / ANIMEXTS1.0), written in its standard form, and the ICC profile
one (ICCRGBG1012, unless KEEP_ICC is off), cut to the size the profile declares. Dropped: comments, plain text, XMP, every other or malformed application
extension, unknown extensions and anything after the trailer.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from images import icc
from images.model import Finding, Options, check_pixels
from images.reencode import PillowFormat, with_pillow
from shared.errors import InputTooLarge, LosslessUnsupported, MalformedInput

NAME = "gif"

EXTENSION, IMAGE, TRAILER = 0x21, 0x2C, 0x3B
GRAPHIC_CONTROL, COMMENT, PLAIN_TEXT, APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_ICC = b"ICCRGBG1012"
_XMP = b"XMP DataXMP"
_APP_ID_SIZE = 11
_LOOPING_SIZE = 19  # 21 FF 0B <id> 03 01 <loop count u16> 00
_GRAPHIC_CONTROL_SIZE = 8  # 21 F9 04 <4 bytes> 00
_SCREEN = 13  # header and logical screen descriptor
_DESCRIPTOR = 10  # image separator and image descriptor
_MAX_BLOCKS = 200_000  # frames and extensions; long animations have thousands


@dataclass(frozen=True)
class Block:
    kind: int  # IMAGE, or the extension's label
    start: int  # offset of the introducer byte (0x21 or 0x2C)
    end: int  # offset just past the block terminator


@dataclass
class Parsed:
    data: bytes  # the file the offsets point into
    screen_end: int  # end of the header, screen descriptor and global colour table
    blocks: list[Block]
    trailer_end: int  # offset just past the 0x3B trailer; bytes beyond it are junk


def sniff(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def _colour_table_size(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0



def parse(data: bytes, options: Options) -> Parsed:
    """Split the stream into blocks; MalformedInput on anything truncated or unknown."""
    if not sniff(data[:6]):
        raise MalformedInput("not a GIF (no GIF87a/GIF89a header)")
    if len(data) < _SCREEN:
        raise MalformedInput("truncated logical screen descriptor")
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    check_pixels(width, height, options.max_pixels, "logical screen")
    pos = screen_end = _SCREEN + _colour_table_size(packed)
    if screen_end > len(data):
        raise MalformedInput("truncated global colour table")
    blocks: list[Block] = []
    while True:
        if pos >= len(data):
            raise MalformedInput("truncated: no GIF trailer (0x3B)")
        introducer = data[pos]
        if introducer == TRAILER:
            break
        if len(blocks) >= _MAX_BLOCKS:
            raise InputTooLarge(f"more than {_MAX_BLOCKS} GIF blocks")
        if introducer == EXTENSION and pos + 1 < len(data):
            blocks.append(Block(data[pos + 1], pos, _sub_blocks_end(data, pos + 2)))
        elif introducer == IMAGE:
            blocks.append(Block(IMAGE, pos, _image_end(data, pos, options.max_pixels)))
        else:
            raise MalformedInput(f"unknown or truncated block 0x{introducer:02X} at offset {pos}")
        pos = blocks[-1].end
    if not any(b.kind == IMAGE for b in blocks):
        raise MalformedInput("no image in the GIF")
    return Parsed(data, screen_end, blocks, pos + 1)


def _sub_blocks_end(data: bytes, pos: int) -> int:
    """Offset just past the zero-length terminator of the sub-block chain starting at `pos`."""
    while True:
        if pos >= len(data):
            raise MalformedInput("truncated: sub-blocks run off the end of the file")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _image_end(data: bytes, pos: int, max_pixels: int | None) -> int:
    if pos + _DESCRIPTOR >= len(data):  # the descriptor and the LZW code size byte
        raise MalformedInput(f"truncated image descriptor at offset {pos}")
    width, height, packed = struct.unpack_from("<HHB", data, pos + 5)
    check_pixels(width, height, max_pixels, "frame")
    return _sub_blocks_end(data, pos + _DESCRIPTOR + _colour_table_size(packed) + 1)


def _app_id(data: bytes, block: Block) -> bytes | None:
    """The 11-byte application identifier, or None when the first sub-block is not 11 bytes long."""
    if data[block.start + 2] != _APP_ID_SIZE:
        return None
    return data[block.start + 3:block.start + 3 + _APP_ID_SIZE]


def _describe(block: Block, data: bytes, options: Options) -> Finding | None:
    """What one block carries; None for the image structure and a standard looping extension."""
    size = block.end - block.start
    if block.kind in (IMAGE, GRAPHIC_CONTROL):
        return None
    if block.kind == COMMENT:
        return Finding("comments", f"comment extension ({size} bytes)")
    if block.kind == PLAIN_TEXT:
        return Finding("comments", f"plain-text extension ({size} bytes)")
    if block.kind != APPLICATION:
        return Finding("other", f"unknown extension 0x{block.kind:02X} ({size} bytes)")
    ident = _app_id(data, block)
    if ident is None:
        return Finding("other", f"malformed application extension at offset {block.start}")
    if ident == _XMP:
        return Finding("xmp", f"XMP application extension ({size} bytes)")
    if ident == _ICC:
        return _describe_icc(data, block, options)
    if ident in _LOOPING:
        return _describe_looping(data, block, ident)
    return Finding("other", f"application extension {ident.decode('latin-1')!r} ({size} bytes)")


def _app_data(data: bytes, block: Block) -> bytes:
    """The data sub-blocks of an application extension, joined (the identifier block left out)."""
    pos, parts = block.start + 3 + _APP_ID_SIZE, []
    while data[pos]:
        parts.append(data[pos + 1:pos + 1 + data[pos]])
        pos += 1 + data[pos]
    return b"".join(parts)


def _loop_count(data: bytes, block: Block) -> int | None:
    """The loop count: the first sub-block of id 1 (browsers look past a buffering sub-block too)."""
    pos = block.start + 3 + _APP_ID_SIZE
    while data[pos]:
        if data[pos] == 3 and data[pos + 1] == 1:
            return int.from_bytes(data[pos + 2:pos + 4], "little")
        pos += 1 + data[pos]
    return None


def _describe_looping(data: bytes, block: Block, ident: bytes) -> Finding | None:
    if block.end - block.start == _LOOPING_SIZE and data[block.start + 14:block.start + 16] == b"\x03\x01":
        return None
    if _loop_count(data, block) is None:
        return Finding("other", f"{ident.decode()} extension without a loop count")
    return Finding("other", f"extra sub-blocks of the {ident.decode()} extension (its loop count is kept)")


def _icc_profile(data: bytes, block: Block) -> bytes | None:
    """The profile, cut to the size its header declares; None when it is shorter than that."""
    profile = _app_data(data, block)
    declared = int.from_bytes(profile[:4], "big")
    return profile[:declared] if len(profile) >= declared >= 4 else None


def _describe_icc(data: bytes, block: Block, options: Options) -> Finding:
    profile = _icc_profile(data, block)
    if profile is None:
        return Finding("other", "ICCRGBG1 extension shorter than the profile it declares")
    extra = len(_app_data(data, block)) - len(profile)
    trailing = f", {extra} bytes after it dropped" if extra else ""
    return Finding("icc", f"ICCRGBG1 colour profile{trailing}", removed=not options.keep_icc)


def _application_block(ident: bytes, payload: bytes) -> bytes:
    """An application extension holding `payload` in sub-blocks of at most 255 bytes."""
    chunks = b"".join(bytes([len(payload[i:i + 255])]) + payload[i:i + 255] for i in range(0, len(payload), 255))
    return bytes([EXTENSION, APPLICATION, _APP_ID_SIZE]) + ident + chunks + b"\x00"


def _kept_bytes(block: Block, data: bytes, options: Options) -> bytes:
    """What the output holds for one block: the block itself, its standard form, or nothing."""
    ident = _app_id(data, block) if block.kind == APPLICATION else None
    if ident in _LOOPING:
        loop = _loop_count(data, block)
        return b"" if ident is None or loop is None else _application_block(ident, b"\x01" + loop.to_bytes(2, "little"))
    if ident == _ICC:  # the declared profile and nothing after it
        profile = _icc_profile(data, block)
        return _application_block(_ICC, profile) if options.keep_icc and profile is not None else b""
    finding = _describe(block, data, options)
    return b"" if finding is not None and finding.removed else data[block.start:block.end]


def inspect(parsed: Parsed, options: Options) -> list[Finding]:
    data = parsed.data
    found = [f for b in parsed.blocks if (f := _describe(b, data, options)) is not None]
    found += [f for b in parsed.blocks if b.kind == APPLICATION and _app_id(data, b) == _ICC
              for f in icc.findings(_icc_profile(data, b) or b"", "ICCRGBG1 colour profile", not options.keep_icc)]
    trailer = data[parsed.trailer_end:]
    if trailer.strip(b"\x00"):
        found.append(Finding("trailer", f"{len(trailer)} bytes after the GIF trailer"))
    return found


def _check_graphic_control(data: bytes, block: Block) -> None:
    if block.end - block.start != _GRAPHIC_CONTROL_SIZE or data[block.start + 2] != 4:
        raise LosslessUnsupported(f"graphic control extension at offset {block.start} is not the standard 4 bytes")


def strip(parsed: Parsed, options: Options) -> bytes:
    data = parsed.data
    out = [data[:parsed.screen_end]]
    for block in parsed.blocks:
        if block.kind == GRAPHIC_CONTROL:
            _check_graphic_control(data, block)
        out.append(_kept_bytes(block, data, options))
    out.append(bytes([TRAILER]))
    return b"".join(out)


def image_data(parsed: Parsed, options: Options) -> list[bytes]:
    """The header and colour table, then every graphic control extension and image block, in order."""
    data = parsed.data
    return [data[:parsed.screen_end]] + [
        data[b.start:b.end] for b in parsed.blocks if b.kind in (IMAGE, GRAPHIC_CONTROL)]


def _encoder_args(im, data: bytes, options: Options) -> dict:
    # Per-frame durations and disposal come from each frame's own info; only the loop count is global.
    return {"comment": b""} | ({"loop": im.info["loop"]} if "loop" in im.info else {})


PILLOW = PillowFormat("GIF", _encoder_args, keeps_orientation_tag=False)


def reencode(data: bytes, options: Options) -> bytes:
    """The fallback: every frame through Pillow, durations and loop count kept."""
    return with_pillow(PILLOW, data, options)
