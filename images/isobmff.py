"""ISOBMFF (ISO/IEC 14496-12) boxes as HEIF/AVIF image files use them: parse, and write back without items.

Pure bytes in, bytes out. `parse` reads the top-level boxes and the `meta` item structure (iinf/infe,
iloc v0-2, iref, iprp/ipco/ipma, idat, pitm) and checks it: every box inside its parent, every extent
inside the file or `idat`, no extents overlapping, every referenced item present. `without_items` writes
a new file holding `ftyp`, the rewritten `meta` and one `mdat` with the kept items' extents only, every
offset recomputed; item names and the handler name are written empty, and `dinf` as "the data is in
this file". Which items to drop is the caller's policy (see `images.heif`).

Structural errors raise MalformedInput; valid structures this editor cannot rewrite safely raise
LosslessUnsupported (the caller may re-encode); limits raise InputTooLarge.
"""
from __future__ import annotations

import itertools
import struct
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from images.model import Span
from shared.boxes import HEADER_BYTES, box_header, four_character_code
from shared.errors import InputTooLarge, LosslessUnsupported, MalformedInput

MAX_BOXES = 10_000  # per parent: real files have a handful of top-level boxes and one ipco of a few hundred
MAX_ITEMS = 65_535  # a 50-tile iPhone photo has ~60 items
MAX_EXTENTS = 1_000_000
_HDLR_FIXED = 4 + 4 + 4 + 12  # version and flags, pre_defined, handler_type, reserved; then the name
# meta children copied as they are / removed as metadata; any other child is not understood.
META_KEEP = {"hdlr", "dinf", "grpl"}
META_DROP = {"xml ", "bxml", "free", "skip", "uuid"}
META_ITEM_BOXES = {"iinf", "iloc", "iref", "iprp", "idat"}
_U32 = 0xFFFF_FFFF


@dataclass(frozen=True)
class Box:
    """One box: its four-character type and where it sits in the file (header included in start..end)."""

    type: str
    start: int
    body: int  # first byte after the header (and after the uuid usertype)
    end: int

    def payload(self, data: bytes) -> bytes:
        return data[self.body:self.end]

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]


@dataclass(frozen=True)
class Item:
    id: int
    type: str
    content_type: str  # for `mime` items, else ""
    infe: Box
    name: str = ""
    hidden: bool = False  # infe flag 1: not meant to be shown on its own (a tile, an alpha plane...)


@dataclass(frozen=True)
class Extent:
    offset: int  # absolute file offset (construction method 0) or offset into idat (method 1)
    length: int


@dataclass(frozen=True)
class Location:
    method: int  # 0: file, 1: idat
    extents: tuple[Extent, ...]


@dataclass(frozen=True)
class Reference:
    kind: str  # cdsc, thmb, auxl, dimg, ...
    source: int
    targets: tuple[int, ...]


@dataclass
class Meta:
    box: Box
    children: list[Box]
    primary: int | None = None
    items: dict[int, Item] = field(default_factory=dict)
    iinf_version: int = 0
    locations: dict[int, Location] = field(default_factory=dict)
    iloc_version: int = 0
    references: list[Reference] = field(default_factory=list)
    iref_version: int = 0
    properties: list[Box] = field(default_factory=list)  # ipco children; ipma index i is properties[i-1]
    associations: dict[int, list[tuple[bool, int]]] = field(default_factory=dict)  # item -> (essential, index)
    ipma_version_flags: tuple[int, int] = (0, 0)
    idat: Box | None = None
    handler_name: str = ""
    data_references: list[str] = field(default_factory=list)  # dref entries other than "this file"


@dataclass
class File:
    data: bytes
    top: list[Box]
    meta: Meta

    def payload_spans(self, item_id: int) -> list[Span]:
        """Where the item's bytes lie, extent by extent (none for items without a location)."""
        location = self.meta.locations.get(item_id)
        if location is None:
            return []
        base = self.meta.idat.body if location.method == 1 and self.meta.idat else 0
        return [Span(self.data, base + e.offset, base + e.offset + e.length) for e in location.extents]

    def payload(self, item_id: int) -> bytes:
        """The item's bytes, its extents joined (empty for items without a location)."""
        return b"".join(span.view() for span in self.payload_spans(item_id))

    def item_properties(self, item_id: int, skip: frozenset[int] = frozenset()) -> list[tuple[bool, Box]]:
        """(essential, property box) of every property linked to the item, but those with index in `skip`."""
        return [(essential, self.meta.properties[index - 1])
                for essential, index in self.meta.associations.get(item_id, []) if index not in skip]


