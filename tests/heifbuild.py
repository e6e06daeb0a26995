"""Hand-built HEIF files for the tests: every box written here, so a test can put anything anywhere.

The coded picture and its properties come from a real HEIC (pillow-heif), so libheif decodes the result.
`mdat` comes before `meta`, which keeps every iloc offset independent of what the test puts in `meta`.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from PIL import Image

from images import isobmff
from images.isobmff import box, full_box


@dataclass
class Item:
    id: int
    type: str = "hvc1"
    payload: bytes = b""
    properties: list[tuple[bool, bytes]] = field(default_factory=list)  # (essential, property box)
    name: str = ""
    hidden: bool = False
    content_type: str = ""  # mime items


@dataclass
class Heif:
    items: list[Item]
    primary: int = 1
    references: list[tuple[str, int, tuple[int, ...]]] = field(default_factory=list)
    handler_name: str = ""
    dinf: bytes = b""
    loose_properties: list[bytes] = field(default_factory=list)  # in ipco, associated with no item

    def build(self) -> bytes:
        ftyp = box("ftyp", b"heic\x00\x00\x00\x00mif1heic")
        payload_at, offsets = len(ftyp) + 8, {}
        for item in self.items:
            offsets[item.id] = payload_at
            payload_at += len(item.payload)
        mdat = box("mdat", b"".join(item.payload for item in self.items))
        return ftyp + mdat + box("meta", b"\x00" * 4 + self._meta(offsets))

    def _meta(self, offsets: dict[int, int]) -> bytes:
        hdlr = full_box("hdlr", 0, 0, b"\x00" * 4 + b"pict" + b"\x00" * 12 + self.handler_name.encode() + b"\x00")
        pitm = full_box("pitm", 0, 0, struct.pack(">H", self.primary))
        infes = b"".join(full_box("infe", 2, int(i.hidden), struct.pack(">HH4s", i.id, 0, i.type.encode())
                                  + i.name.encode() + b"\x00" + (i.content_type.encode() + b"\x00" if i.type == "mime" else b""))
                         for i in self.items)
        iinf = full_box("iinf", 0, 0, struct.pack(">H", len(self.items)) + infes)
        located = [i for i in self.items if i.payload]
        iloc = full_box("iloc", 0, 0, struct.pack(">HH", 0x4400, len(located)) + b"".join(
            struct.pack(">HHHII", i.id, 0, 1, offsets[i.id], len(i.payload)) for i in located))
        refs = b"".join(box(kind, struct.pack(">HH", source, len(targets)) + b"".join(struct.pack(">H", t) for t in targets))
                        for kind, source, targets in self.references)
        iref = full_box("iref", 0, 0, refs) if self.references else b""
        return hdlr + self.dinf + pitm + iinf + iloc + iref + self._iprp()

    def _iprp(self) -> bytes:
        boxes, links = list(self.loose_properties), []
        for item in self.items:
            item_links = []
            for essential, prop in item.properties:
                boxes.append(prop)
                item_links.append(essential << 7 | len(boxes))
            links.append(struct.pack(">HB", item.id, len(item_links)) + bytes(item_links))
        ipma = full_box("ipma", 0, 0, struct.pack(">I", len(links)) + b"".join(links))
        return box("iprp", box("ipco", b"".join(boxes)) + ipma)


def picture(size: tuple[int, int] = (64, 48)) -> tuple[bytes, list[tuple[bool, bytes]]]:
    """The coded bytes and the properties (essential flag, box) of a real HEVC picture."""
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(Image.linear_gradient("L").convert("RGB").resize(size)).save(out, quality=60)
    parsed = isobmff.parse(out.getvalue())
    primary = parsed.meta.primary
    assert primary is not None
    return parsed.payload(primary), [(essential, p.raw(parsed.data)) for essential, p in parsed.item_properties(primary)]


def tiff_with_gps() -> bytes:
    """A little EXIF TIFF holding a GPS position (Paris)."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    return exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif") else exif.tobytes()
