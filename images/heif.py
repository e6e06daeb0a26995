"""HEIC / HEIF / AVIF: drop metadata items from the ISOBMFF container, keep every coded image byte-identical.

Removed: every `Exif`, `mime` (XMP and others) and `uri ` item of every image, with their `cdsc`
references; thumbnail items (`thmb`, unless KEEP_HEIF_THUMBNAILS) and whatever belongs only to a
removed item (its tiles, alpha, metadata); `xml `/`bxml`/`uuid` boxes in `meta`; every top-level box
that is not `ftyp`, `meta` or `mdat` (Samsung `mpvd` motion-photo video and `sefd`, vendor `uuid`).
Kept byte-identical: the coded bitstreams, grids/overlays, auxiliary images (alpha, depth, gain maps)
and every property (`irot`/`imir`/`clap` orientation, `colr` colour), so display is unchanged.
KEEP_ICC=false blanks the ICC `colr` properties (an empty `free` box keeps the other indexes valid).
The container logic is in `images.isobmff`; this module decides what goes.
"""
from __future__ import annotations

import io

from images import exif, isobmff
from images.memo import by_identity
from images.model import Finding, Options, check_pixels
from shared.errors import LosslessUnsupported, MalformedInput
from shared.routing import ISO_IMAGE_BRANDS

NAME = "heif"

_MAJOR_BRANDS = ISO_IMAGE_BRANDS  # the one list, which also routes keys without a suffix
_STRUCTURAL_BRANDS = {b"mif1", b"msf1"}
_METADATA_ITEM_TYPES = {"Exif", "mime", "uri "}
# A reference from A to B says A exists for B (A is B's metadata, thumbnail, alpha, depth map...),
# except `dimg`, which runs the other way: B is an input (a grid tile) of the derived image A.
_INPUTS = "dimg"
_TOP_LEVEL_IMAGE = {"ftyp", "meta", "mdat"}
_TOP_LEVEL_PADDING = {"free", "skip"}
_TOP_LEVEL_LABELS = {
    "moov": ("other", "image sequence track (top-level 'moov' box)"),
    "mpvd": ("trailer", "Samsung motion-photo video (top-level 'mpvd' box)"),
    "sefd": ("trailer", "Samsung trailer data (top-level 'sefd' box)"),
    "uuid": ("other", "vendor 'uuid' box"),
}
_META_LABELS = {"xml ": ("xmp", "XML box in meta"), "bxml": ("xmp", "binary XML box in meta"),
                "uuid": ("other", "vendor 'uuid' box in meta")}
# irot/imir as 2x2 matrices (x right, y up), and the EXIF Orientation with the same effect.
_ROTATE_CCW = ((0, -1), (1, 0))
_MIRRORS = (((-1, 0), (0, 1)), ((1, 0), (0, -1)))  # imir axis 0: left-right, axis 1: top-bottom
_EXIF_ORIENTATION = {
    ((1, 0), (0, 1)): 1, ((-1, 0), (0, 1)): 2, ((-1, 0), (0, -1)): 3, ((1, 0), (0, -1)): 4,
    ((0, -1), (-1, 0)): 5, ((0, 1), (-1, 0)): 6, ((0, 1), (1, 0)): 7, ((0, -1), (1, 0)): 8,
}


