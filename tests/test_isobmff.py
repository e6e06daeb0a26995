"""The ISOBMFF item parser/writer on hand-built files: every iloc layout, removal, and bad input."""
from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from images import isobmff
from images.isobmff import box, full_box
from shared.errors import InputTooLarge, LosslessUnsupported, MalformedInput, ScrubError

SECRET = b"GPS 48.8584N 2.2945E serial SN-0001"


@dataclass
class Spec:
    """One item of a synthetic file: its chunks are its extents; method 1 puts them in idat."""

    id: int
    type: str = "hvc1"
    chunks: tuple[bytes, ...] = (b"coded image bytes",)
    method: int = 0
    at: tuple[tuple[int, int], ...] = ()  # explicit (offset into mdat payload, length) extents instead


@dataclass
class Layout:
    iloc_version: int = 1
    offset_size: int = 4
    length_size: int = 4
    base_size: int = 4


def _infe(spec: Spec) -> bytes:
    body = struct.pack(">HH4s", spec.id, 0, spec.type.encode("latin-1")) + b"\x00"
    if spec.type == "mime":
        body += b"application/rdf+xml\x00"
    return full_box("infe", 2, 0, body)


def _iloc(specs: list[Spec], layout: Layout, mdat_start: int) -> bytes:
    v, o, ln, b = layout.iloc_version, layout.offset_size, layout.length_size, layout.base_size
    id_size = 2 if v < 2 else 4
    out = [struct.pack(">BB", o << 4 | ln, b << 4), len(specs).to_bytes(id_size, "big")]
    file_pos, idat_pos = mdat_start, 0
    for spec in specs:
        start = idat_pos if spec.method else file_pos
        spans, pos = [], start
        for chunk in spec.chunks:
            spans.append((pos, len(chunk)))
            pos += len(chunk)
        if spec.method:
            idat_pos = pos
        else:
            file_pos = pos
        if spec.at:
            spans = [(mdat_start + off, length) for off, length in spec.at]
        base = spans[0][0] if b else 0
        out.append(spec.id.to_bytes(id_size, "big") + (spec.method.to_bytes(2, "big") if v else b""))
        out.append(b"\x00\x00" + base.to_bytes(b, "big") + len(spans).to_bytes(2, "big"))
        out.extend((off - base).to_bytes(o, "big") + length.to_bytes(ln, "big") for off, length in spans)
    return full_box("iloc", v, 0, b"".join(out))


def synthetic(specs: list[Spec], refs: tuple[tuple[str, int, tuple[int, ...]], ...] = (),
              layout: Layout | None = None, extra_meta: bytes = b"", extra_top: bytes = b"", primary: int = 1) -> bytes:
    """A structurally valid HEIF-like file (the coded bytes are not real HEVC: the parser never decodes)."""
    layout = layout or Layout()
    ftyp = box("ftyp", b"heic\x00\x00\x00\x00mif1heic")
    iinf = full_box("iinf", 0, 0, struct.pack(">H", len(specs)) + b"".join(_infe(s) for s in specs))
    iref = full_box("iref", 0, 0, b"".join(
        box(kind, struct.pack(">HH", src, len(dst)) + b"".join(struct.pack(">H", d) for d in dst))
        for kind, src, dst in refs)) if refs else b""
    ipco = box("ipco", full_box("ispe", 0, 0, struct.pack(">II", 64, 48)) + box("irot", b"\x03"))
    ipma = full_box("ipma", 0, 0, struct.pack(">IHBBB", 1, primary, 2, 0x81, 0x02))
    idat_data = b"".join(c for s in specs if s.method for c in s.chunks)
    hdlr = full_box("hdlr", 0, 0, b"\x00" * 4 + b"pict" + b"\x00" * 13)
    head = [hdlr, full_box("pitm", 0, 0, struct.pack(">H", primary)), iinf, iref, box("iprp", ipco + ipma),
            box("idat", idat_data) if idat_data else b"", extra_meta]

    def meta(mdat_start: int) -> bytes:
        return full_box("meta", 0, 0, b"".join(head[:3]) + _iloc(specs, layout, mdat_start) + b"".join(head[3:]))

    mdat_payload = b"".join(c for s in specs if not s.method for c in s.chunks)
    mdat_start = len(ftyp) + len(meta(0)) + len(extra_top) + 8
    return ftyp + meta(mdat_start) + extra_top + box("mdat", mdat_payload)


