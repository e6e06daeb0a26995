"""JPEG: keep the frame (tables, headers, entropy-coded scans) byte-identical, drop metadata segments.

Kept: APP0 JFIF (its embedded thumbnail zeroed), APP2 ICC_PROFILE chunks in order (unless KEEP_ICC
is off), APP14 Adobe (CMYK/YCCK colour transform; its 12 defined bytes). Everything else in APPn/COM
goes, and so does everything after the primary image's EOI (MPF secondary images, gain maps,
motion-photo videos). An Orientation other than 1 is kept as a minimal EXIF block holding only that
tag. Reserved markers, which libjpeg cannot read, and files without a frame and a scan are refused.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from images import exif, icc
from images.matcher import Matcher, Pattern
from images.model import Finding, Options, Span, check_pixels
from images.reencode import PillowFormat, with_pillow
from shared.errors import InputTooLarge, MalformedInput

NAME = "jpeg"

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
DNL = 0xDC
# Tables and headers of the coded picture: DHT, DAC, DQT, DRI, DNL, DHP, EXP, besides SOFn and SOS.
_PICTURE = _SOF | {0xC4, 0xCC, 0xDB, 0xDD, DNL, 0xDE, 0xDF, SOS}
_ADOBE_SIZE = 12  # "Adobe", version, flags0, flags1, colour transform
_MAX_SEGMENTS = 100_000
# The next marker after entropy-coded data: 0xFF not followed by a stuffed 0x00 or an RSTn.
_MARKER_IN_SCAN = Matcher([Pattern(rb"\xff[^\x00\xd0-\xd7\xff]", 2)])

_JFIF = b"JFIF\x00"
_ICC = b"ICC_PROFILE\x00"
_ADOBE = b"Adobe"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_PHOTOSHOP = b"Photoshop 3.0\x00"


@dataclass(frozen=True)
class Segment:
    marker: int
    start: int  # offset of the 0xFF marker byte
    end: int  # offset just past the segment (for SOS: past its entropy-coded data)


@dataclass
class Parsed:
    data: bytes  # the file the offsets point into
    segments: list[Segment]
    eoi_end: int  # offset just past the primary image's EOI


def sniff(head: bytes) -> bool:
    return head[:3] == b"\xff\xd8\xff"


def parse(data: bytes, options: Options) -> Parsed:
    """Split the primary image into segments; raise MalformedInput on any structural lie."""
    if not sniff(data[:3]):
        raise MalformedInput("not a JPEG (no SOI marker)")
    segments: list[Segment] = []
    pos = 2
    while True:
        if len(segments) >= _MAX_SEGMENTS:
            raise InputTooLarge(f"more than {_MAX_SEGMENTS} JPEG segments")
        marker, pos = _next_marker(data, pos)
        if marker == EOI:
            _check_picture(segments)
            return Parsed(data, segments, pos)
        if marker in _STANDALONE or marker == SOI:
            raise MalformedInput(f"unexpected marker 0x{marker:02X} at offset {pos - 2}")
        if not (marker in _PICTURE or _is_app(marker) or marker == COM):  # libjpeg stops at these
            raise MalformedInput(f"reserved marker 0x{marker:02X} at offset {pos - 2}: decoders cannot read it")
        if pos + 2 > len(data):
            raise MalformedInput("truncated: segment length missing at end of file")
        (length,) = struct.unpack_from(">H", data, pos)
        end = pos + length
        if length < 2 or end > len(data):
            raise MalformedInput(f"truncated or corrupt: segment 0x{marker:02X} at offset {pos - 2} "
                                 f"claims {length} bytes, past the end of the file")
        if marker in _SOF:
            _check_frame(data, pos, options.max_pixels)
        if marker == DNL and length != 4:
            raise MalformedInput(f"DNL segment at offset {pos - 2} is {length} bytes long, not 4")
        if marker == SOS:
            end = _scan_end(data, end)
        segments.append(Segment(marker, pos - 2, end))
        pos = end


def _next_marker(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data) or data[pos] != 0xFF:
        raise MalformedInput(f"truncated or corrupt: no marker at offset {pos}" if pos < len(data)
                             else "truncated: no EOI marker")
    while pos + 1 < len(data) and data[pos + 1] == 0xFF:  # fill bytes
        pos += 1
    if pos + 1 >= len(data):
        raise MalformedInput("truncated: no EOI marker")
    return data[pos + 1], pos + 2


def _scan_end(data: bytes, pos: int) -> int:
    end = _MARKER_IN_SCAN.first(data, pos)
    if end is None:
        raise MalformedInput("truncated: entropy-coded data runs to the end of the file (no EOI)")
    return end


def _check_frame(data: bytes, pos: int, max_pixels: int | None) -> None:
    if pos + 7 > len(data):
        raise MalformedInput("truncated frame header")
    height, width = struct.unpack_from(">HH", data, pos + 3)
    if width == 0:
        raise MalformedInput("frame header declares zero width")
    if height == 0:  # the height would come in a DNL marker, which libjpeg (and so Pillow) cannot decode
        raise MalformedInput("frame header declares zero height (DNL), which decoders do not support")
    check_pixels(width, height, max_pixels)


def _check_picture(segments: list[Segment]) -> None:
    """A frame header, then a scan: what a decoder needs to show anything at all."""
    markers = [s.marker for s in segments]
    if SOS not in markers or not any(m in _SOF for m in markers[:markers.index(SOS)]):
        raise MalformedInput("no frame header and scan before EOI: not a picture")


def _is_app(marker: int) -> bool:
    return 0xE0 <= marker <= 0xEF


def _keeps(seg: Segment, data: bytes, options: Options) -> bool:
    body = seg.start + 4  # looked at in place: a scan's body is most of the file
    if seg.marker == 0xE0:
        return data.startswith(_JFIF, body, seg.end)
    if seg.marker == 0xE2:
        return options.keep_icc and data.startswith(_ICC, body, seg.end)
    if seg.marker == 0xEE:
        return data.startswith(_ADOBE, body, seg.end) and seg.end - body >= _ADOBE_SIZE
    return not (_is_app(seg.marker) or seg.marker == COM)


def _describe(seg: Segment, data: bytes, options: Options, honoured: Segment | None) -> list[Finding]:
    """What one metadata segment carries, as findings (`honoured`: the Exif segment viewers read)."""
    body = data[seg.start + 4:seg.end]
    if seg.marker == 0xE1 and body.startswith(exif.EXIF_HEADER):
        found, _ = exif.findings(body[6:], options, "APP1 Exif", honoured=seg == honoured)
        return found
    if seg.marker == 0xE1 and body.startswith((_XMP, _XMP_EXT)):
        return [Finding("xmp", "APP1 XMP" + (" (extended)" if body.startswith(_XMP_EXT) else ""))]
    if seg.marker == 0xED:
        return [Finding("iptc", "APP13 Photoshop IRB / IPTC")]
    if seg.marker == COM:
        return [Finding("comments", f"COM comment ({len(body)} bytes)")]
    if seg.marker == 0xE2 and body.startswith(_ICC):
        return [Finding("icc", "APP2 ICC profile chunk", removed=not options.keep_icc)]
    if seg.marker == 0xE2 and body.startswith(b"MPF\x00"):
        return [Finding("other", "APP2 MPF multi-picture index")]
    if seg.marker == 0xE2:
        return [Finding("other", "APP2 FlashPix / vendor data")]
    if seg.marker == 0xE0 and body.startswith(_JFIF):
        has_thumb = len(body) >= 14 and body[12] * body[13] > 0
        return [Finding("thumbnails", "JFIF thumbnail")] if has_thumb else []
    if seg.marker == 0xE0 and body.startswith(b"JFXX\x00"):
        return [Finding("thumbnails", "APP0 JFXX thumbnail")]
    if seg.marker == 0xEE and body.startswith(_ADOBE):
        extra = len(body) - _ADOBE_SIZE
        if extra < 0:
            return [Finding("other", "APP14 Adobe segment shorter than its fields")]
        return [Finding("other", f"{extra} bytes after the APP14 Adobe fields")] if extra else []
    label = body[:16].split(b"\x00")[0].decode("latin-1", "replace").strip() or "unnamed"
    return [Finding("other", f"APP{seg.marker - 0xE0} {label}")]


def inspect(parsed: Parsed, options: Options) -> list[Finding]:
    data = parsed.data
    found: list[Finding] = []
    honoured = _exif_segment(data, parsed)
    for seg in parsed.segments:
        if _is_app(seg.marker) or seg.marker == COM:
            found += _describe(seg, data, options, honoured)
    profile = b"".join(data[s.start + 4 + len(_ICC) + 2:s.end] for s in parsed.segments
                       if s.marker == 0xE2 and data[s.start + 4:s.end].startswith(_ICC))
    found += icc.findings(profile, "ICC profile", removed=not options.keep_icc)
    trailer = len(data) - parsed.eoi_end
    if trailer and data[parsed.eoi_end:].strip(b"\x00"):
        found.append(Finding("trailer", f"{trailer} bytes after the primary image (MPF images, gain map, "
                                        "motion-photo video or vendor trailer)"))
    return found


def _exif_segment(data: bytes, parsed: Parsed) -> Segment | None:
    """The Exif segment viewers read: the first APP1 starting with `Exif\\0\\0` (as Pillow does)."""
    return next((seg for seg in parsed.segments
                 if seg.marker == 0xE1 and data[seg.start + 4:seg.end].startswith(exif.EXIF_HEADER)), None)


def _kept_orientation(data: bytes, parsed: Parsed, options: Options) -> int | None:
    seg = _exif_segment(data, parsed)
    return None if seg is None else exif.kept_orientation(exif.read(data[seg.start + 10:seg.end]).orientation, options)


def _app_segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def _clean_jfif(body: bytes) -> bytes:
    """JFIF header with its optional thumbnail dropped (width and height set to 0)."""
    return body[:12] + b"\x00\x00" if len(body) >= 14 else body


def strip(parsed: Parsed, options: Options) -> bytes:
    data = parsed.data
    view = memoryview(data)  # kept segments are copied once, by the join
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    orientation = _kept_orientation(data, parsed, options)
    wrote_orientation = orientation is None
    for seg in parsed.segments:
        keeps_jfif = seg.marker == 0xE0 and _keeps(seg, data, options)
        if orientation is not None and not wrote_orientation and not keeps_jfif:
            out.append(_app_segment(0xE1, exif.EXIF_HEADER + exif.minimal_tiff(orientation)))
            wrote_orientation = True
        if not _keeps(seg, data, options):
            continue
        if seg.marker == 0xE0:
            out.append(_app_segment(0xE0, _clean_jfif(data[seg.start + 4:seg.end])))
        elif seg.marker == 0xEE:  # only the defined fields: anything after them is not read by decoders
            out.append(_app_segment(0xEE, data[seg.start + 4:seg.start + 4 + _ADOBE_SIZE]))
        else:
            out.append(view[seg.start:seg.end])
    out.append(b"\xff\xd9")
    return b"".join(out)


def image_data(parsed: Parsed, options: Options) -> list[Span]:
    """Every non-metadata segment of the primary image, scans included, in order."""
    return [Span(parsed.data, s.start, s.end) for s in parsed.segments if not (_is_app(s.marker) or s.marker == COM)]


def _encoder_args(im, data: bytes, options: Options) -> dict:
    from PIL import JpegImagePlugin

    # quality="keep" is refused after a transpose: carry the source's tables and sampling ourselves.
    args = {"qtables": im.quantization, "subsampling": JpegImagePlugin.get_sampling(im), "comment": b""}
    if im.mode == "CMYK" and "adobe" in im.info:
        args["keep_rgb"] = True
    return args


PILLOW = PillowFormat("JPEG", _encoder_args, primary_only=True, exif_header=exif.EXIF_HEADER)


def reencode(data: bytes, options: Options) -> bytes:
    """The fallback: the primary picture through Pillow, with the source's quantisation and sampling."""
    return with_pillow(PILLOW, data, options)
