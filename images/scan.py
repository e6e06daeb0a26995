"""An independent second look at a stripped file: byte signatures of metadata, whatever the container.

It does not trust the format module's parser: it searches the raw output for the signatures that
XMP, IPTC, MPF and EXIF blocks carry (EXIF after `Exif\0\0`, a PNG `eXIf` or a WebP `EXIF` chunk header). Each is long enough that entropy-coded image data does not
produce it by chance (and a false alarm fails closed). The only EXIF allowed is the minimal
Orientation-only block.
"""
from __future__ import annotations

from images import exif
from images.model import Options

_SIGNATURES = {
    b"xmpmeta": "XMP packet",
    b"ns.adobe.com/x": "XMP namespace",  # xap/1.0/ (XMP) and xmp/extension/ (extended XMP)
    b"Photoshop 3.0\x00": "Photoshop IRB / IPTC",
}
_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")
# Where EXIF sits as bare TIFF, with how many bytes lie between the marker and the TIFF header.
_BARE_EXIF = ((exif.EXIF_HEADER, 0), (b"eXIf", 0), (b"EXIF", 4))
_ICC_SIGNATURE = b"ICC_PROFILE\x00"


def _occurrences(data: bytes, needle: bytes, gap: int = 0):
    """Offsets just past each occurrence of `needle` (plus `gap` bytes)."""
    pos = data.find(needle)
    while pos != -1:
        yield pos + len(needle) + gap
        pos = data.find(needle, pos + 1)


def leftovers(data: bytes, options: Options) -> list[str]:
    """Names of the metadata signatures found in `data` (empty when clean)."""
    found = [name for sig, name in _SIGNATURES.items() if sig in data]
    if not options.keep_icc and _ICC_SIGNATURE in data:
        found.append("ICC profile")
    if any(data[at:at + 4] in _TIFF_HEADERS for at in _occurrences(data, b"MPF\x00")):
        found.append("MPF index")
    if any(data[at:at + 4] in _TIFF_HEADERS and not exif.is_minimal(data[at:at + 26])
           for marker, gap in _BARE_EXIF for at in _occurrences(data, marker, gap)):
        found.append("EXIF block other than Orientation")
    return found
