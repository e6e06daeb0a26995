"""An independent second look at a stripped file: byte signatures of metadata, whatever the container.

It does not trust the format module's parser: it searches the raw output for the signatures that
XMP, IPTC and MPF blocks carry, and for every TIFF header (`II*\\0`, `MM\\0*`) that starts a plausible
first IFD, however it is introduced (`Exif\\0\\0`, `Exif\\0\\xff`, a PNG `eXIf` or WebP `EXIF` chunk, a
HEIF property or item, or nothing at all). The plausibility test (an IFD offset inside the data, an
entry count and first entry type a TIFF writer would produce) keeps entropy-coded image data from
raising a false alarm by chance; a false alarm would fail closed. The only EXIF allowed is the minimal
Orientation-only block. All of it is one pass over the whole data (images/matcher.py): a signature's
first occurrence is enough, every TIFF header is reported to be judged.
"""
from __future__ import annotations

import struct

from images import exif
from images.matcher import Matcher, literal
from images.model import Options

# Found anywhere, once is enough. An MPF index is `MPF\0` followed by a TIFF header.
_SIGNATURES = {
    b"xmpmeta": "XMP packet",
    b"ns.adobe.com/x": "XMP namespace",  # xap/1.0/ (XMP) and xmp/extension/ (extended XMP)
    b"Photoshop 3.0\x00": "Photoshop IRB / IPTC",
    b"ICC_PROFILE\x00": "ICC profile",
    b"MPF\x00II*\x00": "MPF index",
    b"MPF\x00MM\x00*": "MPF index",
}
_ICC = _SIGNATURES[b"ICC_PROFILE\x00"]  # reported only when profiles are not kept
_TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}
_EXIF = "EXIF/TIFF block other than Orientation"
_ORDER = (*dict.fromkeys(_SIGNATURES.values()), _EXIF)  # the order findings are listed in
_NEEDLES = (*_SIGNATURES, *_TIFF_HEADERS)
_MATCHER = Matcher([*(literal(sig, once=True) for sig in _SIGNATURES), *map(literal, _TIFF_HEADERS)])
_MAX_PLAUSIBLE_ENTRIES = 1024
_TIFF_TYPES = range(1, 14)


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


def _scan(data: bytes) -> tuple[set[str], list[int]]:
    """One pass over `data`: the signatures' names, and the offsets of TIFF blocks other than the
    minimal Orientation one."""
    names: set[str] = set()
    blocks: list[int] = []

    def judge(index: int, at: int) -> bool:
        needle = _NEEDLES[index]
        if needle in _SIGNATURES:
            names.add(_SIGNATURES[needle])
        elif _plausible_tiff(data, at, _TIFF_HEADERS[needle]) and not exif.is_minimal(data[at:at + 26]):
            blocks.append(at)
        return False

    _MATCHER.each(data, judge)
    return names, blocks


def tiff_blocks(data: bytes) -> list[int]:
    """Offsets of every plausible TIFF structure in `data` (EXIF is one), the minimal Orientation block aside."""
    return sorted(_scan(data)[1])


def leftovers(data: bytes, options: Options) -> list[str]:
    """Names of the metadata signatures found in `data` (empty when clean), in one pass over it."""
    names, blocks = _scan(data)
    if blocks:
        names.add(_EXIF)
    if options.keep_icc:
        names.discard(_ICC)
    return [name for name in _ORDER if name in names]