def sniff(head: bytes) -> bool:
    """ftyp with a HEIF/AVIF major brand, or a compatible brand of the item structure (mif1/msf1)."""
    if head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[:4], "big")
    compatible = [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    return head[8:12] in _MAJOR_BRANDS or any(b in _STRUCTURAL_BRANDS for b in compatible)


def label(file: isobmff.File) -> str:
    """AVIF or HEIC, for findings: by major brand, else by the coded item types."""
    major = file.data[8:12]
    types = {item.type for item in file.meta.items.values()}
    return "AVIF" if major in (b"avif", b"avis") or "av01" in types else "HEIC"


@by_identity()
def _parse(data: bytes, options: Options) -> isobmff.File:
    file = isobmff.parse(data)
    for prop in file.meta.properties:
        if prop.type == "ispe" and prop.end - prop.body >= 12:
            width = int.from_bytes(file.data[prop.body + 4:prop.body + 8], "big")
            height = int.from_bytes(file.data[prop.body + 8:prop.body + 12], "big")
            check_pixels(width, height, options.max_pixels)
    return file


def dropped_items(file: isobmff.File, options: Options) -> set[int]:
    """Metadata items, thumbnails (by default) and every item that only serves a dropped item."""
    meta = file.meta
    drop = {i for i, item in meta.items.items() if item.type in _METADATA_ITEM_TYPES}
    if not options.keep_heif_thumbnails:
        drop |= {r.source for r in meta.references if r.kind == "thmb"}
    serves: dict[int, set[int]] = {}  # item -> the items it exists for
    for ref in meta.references:
        for target in ref.targets:
            item, master = (target, ref.source) if ref.kind == _INPUTS else (ref.source, target)
            serves.setdefault(item, set()).add(master)
    served_by: dict[int, set[int]] = {}
    for item, masters in serves.items():
        for master in masters:
            served_by.setdefault(master, set()).add(item)
    pending = list(drop)
    while pending:
        for item in served_by.get(pending.pop(), ()):
            if item not in drop and item != meta.primary and serves[item] <= drop:
                drop.add(item)
                pending.append(item)
    return drop


def _top_level_findings(file: isobmff.File) -> list[Finding]:
    found = []
    for b in file.top:
        if b.type in _TOP_LEVEL_IMAGE or b.type in _TOP_LEVEL_PADDING:
            continue
        cls, detail = _TOP_LEVEL_LABELS.get(b.type, ("other", f"top-level '{b.type}' box"))
        found.append(Finding(cls, f"{detail}, {b.end - b.start} bytes"))
    for child in file.meta.children:
        if child.type in _META_LABELS:
            cls, detail = _META_LABELS[child.type]
            found.append(Finding(cls, detail))
    return found


def _exif_tiff(payload: bytes) -> bytes:
    """The TIFF inside an Exif item: a 4-byte offset to the TIFF header, then (usually) `Exif\\0\\0`."""
    start = 4 + int.from_bytes(payload[:4], "big") if len(payload) >= 4 else len(payload)
    return payload[start:]


def _item_findings(file: isobmff.File, item_id: int, options: Options, thumbnails: set[int]) -> list[Finding]:
    item = file.meta.items[item_id]
    where = f"{label(file)} {item.type.strip()} item {item_id}"
    if item.type == "Exif":
        found, _ = exif.findings(_exif_tiff(file.payload(item_id)), options, where)
        # HEIF displays by irot/imir; the EXIF tag is informative only and goes with the item.
        return [Finding("other", f"EXIF {f.detail} (display follows irot/imir)") if f.cls == "orientation" else f
                for f in found] or [Finding("other", f"{where} (empty)")]
    if item.type == "mime":
        content_type = item.content_type.lower()
        is_xmp = "xmp" in content_type or "rdf" in content_type or b"<x:xmpmeta" in file.payload(item_id)
        return [Finding("xmp" if is_xmp else "other", f"{where} ({item.content_type or 'no content type'})")]
    if item_id in thumbnails:
        return [Finding("thumbnails", f"{where} (thumbnail)")]
    return [Finding("other", f"{where} belonging only to removed items")]


def _orientation(file: isobmff.File, options: Options) -> list[Finding]:
    """The primary image's irot/imir, as the EXIF Orientation with the same effect (kept unless baked)."""
    if file.meta.primary is None:
        return []
    matrix = ((1, 0), (0, 1))
    for _, prop in file.item_properties(file.meta.primary):
        if prop.type in ("irot", "imir") and prop.end > prop.body:
            step = file.data[prop.body]
            change = _rotation(step & 3) if prop.type == "irot" else _MIRRORS[step & 1]
            matrix = _compose(change, matrix)
    value = _EXIF_ORIENTATION[matrix]
    if value == 1:
        return []
    return [Finding("orientation", f"Orientation={value} ({label(file)} irot/imir of the primary image)",
                    removed=options.orientation == "bake")]


def _rotation(quarter_turns: int) -> tuple:
    matrix = ((1, 0), (0, 1))
    for _ in range(quarter_turns):
        matrix = _compose(_ROTATE_CCW, matrix)
    return matrix


def _compose(a: tuple, b: tuple) -> tuple:
    """The matrix product a x b (apply b, then a)."""
    return tuple(tuple(sum(a[r][k] * b[k][c] for k in range(2)) for c in range(2)) for r in range(2))


def _icc_properties(file: isobmff.File) -> frozenset[int]:
    """ipco indexes of the colour properties that carry an ICC profile (not the nclx ones)."""
    return frozenset(i for i, p in enumerate(file.meta.properties, 1)
                     if p.type == "colr" and file.data[p.body:p.body + 4] in (b"prof", b"rICC"))


def _dropped_properties(file: isobmff.File, options: Options) -> frozenset[int]:
    return frozenset() if options.keep_icc else _icc_properties(file)


def _icc(file: isobmff.File, options: Options) -> list[Finding]:
    detail = f"{label(file)} ICC profile ('colr' property)"
    return [Finding("icc", detail, removed=not options.keep_icc)] if _icc_properties(file) else []


def inspect(data: bytes, options: Options) -> list[Finding]:
    try:
        file = _parse(data, options)
    except LosslessUnsupported as exc:  # valid but not editable here: strip re-encodes it without metadata
        return [Finding("other", f"whole file (not edited losslessly: {exc.reason})")]
    drop = dropped_items(file, options)
    thumbnails = {r.source for r in file.meta.references if r.kind == "thmb"}
    found = _top_level_findings(file)
    for item_id in sorted(drop):
        found += _item_findings(file, item_id, options, thumbnails)
    found += [Finding("thumbnails", f"{label(file)} item {i} (thumbnail)", removed=False)
              for i in sorted(thumbnails - drop)]
    return found + _orientation(file, options) + _icc(file, options)


def strip(data: bytes, options: Options) -> bytes:
    file = _parse(data, options)
    if "moov" in {b.type for b in file.top}:
        raise LosslessUnsupported("image sequence track ('moov') is not edited losslessly")
    return isobmff.without_items(file, dropped_items(file, options), _dropped_properties(file, options))


def image_data(data: bytes, options: Options) -> list[bytes]:
    """Per kept item: id, type, payload and its properties (all must survive byte-identical); and ftyp."""
    file = _parse(data, options)
    drop, dropped_properties = dropped_items(file, options), _dropped_properties(file, options)
    out = [file.top[0].raw(data), str(file.meta.primary).encode()]
    for item_id in sorted(set(file.meta.items) - drop):
        head = f"{item_id}:{file.meta.items[item_id].type}:".encode()
        props = b"".join(bytes([essential]) + p.raw(data)
                         for essential, p in file.item_properties(item_id, dropped_properties))
        out.append(head + props + file.payload(item_id))
    return out


# ---- fallback re-encode (called through images.reencode) ----

def register_opener() -> None:
    """Let Pillow open HEIC through pillow-heif (AVIF is Pillow's own plugin)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def reencode(data: bytes, options: Options) -> bytes:
    """Every top-level image re-encoded at the highest quality, with no EXIF/XMP; colour profile kept."""
    head = data[:4096]  # ftyp and meta: the major brand, or the coded item type for vendor brands
    if data[8:12] in (b"avif", b"avis") or (b"av01" in head and b"hvc1" not in head):
        return _reencode_avif(data, options)
    return _reencode_heic(data, options)


def _reencode_heic(data: bytes, options: Options) -> bytes:
    """libheif applies irot/imir/clap on decode, so the pixels are already as displayed."""
    import pillow_heif

    try:
        source = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
        out = pillow_heif.HeifFile()
        for image in source:
            check_pixels(*image.size, options.max_pixels)
            added = out.add_frombytes(image.mode, image.size, image.data, stride=image.stride)
            icc = image.info.get("icc_profile")
            if icc and options.keep_icc:
                added.info["icc_profile"] = icc
            added.info["nclx_profile"] = image.info.get("nclx_profile")
        buffer = io.BytesIO()
        out.save(buffer, quality=-1, chroma=444, primary_index=source.primary_index, exif=None, xmp=None)
    except (RuntimeError, ValueError, OSError) as exc:
        raise MalformedInput(f"pillow-heif cannot re-encode it: {exc}") from exc
    return buffer.getvalue()


def _reencode_avif(data: bytes, options: Options) -> bytes:
    """Pillow's AVIF plugin maps irot/imir to an EXIF Orientation and back, so the generic path fits."""
    from images.reencode import with_pillow

    return with_pillow("avif", data, options)