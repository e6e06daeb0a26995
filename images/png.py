"""PNG and APNG: keep the chunks that decide what is drawn, drop every other ancillary chunk.

Chunk CRCs are checked on input. A kept chunk is copied byte for byte; an Orientation other than 1
survives as a minimal eXIf chunk. Anything after IEND goes, and so does a kept ancillary chunk that is
not of its defined length (decoders ignore it, and the extra bytes could carry anything), and any
IDAT bytes after the end of the zlib stream.
"""
from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass

from images import exif, icc
from images.model import Finding, Options, Span, check_pixels
from images.reencode import PillowFormat, with_pillow
from shared.errors import InputTooLarge, LosslessUnsupported, MalformedInput

NAME = "png"
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CRITICAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
_RENDERING = {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"pHYs", b"bKGD", b"cICP", b"mDCV", b"cLLI",
              b"mDCv", b"cLLi", b"acTL", b"fcTL", b"fdAT"}  # mDCv/cLLi: the 3rd edition's draft names
# The defined length of each kept ancillary chunk; libpng ignores one of another length, so it goes.
_LENGTHS = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"cICP": 4, b"mDCV": 24, b"mDCv": 24,
            b"cLLI": 8, b"cLLi": 8}
_LENGTHS_BY_COLOUR_TYPE = {b"bKGD": {0: 2, 2: 6, 3: 1, 4: 2, 6: 6}, b"sBIT": {0: 1, 2: 3, 3: 3, 4: 2, 6: 4},
                           b"tRNS": {0: 2, 2: 6}}
# APNG control chunks of another length make decoders fail: the file is refused.
_CONTROL_LENGTHS = {b"acTL": 8, b"fcTL": 26}
_COLOUR_TYPE_AT = 8 + 8 + 9  # signature, IHDR length and type, then width, height, bit depth
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_INFLATE_STEP = 1 << 20
_MAX_CHUNKS = 200_000
_MAX_ICC = 16 << 20  # profiles are kilobytes; more than this is not read for the report
_TEXT_CLASSES = {
    "xml:com.adobe.xmp": "xmp", "comment": "comments", "description": "comments", "title": "comments",
    "author": "comments", "copyright": "comments", "disclaimer": "comments", "warning": "comments",
    "creation time": "timestamps", "create-date": "timestamps", "modify-date": "timestamps",
    "software": "camera", "source": "camera", "make": "camera", "model": "camera",
}


@dataclass(frozen=True)
class Chunk:
    type: bytes
    start: int  # offset of the length field
    end: int  # offset just past the CRC

    def body(self, data: bytes) -> bytes:
        return data[self.start + 8:self.end - 4]


@dataclass
class Parsed:
    data: bytes  # the file the offsets point into
    chunks: list[Chunk]  # up to and including IEND
    iend_end: int  # offset just past IEND

    @functools.cached_property
    def idat_excess(self) -> int:
        """Inflated once per parsed file: inspect, strip and verify all ask."""
        return _idat_excess(self.data, self.chunks)


def sniff(head: bytes) -> bool:
    return head[:8] == SIGNATURE


