"""The text an ICC colour profile carries, for `inspect` (every format module keeps profiles alike).

Profiles are kept by default (KEEP_ICC): colour depends on them. Phone and camera profiles are
generic ("Display P3"), but a profile written by a tool can name a person, a device or a date in its
text tags, so `inspect` reports that text and KEEP_ICC=false removes the profile. Reading never raises:
a tag that does not parse is skipped.
"""
from __future__ import annotations

import struct

from images.model import Finding

_TEXT_TAGS = {b"desc": "description", b"cprt": "copyright", b"dmnd": "device maker", b"dmdd": "device model",
              b"vued": "viewing conditions"}
_HEADER = 128
_MAX_TAGS = 1024
_MAX_TEXT = 80


def text(profile: bytes) -> list[str]:
    """'name: value' for each text tag of the profile, and its creation date when it has one."""
    out = []
    if len(profile) >= 36 and any(profile[24:36]):
        year, month, day, hour, minute, second = struct.unpack_from(">6H", profile, 24)
        out.append(f"created: {year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}")
    for signature, offset, size in _tags(profile):
        value = _tag_text(profile[offset:offset + size]) if signature in _TEXT_TAGS else ""
        if value:
            out.append(f"{_TEXT_TAGS[signature]}: {value[:_MAX_TEXT]!r}")
    return out


def _tags(profile: bytes) -> list[tuple[bytes, int, int]]:
    if len(profile) < _HEADER + 4:
        return []
    count = min(struct.unpack_from(">I", profile, _HEADER)[0], _MAX_TAGS, (len(profile) - _HEADER - 4) // 12)
    return [struct.unpack_from(">4sII", profile, _HEADER + 4 + 12 * i) for i in range(count)]


def _tag_text(tag: bytes) -> str:
    """The first string of a textType, textDescriptionType or multiLocalizedUnicodeType tag."""
    kind = tag[:4]
    if kind == b"text":
        return _clean(tag[8:].split(b"\x00")[0].decode("latin-1"))
    if kind == b"desc" and len(tag) >= 12:
        length = struct.unpack_from(">I", tag, 8)[0]
        return _clean(tag[12:12 + length].split(b"\x00")[0].decode("latin-1"))
    if kind == b"mluc" and len(tag) >= 28:
        length, offset = struct.unpack_from(">II", tag, 20)
        return _clean(tag[offset:offset + length].decode("utf-16-be", "replace"))
    return ""


def _clean(value: str) -> str:
    return value.replace("\x00", "").strip()


def findings(profile: bytes, where: str, removed: bool) -> list[Finding]:
    """One finding listing the profile's text, when it has any (class 'icc', kept unless KEEP_ICC=false)."""
    found = text(profile)
    return [Finding("icc", f"{where} text: {'; '.join(found)}", removed=removed)] if found else []
