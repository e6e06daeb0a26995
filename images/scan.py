"""An independent second look at a stripped file: byte signatures of metadata, whatever the container.

It does not trust the format module's parser: it searches the raw output for the signatures that
XMP, IPTC and MPF blocks carry, and for every TIFF header (`II*\\0`, `MM\\0*`) that starts a plausible
first IFD, however it is introduced (`Exif\\0\\0`, `Exif\\0\\xff`, a PNG `eXIf` or WebP `EXIF` chunk, a
HEIF property or item, or nothing at all). The plausibility test (an IFD offset inside the data, an
entry count and first entry type a TIFF writer would produce) keeps entropy-coded image data from
raising a false alarm by chance; a false alarm would fail closed. The only EXIF allowed is the minimal
Orientation-only block.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator

from images import exif
from images.model import Options

_SIGNATURES = {
    b"xmpmeta": "XMP packet",
    b"ns.adobe.com/x": "XMP namespace",  # xap/1.0/ (XMP) and xmp/extension/ (extended XMP)
    b"Photoshop 3.0\x00": "Photoshop IRB / IPTC",
}
_TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}
_ICC_SIGNATURE = b"ICC_PROFILE\x00"
_MPF_SIGNATURE = b"MPF\x00"
_MAX_PLAUSIBLE_ENTRIES = 1024
_TIFF_TYPES = range(1, 14)


def _occurrences(data: bytes, needle: bytes) -> Iterator[int]:
    """Offsets of each occurrence of `needle`, overlapping ones too."""
    pos = data.find(needle)
    while pos != -1:
        yield pos
        pos = data.find(needle, pos + 1)


def _tiff_headers(data: bytes) -> list[tuple[int, str]]:
    """Every TIFF header in `data` with its byte order: one pass per header, shared by all TIFF checks."""
    return [(at, endian) for header, endian in _TIFF_HEADERS.items() for at in _occurrences(data, header)]


def _plausible_tiff(data: bytes, at: int, endian: str) -> bool:
    """Does the TIFF header at `at` point to an IFD that a TIFF writer could have written?"""
    try:
        (first,) = struct.unpack_from(endian + "I", data, at + 4)
        if first < 8:
            return False
        count, _, kind = struct.unpack_from(endian + "HHH", data, at + first)
    except struct.error:  # the IFD would lie past the end of the data
        return False
    return 0 < count <= _MAX_PLAUSIBLE_ENTRIES and kind in _TIFF_TYPES


def _tiff_blocks(data: bytes, headers: list[tuple[int, str]]) -> list[int]:
    return [at for at, endian in headers
            if _plausible_tiff(data, at, endian) and not exif.is_minimal(data[at:at + 26])]


def tiff_blocks(data: bytes) -> list[int]:
    """Offsets of every plausible TIFF structure in `data` (EXIF is one), the minimal Orientation block aside."""
    return _tiff_blocks(data, _tiff_headers(data))


def leftovers(data: bytes, options: Options) -> list[str]:
    """Names of the metadata signatures found in `data` (empty when clean).

    An MPF index is `MPF\\0` followed by a TIFF header, so it is found by looking back from the TIFF
    headers rather than by a pass of its own (bytes.find beats a regex alternation several times over)."""
    found = [name for sig, name in _SIGNATURES.items() if sig in data]
    if not options.keep_icc and _ICC_SIGNATURE in data:
        found.append("ICC profile")
    headers = _tiff_headers(data)
    if any(at >= 4 and data[at - 4:at] == _MPF_SIGNATURE for at, _ in headers):
        found.append("MPF index")
    if _tiff_blocks(data, headers):
        found.append("EXIF/TIFF block other than Orientation")
    return found