def parse(data: bytes, options: Options) -> Parsed:
    """The chunks up to and including IEND, and the offset just past IEND."""
    if not sniff(data[:8]):
        raise MalformedInput("not a PNG (bad signature)")
    chunks: list[Chunk] = []
    pos = 8
    while True:
        if len(chunks) >= _MAX_CHUNKS:
            raise InputTooLarge(f"more than {_MAX_CHUNKS} PNG chunks")
        if pos + 12 > len(data):
            raise MalformedInput("truncated: no IEND chunk")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise MalformedInput(f"truncated or corrupt: chunk {ctype!r} at offset {pos} "
                                 f"claims {length} bytes, past the end of the file")
        if zlib.crc32(data[pos + 4:end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise MalformedInput(f"chunk {ctype!r} at offset {pos} fails its CRC check")
        chunk = Chunk(ctype, pos, end)
        if not chunks:
            _check_header(chunk, data, options.max_pixels)
        if _CONTROL_LENGTHS.get(ctype, length) != length:
            raise MalformedInput(f"chunk {ctype!r} at offset {pos} is {length} bytes, not {_CONTROL_LENGTHS[ctype]}")
        chunks.append(chunk)
        if ctype == b"IEND":
            return Parsed(data, chunks, end)
        pos = end


def _check_header(chunk: Chunk, data: bytes, max_pixels: int | None) -> None:
    if chunk.type != b"IHDR" or chunk.end - chunk.start != 25:
        raise MalformedInput("first chunk is not a valid IHDR")
    width, height = struct.unpack_from(">II", data, chunk.start + 8)
    if width == 0 or height == 0:
        raise MalformedInput("IHDR declares a zero dimension")
    check_pixels(width, height, max_pixels)


def _keeps(chunk: Chunk, data: bytes, options: Options) -> bool:
    if chunk.type == b"iCCP":
        return options.keep_icc
    return chunk.type in _CRITICAL or (chunk.type in _RENDERING and _has_defined_length(chunk, data))


def _has_defined_length(chunk: Chunk, data: bytes) -> bool:
    """The chunk is as long as the specification defines it (a palette's tRNS: up to 256 entries)."""
    length = chunk.end - chunk.start - 12
    colour_type = data[_COLOUR_TYPE_AT]
    if chunk.type == b"tRNS" and colour_type == 3:
        return 0 < length <= 256
    if chunk.type in _LENGTHS_BY_COLOUR_TYPE:
        return _LENGTHS_BY_COLOUR_TYPE[chunk.type].get(colour_type) == length
    return _LENGTHS.get(chunk.type, length) == length


def _text_finding(chunk: Chunk, data: bytes) -> Finding:
    keyword = chunk.body(data).split(b"\x00", 1)[0].decode("latin-1", "replace")
    cls = _TEXT_CLASSES.get(keyword.lower(), "other")
    if keyword.lower().startswith("raw profile type"):
        cls = "iptc" if "iptc" in keyword.lower() else "other"
    return Finding(cls, f"{chunk.type.decode()} {keyword!r}")


def _describe(chunk: Chunk, data: bytes, options: Options, honoured: Chunk | None) -> list[Finding]:
    if chunk.type == b"eXIf":
        return exif.findings(chunk.body(data), options, "eXIf", honoured=chunk == honoured)[0]
    if chunk.type in (b"tEXt", b"zTXt", b"iTXt"):
        return [_text_finding(chunk, data)]
    if chunk.type == b"tIME":
        return [Finding("timestamps", "tIME last-modification time")]
    if chunk.type == b"iCCP":
        return [Finding("icc", "iCCP ICC profile", removed=not options.keep_icc)]
    if chunk.type in _RENDERING:
        return [Finding("other", f"chunk {chunk.type.decode('latin-1')!r} not of its defined length "
                                 "(decoders ignore it)")]
    return [Finding("other", f"chunk {chunk.type.decode('latin-1')!r}")]


def _check_critical(chunks: list[Chunk]) -> None:
    for chunk in chunks:
        if not chunk.type[:1].islower() and chunk.type not in _CRITICAL:
            raise LosslessUnsupported(f"unknown critical chunk {chunk.type.decode('latin-1')!r}")


def inspect(parsed: Parsed, options: Options) -> list[Finding]:
    data, chunks, iend_end = parsed.data, parsed.chunks, parsed.iend_end
    honoured = _exif_chunk(chunks)
    found = [f for c in chunks if not _keeps(c, data, options) for f in _describe(c, data, options, honoured)]
    found += [Finding("icc", "iCCP ICC profile", removed=False)
              for c in chunks if c.type == b"iCCP" and _keeps(c, data, options)]
    found += [f for c in chunks if c.type == b"iCCP" for f in _icc_text(c, data, options)]
    if iend_end < len(data):
        found.append(Finding("trailer", f"{len(data) - iend_end} bytes after IEND"))
    excess = parsed.idat_excess
    if excess:
        found.append(Finding("trailer", f"{excess} bytes in IDAT after the end of the compressed image"))
    return found


def _icc_text(chunk: Chunk, data: bytes, options: Options) -> list[Finding]:
    """The profile's own text, with the iCCP profile name (inflated up to a bound: a report, not a decode)."""
    name, _, compressed = chunk.body(data).partition(b"\x00")
    try:
        profile = zlib.decompressobj().decompress(compressed[1:], _MAX_ICC)
    except zlib.error:
        profile = b""
    return icc.findings(profile, f"iCCP ICC profile {name.decode('latin-1')!r}", removed=not options.keep_icc)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _exif_chunk(chunks: list[Chunk]) -> Chunk | None:
    """The eXIf chunk Pillow displays by: the last one in the file (it reads those after IDAT too)."""
    return next((c for c in reversed(chunks) if c.type == b"eXIf"), None)


def _kept_orientation(chunks: list[Chunk], data: bytes, options: Options) -> int | None:
    chunk = _exif_chunk(chunks)
    return None if chunk is None else exif.kept_orientation(exif.read(chunk.body(data)).orientation, options)


def _idat_excess(data: bytes, chunks: list[Chunk]) -> int:
    """Bytes the IDAT chunks carry after their zlib stream ends (decoders ignore them). Found by
    inflating with the output thrown away, at most about twice the size IHDR declares."""
    width, height, depth = struct.unpack_from(">IIB", data, 16)
    limit = 2 * height * (1 + (width * _CHANNELS.get(data[_COLOUR_TYPE_AT], 4) * depth + 7) // 8) + _INFLATE_STEP
    inflater, inflated, excess = zlib.decompressobj(), 0, 0
    for chunk in (c for c in chunks if c.type == b"IDAT"):
        if inflater.eof:  # a whole chunk after the end of the stream
            excess += chunk.end - chunk.start - 12
            continue
        pending = chunk.body(data)
        while pending and not inflater.eof:
            try:
                inflated += len(inflater.decompress(pending, _INFLATE_STEP))
            except zlib.error as exc:
                raise MalformedInput(f"IDAT data does not inflate: {exc}") from None
            if inflated > limit:
                raise MalformedInput("IDAT data inflates to far more than IHDR declares")
            pending = inflater.unconsumed_tail
        if inflater.eof:
            excess += len(inflater.unused_data)
    return excess


def _image_bytes(parsed: Parsed, options: Options) -> dict[int, Span | bytes]:
    """What the output holds for each kept chunk (by start offset): the chunk byte for byte (in place),
    but the IDAT chunks cut where their zlib stream ends (rebuilt)."""
    data, chunks = parsed.data, parsed.chunks
    kept: dict[int, Span | bytes] = {c.start: Span(data, c.start, c.end) for c in chunks if _keeps(c, data, options)}
    excess = parsed.idat_excess
    for chunk in reversed([c for c in chunks if c.type == b"IDAT"]):
        if excess <= 0:
            break
        body = chunk.body(data)
        kept[chunk.start] = _chunk(b"IDAT", body[:max(len(body) - excess, 0)])
        excess -= len(body)
    return kept


def strip(parsed: Parsed, options: Options) -> bytes:
    data, chunks = parsed.data, parsed.chunks
    _check_critical(chunks)
    orientation = _kept_orientation(chunks, data, options)
    kept = _image_bytes(parsed, options)
    out: list[bytes | memoryview] = [SIGNATURE]
    for chunk in chunks:
        if orientation is not None and chunk.type in (b"IDAT", b"acTL"):
            out.append(_chunk(b"eXIf", exif.minimal_tiff(orientation)))  # eXIf must precede the image data
            orientation = None
        part = kept.get(chunk.start, b"")
        out.append(part.view() if isinstance(part, Span) else part)
    return b"".join(out)


def image_data(parsed: Parsed, options: Options) -> list[Span | bytes]:
    """Every kept chunk, byte for byte, IDAT cut at the end of its zlib stream (eXIf is rebuilt, so it
    is not part of the image data)."""
    return list(_image_bytes(parsed, options).values())


PILLOW = PillowFormat("PNG")


def reencode(data: bytes, options: Options) -> bytes:
    """The fallback: every frame through Pillow's lossless PNG (APNG) writer."""
    return with_pillow(PILLOW, data, options)