ITEMS = [
    Spec(1, "hvc1", (b"tile-one-", b"tile-two-", b"tile-three")),
    Spec(2, "Exif", (b"\x00\x00\x00\x06Exif\x00\x00MM\x00*" + SECRET,)),
    Spec(3, "mime", (b"<x:xmpmeta>" + SECRET + b"</x:xmpmeta>",)),
    Spec(4, "grid", (b"\x00\x00\x00\x01\x00\x40\x00\x30",), method=1),
    Spec(5, "Exif", (b"\x00\x00\x00\x00" + SECRET,), method=1),
]
REFS = (("cdsc", 2, (1,)), ("cdsc", 3, (1, 4)), ("dimg", 4, (1,)), ("cdsc", 5, (4,)))
LAYOUTS = [Layout(0, 4, 4, 0), Layout(1, 4, 4, 4), Layout(2, 8, 8, 8), Layout(1, 8, 4, 0)]


def _layout_id(layout: Layout) -> str:
    return f"v{layout.iloc_version}-sizes{layout.offset_size}{layout.length_size}{layout.base_size}"


@pytest.mark.parametrize("layout", LAYOUTS, ids=_layout_id)
def test_every_iloc_layout_round_trips_without_the_dropped_items(layout):
    specs = [s for s in ITEMS if not (layout.iloc_version == 0 and s.method)]
    data = synthetic(specs, tuple(r for r in REFS if all(i in {s.id for s in specs} for i in (r[1], *r[2]))), layout)
    parsed = isobmff.parse(data)
    assert {s.id: parsed.payload(s.id) for s in specs} == {s.id: b"".join(s.chunks) for s in specs}

    drop = {s.id for s in specs if s.type in ("Exif", "mime")}
    out = isobmff.without_items(parsed, drop)
    again = isobmff.parse(out)
    assert set(again.meta.items) == {s.id for s in specs} - drop
    assert {i: again.payload(i) for i in again.meta.items} == {i: parsed.payload(i) for i in again.meta.items}
    assert SECRET not in out and len(out) < len(data)
    assert all(r.source not in drop and not drop & set(r.targets) for r in again.meta.references)
    assert [(e, p.raw(out)) for e, p in again.item_properties(1)] == [
        (e, p.raw(data)) for e, p in parsed.item_properties(1)]


def test_a_reference_list_loses_only_its_dropped_targets():
    data = synthetic([Spec(1), Spec(2), Spec(3, "Exif")], (("cdsc", 3, (1, 2)), ("auxl", 2, (1, 3))))
    again = isobmff.parse(isobmff.without_items(isobmff.parse(data), {3}))
    assert again.meta.references == [isobmff.Reference("auxl", 2, (1,))]


def test_top_level_boxes_other_than_the_image_are_not_written():
    trailer = box("mpvd", b"\x00\x00\x00\x08moov" + SECRET) + box("free", SECRET)
    data = synthetic([Spec(1)], extra_top=trailer)
    out = isobmff.without_items(isobmff.parse(data), set())
    assert [b.type for b in isobmff.parse(out).top] == ["ftyp", "meta", "mdat"] and SECRET not in out


def test_a_size_zero_mdat_runs_to_the_end_of_the_file():
    data = synthetic([Spec(1)])
    mdat = data.rindex(b"mdat") - 4
    data = data[:mdat] + b"\x00\x00\x00\x00" + data[mdat + 4:]
    assert isobmff.parse(data).payload(1) == b"coded image bytes"


def test_primary_item_is_never_dropped():
    with pytest.raises(LosslessUnsupported):
        isobmff.without_items(isobmff.parse(synthetic([Spec(1)])), {1})