class _Cursor:
    """Reads big-endian fields inside one box body; running past its end is MalformedInput."""

    def __init__(self, data: bytes, start: int, end: int, what: str) -> None:
        self.data, self.pos, self.end, self.what = data, start, end, what

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise MalformedInput(f"{self.what} box is truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, size: int) -> int:
        end = self.pos + size  # take() inlined: this runs for every field of every item
        if end > self.end:
            raise MalformedInput(f"{self.what} box is truncated")
        value = int.from_bytes(self.data[self.pos:end], "big")
        self.pos = end
        return value

    def fourcc(self) -> str:
        return four_character_code(self.take(4), f"{self.what} box")

    def full_header(self) -> tuple[int, int]:
        version_flags = self.uint(4)
        return version_flags >> 24, version_flags & 0xFFFFFF

    def cstring(self) -> str:
        stop = self.data.find(b"\x00", self.pos, self.end)
        if stop < 0:  # some writers omit the last terminator; the string then runs to the end of the box
            stop = self.end
        text = self.data[self.pos:stop].decode("utf-8", "replace")
        self.pos = min(stop + 1, self.end)
        return text

    def count(self, size: int, limit: int, per_entry: int, noun: str) -> int:
        n = self.uint(size)
        if n > limit:
            raise InputTooLarge(f"{self.what} declares {n} {noun}, over the limit of {limit}")
        if n * per_entry > self.end - self.pos:
            raise MalformedInput(f"{self.what} declares {n} {noun} but is only {self.end - self.pos} bytes")
        return n


def read_boxes(data: bytes, start: int, end: int, parent: str) -> list[Box]:
    """The boxes between start and end; a size-0 box (to the end) is accepted only at the top level."""
    boxes: list[Box] = []
    pos = start
    while pos < end:
        if len(boxes) >= MAX_BOXES:
            raise InputTooLarge(f"more than {MAX_BOXES} boxes in {parent}")
        header = box_header(data[pos:pos + HEADER_BYTES], end - pos, parent)
        if header.to_end and parent != "file":
            raise MalformedInput(f"'{header.type}' box in {parent} has size 0")
        boxes.append(Box(header.type, pos, pos + header.length, pos + header.size))
        pos += header.size
    return boxes


def parse(data: bytes) -> File:
    """Parse and check a HEIF/AVIF file. Raises MalformedInput / LosslessUnsupported / InputTooLarge."""
    top = read_boxes(data, 0, len(data), "file")
    if not top or top[0].type != "ftyp":
        raise MalformedInput("the file does not start with an 'ftyp' box")
    if top[0].end - top[0].body < 8:
        raise MalformedInput("'ftyp' box is too short")
    metas = [b for b in top if b.type == "meta"]
    if len(metas) != 1:
        if metas:
            raise MalformedInput(f"{len(metas)} top-level 'meta' boxes (one expected)")
        raise LosslessUnsupported("no top-level 'meta' box (not an item-based HEIF image)")
    file = File(data, top, _parse_meta(data, metas[0]))
    _check(file)
    return file


def _parse_meta(data: bytes, box: Box) -> Meta:
    cursor = _Cursor(data, box.body, box.end, "meta")
    version, _ = cursor.full_header()
    if version != 0:
        raise LosslessUnsupported(f"'meta' box version {version}")
    meta = Meta(box, read_boxes(data, cursor.pos, box.end, "meta"))
    seen: set[str] = set()
    for child in meta.children:
        if child.type in META_ITEM_BOXES | {"pitm"}:
            if child.type in seen:
                raise MalformedInput(f"more than one '{child.type}' box in meta")
            seen.add(child.type)
        parser = _META_PARSERS.get(child.type)
        if parser:
            parser(data, child, meta)
        elif child.type not in META_KEEP | META_DROP:
            raise LosslessUnsupported(f"'{child.type}' box in meta is not understood")
    handlers = [c for c in meta.children if c.type == "hdlr"]
    if not handlers or data[handlers[0].body + 8:handlers[0].body + 12] != b"pict":
        raise LosslessUnsupported("the meta handler is not 'pict' (not an image)")
    meta.handler_name = _handler_name(data, handlers[0])
    return meta


def _handler_name(data: bytes, hdlr: Box) -> str:
    cursor = _Cursor(data, hdlr.body, hdlr.end, "hdlr")
    cursor.take(_HDLR_FIXED)
    return cursor.cstring() if cursor.pos < hdlr.end else ""


def _parse_dinf(data: bytes, box: Box, meta: Meta) -> None:
    """The data references (URLs and URNs) of dref entries; self-contained ones ("this file") are not kept."""
    for dref in (b for b in read_boxes(data, box.body, box.end, "dinf") if b.type == "dref"):
        cursor = _Cursor(data, dref.body, dref.end, "dref")
        cursor.full_header()
        cursor.count(4, MAX_BOXES, 8, "entries")
        for entry in read_boxes(data, cursor.pos, dref.end, "dref"):
            entry_cursor = _Cursor(data, entry.body, entry.end, f"dref '{entry.type}'")
            _, flags = entry_cursor.full_header()
            text = data[entry_cursor.pos:entry.end].replace(b"\x00", b" ").decode("utf-8", "replace").strip()
            if not flags & 1 or text:
                meta.data_references.append(f"'{entry.type}' {text or '(no location)'}")


def _parse_pitm(data: bytes, box: Box, meta: Meta) -> None:
    cursor = _Cursor(data, box.body, box.end, "pitm")
    version, _ = cursor.full_header()
    meta.primary = cursor.uint(2 if version == 0 else 4)


def _parse_iinf(data: bytes, box: Box, meta: Meta) -> None:
    cursor = _Cursor(data, box.body, box.end, "iinf")
    meta.iinf_version, _ = cursor.full_header()
    declared = cursor.count(2 if meta.iinf_version == 0 else 4, MAX_ITEMS, 8, "items")
    entries = [b for b in read_boxes(data, cursor.pos, box.end, "iinf") if b.type == "infe"]
    if len(entries) != declared:
        raise MalformedInput(f"iinf declares {declared} items but holds {len(entries)}")
    for infe in entries:
        item = _parse_infe(data, infe)
        if item.id in meta.items:
            raise MalformedInput(f"item {item.id} is declared twice")
        meta.items[item.id] = item


def _parse_infe(data: bytes, box: Box) -> Item:
    cursor = _Cursor(data, box.body, box.end, "infe")
    version, flags = cursor.full_header()
    if version < 2:
        raise LosslessUnsupported(f"'infe' version {version} (pre-HEIF item info)")
    item_id = cursor.uint(2 if version == 2 else 4)
    cursor.uint(2)  # item_protection_index
    item_type = cursor.fourcc()
    name = cursor.cstring()
    content_type = cursor.cstring() if item_type == "mime" else ""
    return Item(item_id, item_type, content_type, box, name, bool(flags & 1))


def _parse_iloc(data: bytes, box: Box, meta: Meta) -> None:
    cursor = _Cursor(data, box.body, box.end, "iloc")
    version, _ = cursor.full_header()
    if version > 2:
        raise LosslessUnsupported(f"'iloc' version {version}")
    meta.iloc_version = version
    sizes = cursor.uint(2)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 0xF, (sizes >> 4) & 0xF
    index_size = sizes & 0xF if version else 0
    if any(s not in (0, 4, 8) for s in (offset_size, length_size, base_size, index_size)):
        raise MalformedInput(f"iloc field sizes {offset_size}/{length_size}/{base_size}/{index_size} are not 0, 4 or 8")
    count = cursor.count(2 if version < 2 else 4, MAX_ITEMS, 4, "item locations")
    for _ in range(count):
        item_id = cursor.uint(2 if version < 2 else 4)
        method = cursor.uint(2) & 0xF if version else 0
        if cursor.uint(2) != 0:
            raise LosslessUnsupported(f"item {item_id} data is in another file (data_reference_index)")
        if method > 1:
            raise LosslessUnsupported(f"item {item_id} uses iloc construction method {method}")
        base = cursor.uint(base_size)
        n = cursor.count(2, MAX_EXTENTS, index_size + offset_size + length_size, "extents")
        extents = []
        for _ in range(n):
            cursor.uint(index_size)
            extents.append(Extent(base + cursor.uint(offset_size), cursor.uint(length_size)))
        if item_id in meta.locations:
            raise MalformedInput(f"item {item_id} has two iloc entries")
        meta.locations[item_id] = Location(method, tuple(extents))


def _parse_iref(data: bytes, box: Box, meta: Meta) -> None:
    cursor = _Cursor(data, box.body, box.end, "iref")
    meta.iref_version, _ = cursor.full_header()
    id_size = 2 if meta.iref_version == 0 else 4
    for ref in read_boxes(data, cursor.pos, box.end, "iref"):
        ref_cursor = _Cursor(data, ref.body, ref.end, f"iref '{ref.type}'")
        source = ref_cursor.uint(id_size)
        n = ref_cursor.count(2, MAX_ITEMS, id_size, "references")
        meta.references.append(Reference(ref.type, source, tuple(ref_cursor.uint(id_size) for _ in range(n))))


def _parse_iprp(data: bytes, box: Box, meta: Meta) -> None:
    children = read_boxes(data, box.body, box.end, "iprp")
    containers = [c for c in children if c.type == "ipco"]
    ipmas = [c for c in children if c.type == "ipma"]
    if len(containers) != 1 or len(ipmas) != 1 or len(children) != 2:
        raise LosslessUnsupported("iprp is not one ipco and one ipma")
    meta.properties = read_boxes(data, containers[0].body, containers[0].end, "ipco")
    cursor = _Cursor(data, ipmas[0].body, ipmas[0].end, "ipma")
    version, flags = meta.ipma_version_flags = cursor.full_header()
    id_size, index_bits = (2 if version == 0 else 4), (15 if flags & 1 else 7)
    for _ in range(cursor.count(4, MAX_ITEMS, id_size + 1, "item associations")):
        item_id = cursor.uint(id_size)
        n = cursor.uint(1)
        values = [cursor.uint(2 if flags & 1 else 1) for _ in range(n)]
        if item_id in meta.associations:
            raise MalformedInput(f"item {item_id} has two ipma entries")
        meta.associations[item_id] = [(bool(v >> index_bits), v & ((1 << index_bits) - 1)) for v in values]


def _parse_idat(data: bytes, box: Box, meta: Meta) -> None:
    meta.idat = box


_META_PARSERS = {"pitm": _parse_pitm, "iinf": _parse_iinf, "iloc": _parse_iloc, "iref": _parse_iref,
                 "iprp": _parse_iprp, "idat": _parse_idat, "dinf": _parse_dinf}


def _check(file: File) -> None:
    """Every id used is declared, every property index exists, every extent lies in bounds without overlap."""
    meta = file.meta
    if meta.primary is not None and meta.primary not in meta.items:
        raise MalformedInput(f"primary item {meta.primary} is missing")
    used = [(r.source, f"iref '{r.kind}'") for r in meta.references]
    used += [(t, f"iref '{r.kind}'") for r in meta.references for t in r.targets]
    used += [(i, "iloc") for i in meta.locations] + [(i, "ipma") for i in meta.associations]
    for item_id, where in used:
        if item_id not in meta.items:
            raise MalformedInput(f"item {item_id} is referenced by {where} but missing")
    for item_id, links in meta.associations.items():
        for _, index in links:
            if index > len(meta.properties):
                raise MalformedInput(f"item {item_id} uses property {index} of {len(meta.properties)}")
    _resolve_extents(file)
    _check_overlaps(meta)
    _check_derivations(meta)


def _check_derivations(meta: Meta) -> None:
    """No derived image (grid, overlay, identity) is among its own inputs, however indirectly: a
    decoder would never finish it. One depth-first walk over the `dimg` references."""
    inputs: dict[int, list[int]] = {}
    for ref in meta.references:
        if ref.kind == "dimg":
            inputs.setdefault(ref.source, []).extend(ref.targets)
    done: set[int] = set()
    for root, targets in inputs.items():
        if root in done:
            continue
        on_path, stack = {root}, [(root, iter(targets))]
        while stack:
            item, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                on_path.discard(item)
                done.add(item)
            elif child in on_path:
                raise MalformedInput(f"item {child} is derived from itself ('dimg' cycle)")
            elif child not in done and child in inputs:
                on_path.add(child)
                stack.append((child, iter(inputs[child])))


def _resolve_extents(file: File) -> None:
    """Bounds-check every extent; length 0 means 'to the end of the file / idat' and is made explicit."""
    meta = file.meta
    for item_id, location in meta.locations.items():
        limit = len(file.data)
        if location.method == 1:
            if meta.idat is None:
                raise MalformedInput(f"item {item_id} points into a missing idat box")
            limit = meta.idat.end - meta.idat.body
        extents = []
        for e in location.extents:
            extent = Extent(e.offset, e.length or limit - e.offset) if len(location.extents) == 1 else e
            if extent.offset + extent.length > limit or extent.length <= 0:
                raise MalformedInput(f"item {item_id} has an extent past the end of its data")
            extents.append(extent)
        meta.locations[item_id] = Location(location.method, tuple(extents))


def _check_overlaps(meta: Meta) -> None:
    spans = sorted((loc.method, e.offset, e.offset + e.length, item_id)
                   for item_id, loc in meta.locations.items() for e in loc.extents)
    for (method_a, _, end_a, id_a), (method_b, start_b, _, id_b) in itertools.pairwise(spans):
        if method_a == method_b and start_b < end_a:
            raise MalformedInput(f"extents of items {id_a} and {id_b} overlap")


# ---- writing ----

def _box_header(box_type: str, payload_size: int) -> bytes:
    """A box header with a 32-bit size, or a 64-bit one when the payload needs it."""
    if payload_size + 8 <= _U32:
        return struct.pack(">I4s", payload_size + 8, box_type.encode("latin-1"))
    return struct.pack(">I4sQ", 1, box_type.encode("latin-1"), payload_size + 16)


def box(box_type: str, payload: bytes) -> bytes:
    return _box_header(box_type, len(payload)) + payload


def full_box(box_type: str, version: int, flags: int, payload: bytes) -> bytes:
    return box(box_type, struct.pack(">I", version << 24 | flags) + payload)


def _uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


@dataclass(frozen=True)
class _Edit:
    keep: list[int]
    drop: AbstractSet[int]
    blank: frozenset[int]  # ipco indexes written as empty 'free' boxes (so other indexes stay valid)
    large: bool  # 64-bit iloc fields


def without_items(file: File, drop: AbstractSet[int], blank: frozenset[int] = frozenset()) -> bytes:
    """The file rewritten without the `drop` items (info, location, references, properties, bytes),
    without the properties at the `blank` ipco indexes, and without any top-level box but ftyp, meta
    and the item data."""
    if file.meta.primary in drop:
        raise LosslessUnsupported("the primary item would be removed")
    edit = _Edit([i for i in file.meta.items if i not in drop], drop, blank,
                 large=len(file.data) + 65_536 > _U32)
    ftyp = file.top[0].raw(file.data)
    kept = _extents(file, edit.keep, 0)
    mdat_header = _box_header("mdat", sum(e.length for e in kept))
    meta_size = len(_meta(file, edit, 0))  # offsets do not change the size
    mdat_start = len(ftyp) + meta_size + len(mdat_header)
    view = memoryview(file.data)  # the item data is copied once, into the output
    return b"".join([ftyp, _meta(file, edit, mdat_start), mdat_header,
                     *(view[e.offset:e.offset + e.length] for e in kept)])


def _extents(file: File, keep: list[int], method: int) -> list[Extent]:
    """Kept items' extents of one construction method, in file order (the order they are copied in)."""
    locations = file.meta.locations
    return sorted((e for i in keep if i in locations and locations[i].method == method
                   for e in locations[i].extents), key=lambda e: e.offset)


def _meta(file: File, edit: _Edit, mdat_start: int) -> bytes:
    meta, data, keep = file.meta, file.data, edit.keep
    moved = _new_offsets(_extents(file, keep, 0), 0, mdat_start) | _new_offsets(_extents(file, keep, 1), 1, 0)
    parts = []
    for child in meta.children:
        if child.type == "iinf":
            id_size = 2 if meta.iinf_version == 0 else 4
            entries = b"".join(_nameless_infe(data, meta.items[i].infe) for i in keep)
            parts.append(full_box("iinf", meta.iinf_version, 0, _uint(len(keep), id_size) + entries))
        elif child.type == "pitm" and meta.primary is not None:
            wide = meta.primary > 0xFFFF
            parts.append(full_box("pitm", int(wide), 0, _uint(meta.primary, 4 if wide else 2)))
        elif child.type == "iloc":
            parts.append(_iloc(meta, keep, moved, edit.large))
        elif child.type == "iref":
            parts.append(_iref(meta, edit.drop))
        elif child.type == "iprp":
            parts.append(box("iprp", _ipco(file, edit.blank) + _ipma(meta, keep, edit.blank)))
        elif child.type == "idat" and meta.idat is not None:
            idat = meta.idat.body
            parts.append(box("idat", b"".join(data[idat + e.offset:idat + e.offset + e.length]
                                              for e in _extents(file, keep, 1))))
        elif child.type == "grpl":
            parts.append(_checked_groups(file, child, edit.drop))
        elif child.type == "hdlr":
            parts.append(box("hdlr", data[child.body:child.body + _HDLR_FIXED] + b"\x00"))
        elif child.type == "dinf":
            # One data reference, flagged "the data is in this file" (iloc refuses any other).
            parts.append(box("dinf", full_box("dref", 0, 0, _uint(1, 4) + full_box("url ", 0, 1, b""))))
    return full_box("meta", 0, 0, b"".join(parts))


def _nameless_infe(data: bytes, infe: Box) -> bytes:
    """An infe entry up to its item type, with an empty name and nothing after it (the items written
    here are never `mime` or `uri ` items, whose content type or URI type would follow the name)."""
    id_size = 2 if data[infe.body] == 2 else 4
    type_end = infe.body + 4 + id_size + 2 + 4  # version/flags, item_ID, item_protection_index, item_type
    return box("infe", data[infe.body:type_end] + b"\x00")


def _new_offsets(extents: list[Extent], method: int, start: int) -> dict[tuple[int, int], int]:
    """(method, old offset) -> new offset, for extents copied back to back from `start`."""
    moved, pos = {}, start
    for e in extents:
        moved[(method, e.offset)] = pos
        pos += e.length
    return moved


def _iloc(meta: Meta, keep: list[int], moved: dict[tuple[int, int], int], large: bool) -> bytes:
    """iloc in the input's version, without base offsets or extent indexes; 8-byte fields only if needed."""
    version = meta.iloc_version
    size = 8 if large else 4
    id_size = 2 if version < 2 else 4
    located = [i for i in keep if i in meta.locations]
    out = [_uint(size << 12 | size << 8, 2), _uint(len(located), id_size)]
    for item_id in located:
        location = meta.locations[item_id]
        out.append(_uint(item_id, id_size))
        if version:
            out.append(_uint(location.method, 2))
        out.append(_uint(0, 2) + _uint(len(location.extents), 2))  # data_reference_index, extent_count
        for e in location.extents:
            out.append(_uint(moved[(location.method, e.offset)], size) + _uint(e.length, size))
    return full_box("iloc", version, 0, b"".join(out))


def _iref(meta: Meta, drop: AbstractSet[int]) -> bytes:
    id_size = 2 if meta.iref_version == 0 else 4
    refs = []
    for ref in meta.references:
        targets = [t for t in ref.targets if t not in drop]
        if ref.source in drop or not targets:
            continue
        ids = _uint(ref.source, id_size) + _uint(len(targets), 2) + b"".join(_uint(t, id_size) for t in targets)
        refs.append(box(ref.kind, ids))
    return full_box("iref", meta.iref_version, 0, b"".join(refs)) if refs else b""


def _ipco(file: File, blank: frozenset[int]) -> bytes:
    # Properties stay in place, so every ipma index stays valid; only the dropped items' links go.
    return box("ipco", b"".join(box("free", b"") if i in blank else p.raw(file.data)
                                for i, p in enumerate(file.meta.properties, 1)))


def _ipma(meta: Meta, keep: list[int], blank: frozenset[int]) -> bytes:
    version, flags = meta.ipma_version_flags
    id_size, index_bits = (2 if version == 0 else 4), (15 if flags & 1 else 7)
    entries = [i for i in keep if i in meta.associations]
    out = [_uint(len(entries), 4)]
    for item_id in entries:
        links = [(essential, index) for essential, index in meta.associations[item_id] if index not in blank]
        out.append(_uint(item_id, id_size) + _uint(len(links), 1))
        out.extend(_uint(essential << index_bits | index, 2 if flags & 1 else 1) for essential, index in links)
    return full_box("ipma", version, flags, b"".join(out))


def entity_groups(file: File, grpl: Box) -> list[tuple[str, tuple[int, ...]]]:
    """(grouping type, entity ids) of every EntityToGroupBox in a grpl box."""
    groups = []
    for group in read_boxes(file.data, grpl.body, grpl.end, "grpl"):
        cursor = _Cursor(file.data, group.body, group.end, f"grpl '{group.type}'")
        cursor.full_header()
        cursor.uint(4)  # group_id
        n = cursor.count(4, MAX_ITEMS, 4, "entities")
        groups.append((group.type, tuple(cursor.uint(4) for _ in range(n))))
    return groups


def _checked_groups(file: File, grpl: Box, drop: AbstractSet[int]) -> bytes:
    for kind, ids in entity_groups(file, grpl):
        if not drop.isdisjoint(ids):
            raise LosslessUnsupported(f"entity group '{kind}' contains a removed item")
    return grpl.raw(file.data)
