"""Just enough of EXIF (a TIFF structure) to classify what a block carries and to keep Orientation.

Used by every format module: JPEG APP1, PNG eXIf, WebP EXIF and HEIF Exif items all hold the same TIFF.
Parsing never raises on garbage: an unreadable block is still reported (and removed).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from images.model import Finding, Options

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
_POINTERS = {0x8769: "exif", 0x8825: "gps", 0xA005: "interop"}
_MAX_ENTRIES = 4096  # per IFD; real cameras write a few hundred at most
_MAX_IFDS = 64

_CLASS_OF_TAG = {
    0x010F: ("camera", "Make"), 0x0110: ("camera", "Model"), 0x0131: ("camera", "Software"),
    0x013C: ("camera", "HostComputer"), 0xA430: ("camera", "CameraOwnerName"),
    0xA431: ("camera", "BodySerialNumber"), 0xA432: ("camera", "LensSpecification"),
    0xA433: ("camera", "LensMake"), 0xA434: ("camera", "LensModel"),
    0xA435: ("camera", "LensSerialNumber"), 0xC614: ("camera", "UniqueCameraModel"),
    0xA420: ("camera", "ImageUniqueID"),
    0x0132: ("timestamps", "DateTime"), 0x9003: ("timestamps", "DateTimeOriginal"),
    0x9004: ("timestamps", "DateTimeDigitized"), 0x9010: ("timestamps", "OffsetTime"),
    0x9011: ("timestamps", "OffsetTimeOriginal"), 0x9012: ("timestamps", "OffsetTimeDigitized"),
    0x9290: ("timestamps", "SubSecTime"), 0x9291: ("timestamps", "SubSecTimeOriginal"),
    0x9292: ("timestamps", "SubSecTimeDigitized"),
    0x927C: ("makernotes", "MakerNote"),
    0x010E: ("comments", "ImageDescription"), 0x9286: ("comments", "UserComment"),
    0x013B: ("comments", "Artist"), 0x8298: ("comments", "Copyright"),
    0x9C9B: ("comments", "XPTitle"), 0x9C9C: ("comments", "XPComment"),
    0x9C9D: ("comments", "XPAuthor"), 0x9C9E: ("comments", "XPKeywords"),
    0x9C9F: ("comments", "XPSubject"),
}
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# The Orientation types Pillow (and viewers) read as a number: SHORT, LONG, SSHORT, SLONG. A BYTE or a
# RATIONAL Orientation is not honoured, so it is not kept either.
_INTEGER_FORMATS = {3: "H", 4: "I", 8: "h", 9: "i"}


@dataclass
class ExifInfo:
    """What one EXIF/TIFF block holds: findings by class, the Orientation value, GPS position if any."""

    findings: list[tuple[str, str]] = field(default_factory=list)  # (class, detail), before any decision
    orientation: int | None = None
    readable: bool = True


class _Reader:
    def __init__(self, tiff: bytes) -> None:
        self.tiff = tiff
        order = tiff[:4]
        if order == b"II*\x00":
            self.endian = "<"
        elif order == b"MM\x00*":
            self.endian = ">"
        else:
            raise ValueError("no TIFF header")

    def unpack(self, fmt: str, offset: int) -> tuple:
        size = struct.calcsize(self.endian + fmt)
        if offset < 0 or offset + size > len(self.tiff):
            raise ValueError("offset past end of EXIF block")
        return struct.unpack_from(self.endian + fmt, self.tiff, offset)

    def entries(self, offset: int):
        (count,) = self.unpack("H", offset)
        if count > _MAX_ENTRIES:
            raise ValueError("implausible IFD entry count")
        for i in range(count):
            tag, typ, n = self.unpack("HHI", offset + 2 + 12 * i)
            yield tag, typ, n, offset + 2 + 12 * i + 8
        (next_ifd,) = self.unpack("I", offset + 2 + 12 * count)
        self.next_ifd = next_ifd

    def value_offset(self, typ: int, n: int, field_at: int) -> int:
        size = _TYPE_SIZE.get(typ, 1) * n
        return field_at if size <= 4 else self.unpack("I", field_at)[0]

    def rationals(self, typ: int, n: int, field_at: int) -> list[float]:
        at = self.value_offset(typ, n, field_at)
        values = []
        for i in range(min(n, 3)):
            num, den = self.unpack("II", at + 8 * i)
            values.append(num / den if den else 0.0)
        return values


def _degrees(parts: list[float], ref: bytes) -> float:
    value = sum(p / 60**i for i, p in enumerate(parts))
    return -value if ref[:1] in (b"S", b"W") else value


def _gps_detail(r: _Reader, ifd: int) -> str:
    refs: dict[int, bytes] = {}
    coords: dict[int, list[float]] = {}
    for tag, typ, n, at in r.entries(ifd):
        if tag in (1, 3) and typ == 2:
            refs[tag] = r.tiff[at:at + 1]
        elif tag in (2, 4) and typ == 5:
            coords[tag] = r.rationals(typ, n, at)
    if 2 in coords and 4 in coords:
        lat = _degrees(coords[2], refs.get(1, b"N"))
        lon = _degrees(coords[4], refs.get(3, b"E"))
        return f"GPS position {lat:.5f}, {lon:.5f}"
    return "GPS tags"


def read(tiff: bytes) -> ExifInfo:
    """Classify an EXIF block given as TIFF bytes (without the `Exif\\0\\0` prefix)."""
    info = ExifInfo()
    try:
        _walk(_Reader(tiff), info)
    except (ValueError, struct.error):
        info.readable = False
        info.findings.append(("other", "unreadable EXIF block"))
    return info


def _walk(r: _Reader, info: ExifInfo) -> None:
    (first,) = r.unpack("I", 4)
    queue: list[tuple[str, int]] = [("ifd0", first)]
    seen: set[int] = set()
    orientation_read = False
    while queue:
        name, offset = queue.pop(0)
        if offset == 0 or offset in seen:
            continue
        if len(seen) >= _MAX_IFDS:
            raise ValueError("too many IFDs")
        seen.add(offset)
        if name == "gps":
            info.findings.append(("gps", _gps_detail(r, offset)))
            continue
        if name == "ifd1":
            info.findings.append(("thumbnails", "EXIF IFD1 thumbnail"))
            continue
        for tag, typ, n, at in r.entries(offset):
            if tag in _POINTERS:
                queue.append((_POINTERS[tag], r.unpack("I", at)[0]))
            elif tag == ORIENTATION_TAG and name == "ifd0":
                if not orientation_read:  # the first entry wins, as in Pillow
                    info.orientation = _first_integer(r, typ, n, at)
                orientation_read = True
            elif tag in _CLASS_OF_TAG:
                cls, label = _CLASS_OF_TAG[tag]
                info.findings.append((cls, f"EXIF {label}"))
            else:
                info.findings.append(("other", f"EXIF tag 0x{tag:04x}"))
        if name == "ifd0" and r.next_ifd:
            queue.append(("ifd1", r.next_ifd))


def _first_integer(r: _Reader, typ: int, n: int, field_at: int) -> int | None:
    """The first value of an integer entry (Pillow reads a SHORT with two values as its first), else None."""
    if typ not in _INTEGER_FORMATS or n < 1:
        return None
    return r.unpack(_INTEGER_FORMATS[typ], r.value_offset(typ, n, field_at))[0]


def findings(tiff: bytes, options: Options, where: str, honoured: bool = True) -> tuple[list[Finding], int | None]:
    """Findings for one EXIF block, and the Orientation to keep (None when nothing is kept). `honoured`
    is False for a block viewers ignore (a second one, or one the container does not announce): its
    Orientation is not displayed today, so it is not kept."""
    info = read(tiff)
    out = [Finding(cls, f"{detail} ({where})") for cls, detail in info.findings]
    keep = kept_orientation(info.orientation, options) if honoured else None
    if info.orientation is not None and honoured:
        out.append(Finding("orientation", f"Orientation={info.orientation} ({where})", removed=keep is None))
    elif info.orientation is not None:
        out.append(Finding("other", f"Orientation={info.orientation} ({where}, not displayed by viewers)"))
    return out or [Finding("other", f"EXIF block with no tags ({where})")], keep


def kept_orientation(value: int | None, options: Options) -> int | None:
    """The Orientation value the output keeps: only a real rotation/mirror, and only in keep mode."""
    if options.orientation == "keep" and value is not None and 2 <= value <= 8:
        return value
    return None


def minimal_tiff(orientation: int) -> bytes:
    """A big-endian TIFF holding one IFD with one entry: Orientation."""
    return b"MM\x00*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", ORIENTATION_TAG, 3, 1, orientation, 0) + b"\x00" * 4


def is_minimal(tiff: bytes) -> bool:
    """True when the block is exactly what `minimal_tiff` writes (nothing else can hide in it)."""
    return len(tiff) == 26 and tiff == minimal_tiff(int.from_bytes(tiff[18:20], "big")) and 2 <= tiff[19] <= 8
