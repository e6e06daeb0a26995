"""An independent second look at a stripped file: byte signatures of metadata, whatever the container.

It does not trust the format module's parser: it searches the raw output for the signatures that
XMP, IPTC and MPF blocks carry, and for every TIFF header (`II*\\0`, `MM\\0*`) that starts a plausible
first IFD, however it is introduced (`Exif\\0\\0`, `Exif\\0\\xff`, a PNG `eXIf` or WebP `EXIF` chunk, a
HEIF property or item, or nothing at all). The plausibility test (an IFD offset inside the data, an
entry count and first entry type a TIFF writer would produce) keeps entropy-coded image data from
raising a false alarm by chance; a false alarm would fail closed. The only EXIF allowed is the minimal
Orientation-only block.

All signatures are found in one pass over the whole data by Hyperscan's multi-literal matcher, which
runs at memory speed (bytes.find makes one slower pass per signature; a regex alternation is slower
still). A signature's first occurrence is enough; every TIFF header is reported, to be judged.
"""
from __future__ import annotations

import struct
import threading
from functools import cache

import hyperscan

from images import exif
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
_ICC = "ICC profile"  # reported only when profiles are not kept
_TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}
_EXIF = "EXIF/TIFF block other than Orientation"
_ORDER = ("XMP packet", "XMP namespace", "Photoshop IRB / IPTC", _ICC, "MPF index", _EXIF)
_NEEDLES = (*_SIGNATURES, *_TIFF_HEADERS)
_MAX_PLAUSIBLE_ENTRIES = 1024
_TIFF_TYPES = range(1, 14)
# Hyperscan takes a block length as 32 bits: longer data is scanned in windows that overlap by a needle.
_WINDOW = 2**31
_OVERLAP = max(map(len, _NEEDLES)) - 1


@cache
def _database() -> hyperscan.Database:
    """The compiled matcher: fixed, so built once per process (it holds no data)."""
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    flags = [hyperscan.HS_FLAG_SINGLEMATCH] * len(_SIGNATURES) + [0] * len(_TIFF_HEADERS)
    # Every byte escaped: the binding passes patterns as C strings, so a literal NUL would end one.
    patterns = ["".join(f"\\x{byte:02x}" for byte in needle).encode() for needle in _NEEDLES]
    database.compile(expressions=patterns, ids=list(range(len(_NEEDLES))), elements=len(_NEEDLES), flags=flags)
    return database


_threads = threading.local()  # a scan's scratch space is in use until it returns: one per thread


def _scratch() -> hyperscan.Scratch:
    if not hasattr(_threads, "scratch"):
        _threads.scratch = hyperscan.Scratch(_database())
    return _threads.scratch


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


class _Pass:
    """What one pass over `data` found: signature names, and the offsets of TIFF blocks (ascending)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.names, self.blocks = data, set[str](), list[int]()
        view, scratch = memoryview(data), _scratch()
        for start in range(0, max(len(data), 1), _WINDOW):
            self.window = start
            window = view[start:start + _WINDOW + _OVERLAP]
            _database().scan(window, self._on_match, scratch=scratch)  # type: ignore[type-var]  # any buffer

    def _on_match(self, needle: int, _start: int, end: int, _flags: int, _context: object) -> None:
        at = self.window + end - len(_NEEDLES[needle])
        if needle < len(_SIGNATURES):
            self.names.add(_SIGNATURES[_NEEDLES[needle]])
        elif at < self.window + _WINDOW and self._is_block(at, _TIFF_HEADERS[_NEEDLES[needle]]):
            self.blocks.append(at)  # (a header in the overlap is the next window's)

    def _is_block(self, at: int, endian: str) -> bool:
        return _plausible_tiff(self.data, at, endian) and not exif.is_minimal(self.data[at:at + 26])


def tiff_blocks(data: bytes) -> list[int]:
    """Offsets of every plausible TIFF structure in `data` (EXIF is one), the minimal Orientation block aside."""
    return sorted(_Pass(data).blocks)


def leftovers(data: bytes, options: Options) -> list[str]:
    """Names of the metadata signatures found in `data` (empty when clean), in one pass over it."""
    found = _Pass(data)
    names = found.names | ({_EXIF} if found.blocks else set())
    if options.keep_icc:
        names.discard(_ICC)
    return [name for name in _ORDER if name in names]
