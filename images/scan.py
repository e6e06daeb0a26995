"""An independent second look at a stripped file: byte signatures of metadata, whatever the container.

It does not trust the format module's parser: it searches the raw output for the signatures that
EXIF, XMP, IPTC and MPF blocks start with. Signatures are long enough that entropy-coded image data
does not produce them by chance. The only EXIF allowed is the minimal Orientation-only block.
"""
from __future__ import annotations

from images import exif
from images.model import Options

_SIGNATURES = {
    b"<x:xmpmeta": "XMP packet",
    b"<?xpacket begin": "XMP packet",
    b"http://ns.adobe.com/xap/1.0/": "XMP namespace",
    b"http://ns.adobe.com/xmp/extension/": "extended XMP",
    b"Photoshop 3.0\x00": "Photoshop IRB / IPTC",
    b"MPF\x00II*\x00": "MPF index",
    b"MPF\x00MM\x00*": "MPF index",
}
_ICC_SIGNATURE = b"ICC_PROFILE\x00"
_EXIF_STARTS = (exif.EXIF_HEADER + b"II*\x00", exif.EXIF_HEADER + b"MM\x00*")


def _exif_blocks(data: bytes):
    for start in _EXIF_STARTS:
        pos = data.find(start)
        while pos != -1:
            yield pos + len(exif.EXIF_HEADER)
            pos = data.find(start, pos + 1)


def leftovers(data: bytes, options: Options) -> list[str]:
    """Names of the metadata signatures found in `data` (empty when clean)."""
    found = [name for sig, name in _SIGNATURES.items() if sig in data]
    if not options.keep_icc and _ICC_SIGNATURE in data:
        found.append("ICC profile")
    for at in _exif_blocks(data):
        if not exif.is_minimal(data[at:at + 26]):
            found.append("EXIF block other than Orientation")
            break
    return found
