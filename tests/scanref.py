"""The straightforward byte scan the one-pass `images.scan` must agree with: one search per signature,
MPF by a search of its own, every TIFF header judged. Kept in the tests so a change in findings fails."""
from __future__ import annotations

import struct

from images import exif
from images.model import Options

SIGNATURES = {b"xmpmeta": "XMP packet", b"ns.adobe.com/x": "XMP namespace",
              b"Photoshop 3.0\x00": "Photoshop IRB / IPTC"}
TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}


def occurrences(data: bytes, needle: bytes) -> list[int]:
    found, pos = [], data.find(needle)
    while pos != -1:
        found.append(pos)
        pos = data.find(needle, pos + 1)
    return found


def plausible(data: bytes, at: int, endian: str) -> bool:
    try:
        (first,) = struct.unpack_from(endian + "I", data, at + 4)
        if first < 8:
            return False
        count, _, kind = struct.unpack_from(endian + "HHH", data, at + first)
    except struct.error:
        return False
    return 0 < count <= 1024 and 1 <= kind <= 13


def reference_tiff_blocks(data: bytes) -> list[int]:
    """Offsets of the plausible TIFF blocks other than the minimal Orientation one, ascending."""
    return sorted(at for header, endian in TIFF_HEADERS.items() for at in occurrences(data, header)
                  if plausible(data, at, endian) and not exif.is_minimal(data[at:at + 26]))


def reference_leftovers(data: bytes, options: Options) -> list[str]:
    found = [name for sig, name in SIGNATURES.items() if sig in data]
    if not options.keep_icc and b"ICC_PROFILE\x00" in data:
        found.append("ICC profile")
    if any(data[at + 4:at + 8] in TIFF_HEADERS for at in occurrences(data, b"MPF\x00")):
        found.append("MPF index")
    if reference_tiff_blocks(data):
        found.append("EXIF/TIFF block other than Orientation")
    return found
