"""WebP: keep the image chunks byte-identical, drop metadata chunks, and rewrite VP8X and the RIFF size.

Kept: VP8X (flags recomputed), VP8, VP8L, ALPH, ANIM, ANMF (every frame; only its ALPH/VP8/VP8L
sub-chunks), ICCP (unless KEEP_ICC is off). Dropped: EXIF, XMP (also the mangled 'XMP\\0' fourcc),
unknown chunks and anything after the RIFF payload. An Orientation other than 1 is kept as an EXIF
chunk holding only that tag. Decoders read ICCP and EXIF only when the VP8X flags announce them, so
only announced ones count; a simple (VP8/VP8L-only) file is its bitstream alone and stays so.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from images import exif, icc
from images.model import Finding, Options, Span, check_pixels
from images.reencode import PillowFormat, with_pillow
from shared.errors import InputTooLarge, MalformedInput

NAME = "webp"

VP8X, VP8, VP8L, ALPH, ANIM, ANMF, ICCP, EXIF = (
    b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF")
_BITSTREAMS = (VP8, VP8L)
_FRAME_PARTS = (ALPH, VP8, VP8L)  # what an ANMF frame keeps
_STRUCTURAL = (VP8X, VP8, VP8L, ALPH, ANIM, ANMF)
# VP8X flag bits (first payload byte): ICC, alpha, EXIF, XMP, animation.
_ICC_FLAG, _ALPHA_FLAG, _EXIF_FLAG, _ANIMATION_FLAG = 0x20, 0x10, 0x08, 0x02
_VP8X_SIZE = 10
_ANMF_HEADER = 16
_MAX_CHUNKS = 100_000  # per chunk list; an animation of 100k frames is not a photo


@dataclass(frozen=True)
class Chunk:
    fourcc: bytes
    start: int  # offset of the fourcc
    end: int  # offset just past the payload (the pad byte of an odd-sized chunk excluded)

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 8:self.end]

    def payload_view(self, data: bytes) -> memoryview:
        """The payload in place: image chunks are copied once, into the output."""
        return memoryview(data)[self.start + 8:self.end]

    def raw(self, data: bytes) -> Span:
        """Header and payload, exactly as in the file (compared in place)."""
        return Span(data, self.start, self.end)


@dataclass
class Parsed:
    data: bytes  # the file the offsets point into
    chunks: list[Chunk]
    frames: dict[int, list[Chunk]]  # sub-chunks of each ANMF chunk, keyed by its start offset
    riff_end: int  # offset just past the RIFF payload; bytes beyond it are a trailer


def sniff(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def parse(data: bytes, options: Options) -> Parsed:
    """Split the RIFF payload into chunks (and ANMF frames into theirs); MalformedInput on any lie."""
    if len(data) < 12 or not sniff(data):
        raise MalformedInput("not a WebP (no RIFF/WEBP header)" if len(data) >= 12 else "truncated RIFF header")
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > len(data):
        raise MalformedInput(f"truncated: RIFF header declares {riff_end} bytes, the file has {len(data)}")
    chunks = _chunks(data, 12, riff_end)
    frames = {c.start: _chunks(data, c.start + 8 + _ANMF_HEADER, c.end) for c in chunks if c.fourcc == ANMF}
    parsed = Parsed(data, chunks, frames, riff_end)
    _check(data, parsed, options.max_pixels)
    return parsed


def _chunks(data: bytes, pos: int, limit: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    while pos < limit:
        if len(chunks) >= _MAX_CHUNKS:
            raise InputTooLarge(f"more than {_MAX_CHUNKS} WebP chunks")
        if pos + 8 > limit:
            raise MalformedInput(f"truncated chunk header at offset {pos}")
        fourcc, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        end = pos + 8 + size
        if end > limit:
            raise MalformedInput(f"chunk {_name(fourcc)} at offset {pos} claims {size} bytes past the end")
        chunks.append(Chunk(fourcc, pos, end))
        pos = min(end + (size & 1), limit)  # odd sizes are padded; tolerate a missing final pad byte
    return chunks


def _name(fourcc: bytes) -> str:
    return repr(fourcc.decode("latin-1"))


def _check(data: bytes, parsed: Parsed, max_pixels: int | None) -> None:
    if not parsed.chunks:
        raise MalformedInput("no chunks in the RIFF payload")
    first = parsed.chunks[0]
    if first.fourcc not in (VP8X, *_BITSTREAMS):
        raise MalformedInput(f"first chunk is {_name(first.fourcc)}, expected VP8X, VP8 or VP8L")
    if first.fourcc == VP8X:
        payload = first.payload(data)
        if len(payload) < _VP8X_SIZE:
            raise MalformedInput("VP8X chunk shorter than 10 bytes")
        check_pixels(*_canvas(payload[4:10]), max_pixels, "canvas")
    for chunk in parsed.chunks:
        if chunk.fourcc == ANMF:
            if chunk.end - chunk.start < 8 + _ANMF_HEADER:
                raise MalformedInput(f"ANMF chunk at offset {chunk.start} shorter than its 16-byte header")
            check_pixels(*_canvas(chunk.payload(data)[6:12]), max_pixels, "animation frame")
    bitstreams = _bitstreams(parsed)
    if not bitstreams:
        raise MalformedInput("no VP8 or VP8L image data")
    _check_one_bitstream_each(parsed)
    for chunk in bitstreams:
        check_pixels(*_bitstream_info(data, chunk)[:2], max_pixels, "bitstream")


def _check_one_bitstream_each(parsed: Parsed) -> None:
    """One bitstream for a still picture, one in each animation frame, none beside the frames:
    libwebp refuses anything else, and a second bitstream would be a second, hidden picture."""
    top = [c for c in parsed.chunks if c.fourcc in _BITSTREAMS]
    animated = any(c.fourcc == ANMF for c in parsed.chunks)
    if len(top) > 1 or (animated and top):
        raise MalformedInput("more than one image bitstream outside animation frames")
    for start, parts in parsed.frames.items():
        if sum(c.fourcc in _BITSTREAMS for c in parts) != 1:
            raise MalformedInput(f"animation frame at offset {start} does not hold exactly one bitstream")


def _canvas(six: bytes) -> tuple[int, int]:
    """Width and height from two 24-bit little-endian 'minus one' fields (VP8X, ANMF)."""
    return 1 + int.from_bytes(six[:3], "little"), 1 + int.from_bytes(six[3:6], "little")



def _flattened(parsed: Parsed) -> list[Chunk]:
    """Top-level chunks with each ANMF frame replaced by its sub-chunks, in file order."""
    out: list[Chunk] = []
    for chunk in parsed.chunks:
        out += parsed.frames[chunk.start] if chunk.fourcc == ANMF else [chunk]
    return out


def _bitstreams(parsed: Parsed) -> list[Chunk]:
    """Every VP8/VP8L chunk, top-level and inside animation frames, in file order."""
    return [c for c in _flattened(parsed) if c.fourcc in _BITSTREAMS]


def _bitstream_info(data: bytes, chunk: Chunk) -> tuple[int, int, bool]:
    """Width, height and 'alpha is used' from a VP8 key-frame header or a VP8L header."""
    payload = chunk.payload(data)
    if chunk.fourcc == VP8:
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise MalformedInput(f"VP8 chunk at offset {chunk.start} has no key-frame header")
        width, height = (v & 0x3FFF for v in struct.unpack_from("<HH", payload, 6))
        alpha = False
    else:
        if len(payload) < 5 or payload[0] != 0x2F:
            raise MalformedInput(f"VP8L chunk at offset {chunk.start} has no VP8L signature")
        bits = int.from_bytes(payload[1:5], "little")
        width, height, alpha = 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF), bool(bits >> 28 & 1)
    if width == 0 or height == 0:
        raise MalformedInput(f"bitstream at offset {chunk.start} declares zero width or height")
    return width, height, alpha


def is_lossless(data: bytes, options: Options) -> bool:
    """True when the image (any frame) is VP8L-coded: the re-encode fallback then stays lossless."""
    return any(c.fourcc == VP8L for c in _bitstreams(parse(data, options)))


def _tiff(payload: bytes) -> bytes:
    """WebP EXIF chunks hold TIFF bytes; some writers prefix them with 'Exif\\0\\0' anyway."""
    return payload.removeprefix(exif.EXIF_HEADER)


def _describe(chunk: Chunk, data: bytes, options: Options, parsed: Parsed) -> list[Finding]:
    """What one top-level chunk carries, as findings (none for image structure)."""
    if chunk.fourcc == EXIF:
        honoured = chunk == _exif_chunk(data, parsed)
        found, _ = exif.findings(_tiff(chunk.payload(data)), options, "WebP EXIF chunk", honoured=honoured)
        return found
    if chunk.fourcc.startswith(b"XMP"):
        return [Finding("xmp", f"XMP chunk {_name(chunk.fourcc)}")]
    if chunk.fourcc == ICCP and _announced(data, parsed, _ICC_FLAG):
        removed = not options.keep_icc
        return [Finding("icc", "ICCP colour profile", removed=removed)] + icc.findings(
            chunk.payload(data), "ICCP colour profile", removed)
    if chunk.fourcc == ICCP:
        return [Finding("icc", "ICCP colour profile the header does not announce (decoders ignore it)")]
    if chunk.fourcc in _STRUCTURAL:
        return []
    return [Finding("other", f"unknown chunk {_name(chunk.fourcc)} ({chunk.end - chunk.start - 8} bytes)")]


def inspect(parsed: Parsed, options: Options) -> list[Finding]:
    data = parsed.data
    found: list[Finding] = []
    for chunk in parsed.chunks:
        found += _describe(chunk, data, options, parsed)
    for parts in parsed.frames.values():
        found += [Finding("other", f"chunk {_name(c.fourcc)} inside an ANMF frame")
                  for c in parts if c.fourcc not in _FRAME_PARTS]
    trailer = data[parsed.riff_end:]
    if trailer.strip(b"\x00"):
        found.append(Finding("trailer", f"{len(trailer)} bytes after the RIFF payload"))
    return found


def _announced(data: bytes, parsed: Parsed, flag: int) -> bool:
    """Decoders (libwebp's demuxer, hence Pillow) read an ICCP or EXIF chunk only when a VP8X header
    announces it with its flag; a simple-format file is its bitstream and nothing else."""
    first = parsed.chunks[0]
    return first.fourcc == VP8X and bool(first.payload(data)[0] & flag)


def _exif_chunk(data: bytes, parsed: Parsed) -> Chunk | None:
    """The EXIF chunk decoders read: the first one, when announced."""
    if not _announced(data, parsed, _EXIF_FLAG):
        return None
    return next((c for c in parsed.chunks if c.fourcc == EXIF), None)


def _kept_orientation(data: bytes, parsed: Parsed, options: Options) -> int | None:
    chunk = _exif_chunk(data, parsed)
    return None if chunk is None else exif.kept_orientation(exif.read(_tiff(chunk.payload(data))).orientation, options)


def _chunk_parts(fourcc: bytes, payload: bytes | memoryview) -> list[bytes | memoryview]:
    return [fourcc + struct.pack("<I", len(payload)), payload, b"\x00" * (len(payload) & 1)]


def _chunk_bytes(fourcc: bytes, payload: bytes) -> bytes:
    return b"".join(_chunk_parts(fourcc, payload))


def _frame_payload(data: bytes, chunk: Chunk, parsed: Parsed) -> bytes:
    """An ANMF payload with its 16-byte header and only its image sub-chunks."""
    parts = [c for c in parsed.frames[chunk.start] if c.fourcc in _FRAME_PARTS]
    return chunk.payload(data)[:_ANMF_HEADER] + b"".join(_chunk_bytes(c.fourcc, c.payload(data)) for c in parts)


def _vp8x(data: bytes, parsed: Parsed, kept: list[bytes]) -> bytes:
    """A VP8X payload whose flags say exactly what the output holds, on the input's canvas."""
    old_flags, canvas = parsed.chunks[0].payload(data)[0], parsed.chunks[0].payload(data)[4:10]
    # Alpha is never cleared: decoders pick RGB or RGBA output from it.
    alpha = old_flags & _ALPHA_FLAG or any(
        c.fourcc == ALPH or (c.fourcc == VP8L and _bitstream_info(data, c)[2]) for c in _flattened(parsed))
    flags = ((_ICC_FLAG if ICCP in kept else 0) | (_ALPHA_FLAG if alpha else 0)
             | (_EXIF_FLAG if EXIF in kept else 0) | (_ANIMATION_FLAG if ANMF in kept or ANIM in kept else 0))
    return bytes([flags, 0, 0, 0]) + canvas


def _kept_chunks(data: bytes, parsed: Parsed, options: Options) -> list[tuple[bytes, bytes | memoryview]]:
    """(fourcc, payload) of every chunk the output carries after VP8X, in order."""
    first = parsed.chunks[0]
    if first.fourcc != VP8X:
        return [(first.fourcc, first.payload_view(data))]  # simple format: what decoders read
    keeps_icc = options.keep_icc and _announced(data, parsed, _ICC_FLAG)
    out: list[tuple[bytes, bytes | memoryview]] = []
    for chunk in parsed.chunks:
        if chunk.fourcc == ANMF:
            out.append((ANMF, _frame_payload(data, chunk, parsed)))
        elif chunk.fourcc in (VP8, VP8L, ALPH, ANIM) or (chunk.fourcc == ICCP and keeps_icc):
            out.append((chunk.fourcc, chunk.payload_view(data)))
    orientation = _kept_orientation(data, parsed, options)
    if orientation is not None:
        out.append((EXIF, exif.minimal_tiff(orientation)))  # EXIF belongs after the image data
    return out


def strip(parsed: Parsed, options: Options) -> bytes:
    data = parsed.data
    kept = _kept_chunks(data, parsed, options)
    fourccs = [fourcc for fourcc, _ in kept]
    if parsed.chunks[0].fourcc == VP8X:
        kept.insert(0, (VP8X, _vp8x(data, parsed, fourccs)))
    body = [b"WEBP", *(part for fourcc, payload in kept for part in _chunk_parts(fourcc, payload))]
    return b"".join([b"RIFF", struct.pack("<I", sum(map(len, body))), *body])


def image_data(parsed: Parsed, options: Options) -> list[bytes | Span]:
    """VP8, VP8L and ALPH chunks and ANMF frames (header and image sub-chunks), in order."""
    data = parsed.data
    out: list[bytes | Span] = []
    for chunk in parsed.chunks:
        if chunk.fourcc == ANMF:
            out.append(chunk.payload(data)[:_ANMF_HEADER])
            out += [c.raw(data) for c in parsed.frames[chunk.start] if c.fourcc in _FRAME_PARTS]
        elif chunk.fourcc in _FRAME_PARTS:
            out.append(chunk.raw(data))
    return out


def _encoder_args(im, data: bytes, options: Options) -> dict:
    return {"lossless": is_lossless(data, options), "quality": 100, "xmp": b""}


PILLOW = PillowFormat("WEBP", _encoder_args)


def reencode(data: bytes, options: Options) -> bytes:
    """The fallback: every frame through Pillow, lossless where the source was (VP8L), else at quality 100."""
    return with_pillow(PILLOW, data, options)