def _patch(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def _box_at(data: bytes, kind: bytes) -> int:
    return data.index(kind) - 4


BASE = synthetic([Spec(1), Spec(2, "Exif")], (("cdsc", 2, (1,)),))
MALFORMED = {
    "empty": (b"", MalformedInput),
    "no ftyp first": (box("free", b"") + BASE, MalformedInput),
    "truncated in meta": (BASE[:60], MalformedInput),
    "truncated in mdat": (BASE[:-3], MalformedInput),
    "stray bytes": (BASE + b"\x00\x00\x00", MalformedInput),
    "box past the end": (_patch(BASE, _box_at(BASE, b"meta"), b"\x7f\xff\xff\xff"), MalformedInput),
    "box smaller than its header": (_patch(BASE, _box_at(BASE, b"hdlr"), b"\x00\x00\x00\x04"), MalformedInput),
    "size-0 box inside meta": (_patch(BASE, _box_at(BASE, b"hdlr"), b"\x00\x00\x00\x00"), MalformedInput),
    "64-bit size overflow": (BASE + b"\x00\x00\x00\x01free\x7f\xff\xff\xff\xff\xff\xff\xff", MalformedInput),
    "two meta boxes": (BASE + BASE[_box_at(BASE, b"meta"):_box_at(BASE, b"mdat")], MalformedInput),
    "extent past the end": (synthetic([Spec(1, at=((0, 10_000),))]), MalformedInput),
    "overlapping extents": (synthetic([Spec(1, at=((0, 8),)), Spec(2, at=((4, 8),))]), MalformedInput),
    "reference to a missing item": (synthetic([Spec(1)], (("cdsc", 9, (1,)),)), MalformedInput),
    "missing primary item": (synthetic([Spec(2)], primary=7), MalformedInput),
    "item count lies": (_patch(BASE, _box_at(BASE, b"iinf") + 12, b"\x00\x05"), MalformedInput),
    "huge item count": (_patch(BASE, _box_at(BASE, b"iinf") + 8, b"\x01\x00\x00\x00\xff\xff\xff\xff"), InputTooLarge),
    "huge reference count": (_patch(BASE, _box_at(BASE, b"cdsc") + 10, b"\xff\xff"), MalformedInput),
    "property index out of range": (_patch(BASE, _box_at(BASE, b"ipma") + 20, b"\x89"), MalformedInput),
    "iloc version 3": (_patch(BASE, _box_at(BASE, b"iloc") + 8, b"\x03"), LosslessUnsupported),
    "construction method 2": (_patch(BASE, _box_at(BASE, b"iloc") + 18, b"\x00\x02"), LosslessUnsupported),
    "unknown meta child": (synthetic([Spec(1)], extra_meta=box("ipro", b"")), LosslessUnsupported),
    "not a picture handler": (BASE.replace(b"pict", b"vide"), LosslessUnsupported),
    "too many boxes": (BASE + box("free", b"") * (isobmff.MAX_BOXES + 1), InputTooLarge),
}


@pytest.mark.parametrize("case", MALFORMED, ids=str)
def test_bad_input_gets_a_typed_error_with_a_one_line_reason(case):
    data, error = MALFORMED[case]
    with pytest.raises(error) as caught:
        isobmff.parse(data)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(error.kind)


def test_every_truncation_is_refused():
    for end in range(len(BASE)):
        with pytest.raises(ScrubError):
            isobmff.parse(BASE[:end])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.integers(0, 16))
def test_fuzzed_files_parse_and_rewrite_or_raise_typed_errors(edits, cut):
    data = bytearray(BASE)
    for at, value in edits:
        data[at] = value
    data = bytes(data[:len(data) - cut])
    try:
        parsed = isobmff.parse(data)
        out = isobmff.without_items(parsed, {i for i, item in parsed.meta.items.items() if item.type == "Exif"})
    except ScrubError:
        return
    again = isobmff.parse(out)
    assert all(again.payload(i) == parsed.payload(i) for i in again.meta.items)
