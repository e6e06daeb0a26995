"""HEIC / HEIF / AVIF: drop metadata items from the ISOBMFF container, keep every coded image byte-identical.

Removed: every `Exif`, `mime` (XMP and others) and `uri ` item of every image, with their `cdsc`
references; thumbnail items (`thmb`, unless KEEP_HEIF_THUMBNAILS) and whatever belongs only to a
removed item (its tiles, alpha, metadata); items linked to nothing shown; every property outside the
rendering allow-list or used by no kept item (`udes`, `crtt`, `mdft`, `uuid`...); `xml `/`bxml`/`uuid`
boxes in `meta`; every top-level box that is not `ftyp`, `meta` or `mdat` (Samsung `mpvd`
motion-photo video and `sefd`, vendor `uuid`). The writer blanks item and handler names and data
references. Kept byte-identical: the coded bitstreams, grids/overlays, auxiliary images (alpha, depth,
gain maps) and the allow-listed properties (`irot`/`imir`/`clap` orientation, `colr` colour), so
display is unchanged. Removed properties, and the ICC `colr` ones under KEEP_ICC=false, are written as
empty `free` boxes, which keeps the other indexes valid.
The container logic is in `images.isobmff`; this module decides what goes.
"""
from __future__ import annotations

import functools
import io

from images import exif, icc, isobmff
from images.model import Finding, Options, Span, check_pixels
from images.reencode import DECODER_ERRORS, PillowFormat, check_decoded, with_pillow
from shared.boxes import ftyp_brands
from shared.errors import LosslessUnsupported, MalformedInput
from shared.routing import ISO_IMAGE_BRANDS

NAME = "heif"

_MAJOR_BRANDS = ISO_IMAGE_BRANDS  # the one list, which also routes keys without a suffix
_STRUCTURAL_BRANDS = {b"mif1", b"msf1"}
_METADATA_ITEM_TYPES = {"Exif", "mime", "uri "}
# Item types that are pictures (coded or derived); any other item that nothing links to is not shown.
_IMAGE_ITEM_TYPES = {"hvc1", "lhv1", "av01", "avc1", "vvc1", "jpeg", "j2k1", "unci", "grid", "iovl", "iden", "tmap"}
# Item properties that decide how a picture is decoded or shown; every other property goes (user
# descriptions `udes`, creation/modification times `crtt`/`mdft`, vendor `uuid` properties...).
RENDERING_PROPERTIES = {
    "hvcC", "lhvC", "av1C", "avcC", "vvcC", "jpgC", "j2kH", "uncC", "cmpd", "cpat", "cloc",  # decoder setup
    "ispe", "pixi", "colr", "irot", "imir", "clap", "pasp", "rloc", "iscl",  # geometry and colour
    "auxC", "lsel", "a1op", "a1lx", "oinf", "tols", "rref",  # layers, auxiliary images, operating points
    "clli", "mdcv", "cclv", "amve",  # HDR
}
_PROPERTY_LABELS = {
    "udes": ("comments", "user description ('udes' property: name, description, tags)"),
    "crtt": ("timestamps", "creation time ('crtt' property)"),
    "mdft": ("timestamps", "modification time ('mdft' property)"),
    "uuid": ("other", "vendor 'uuid' property"),
    "altt": ("comments", "accessibility text ('altt' property)"),
}
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
    brands = ftyp_brands(head)
    if brands is None:
        return False
    major, compatible = brands
    return major in _MAJOR_BRANDS or any(b in _STRUCTURAL_BRANDS for b in compatible)


class Parsed:
    """One parsed file and what follows from it under `options`, each worked out once (inspect, strip
    and verify all ask; the registry passes the same options to every call). A valid file this editor
    cannot edit keeps the reason: inspect reports it, and strip raises it so the registry re-encodes."""

    def __init__(self, data: bytes, options: Options) -> None:
        self.data, self.options = data, options
        self._file: isobmff.File | None = None
        self.unsupported: str | None = None
        try:
            self._file = _parse_file(data, options)
        except LosslessUnsupported as exc:
            self.unsupported = exc.reason  # not the exception: its traceback would hold this object

    @property
    def file(self) -> isobmff.File:
        if self._file is None:  # parsing stopped at something valid this editor does not rewrite
            raise LosslessUnsupported(str(self.unsupported))
        return self._file

    @functools.cached_property
    def label(self) -> str:
        return _label(self.file)

    @functools.cached_property
    def unlinked_items(self) -> frozenset[int]:
        return _unlinked_items(self.file, self.options)

    @functools.cached_property
    def dropped_items(self) -> frozenset[int]:
        return _dropped_items(self.file, self.options, self.unlinked_items)

    @functools.cached_property
    def dropped_properties(self) -> frozenset[int]:
        return _dropped_properties(self.file, self.options, self.dropped_items)


def parse(data: bytes, options: Options) -> Parsed:
    """MalformedInput or InputTooLarge on a broken file; a valid one the editor cannot edit still parses."""
    return Parsed(data, options)


def _label(file: isobmff.File) -> str:
    """AVIF or HEIC, for findings: by major brand, else by the coded item types."""
    major = file.data[8:12]
    types = {item.type for item in file.meta.items.values()}
    return "AVIF" if major in (b"avif", b"avis") or "av01" in types else "HEIC"


def _parse_file(data: bytes, options: Options) -> isobmff.File:
    file = isobmff.parse(data)
    for prop in file.meta.properties:
        if prop.type == "ispe" and prop.end - prop.body >= 12:
            width = int.from_bytes(file.data[prop.body + 4:prop.body + 8], "big")
            height = int.from_bytes(file.data[prop.body + 8:prop.body + 12], "big")
            check_pixels(width, height, options.max_pixels)
    return file


def _dropped_items(file: isobmff.File, options: Options, unlinked: frozenset[int]) -> frozenset[int]:
    """Metadata items, thumbnails (by default) and every item that only serves a dropped item.

    One pass over the reference graph, linear in items + references: each item counts the masters it
    serves that are still kept, and goes when that count reaches zero."""
    meta = file.meta
    drop = _removed_outright(file, options) | unlinked
    serves: dict[int, set[int]] = {}  # item -> the items it exists for
    for ref in meta.references:
        for target in ref.targets:
            item, master = (target, ref.source) if ref.kind == _INPUTS else (ref.source, target)
            serves.setdefault(item, set()).add(master)
    served_by: dict[int, list[int]] = {}
    kept_masters = {item: len(masters) for item, masters in serves.items()}
    for item, masters in serves.items():
        for master in masters:
            served_by.setdefault(master, []).append(item)
    pending = list(drop)
    while pending:
        for item in served_by.get(pending.pop(), ()):
            kept_masters[item] -= 1
            if kept_masters[item] == 0 and item not in drop and item != meta.primary:
                drop.add(item)
                pending.append(item)
    return frozenset(drop)


def _removed_outright(file: isobmff.File, options: Options) -> set[int]:
    """Metadata items, and thumbnails unless they are kept."""
    meta = file.meta
    drop = {i for i, item in meta.items.items() if item.type in _METADATA_ITEM_TYPES}
    if not options.keep_heif_thumbnails:
        drop |= {r.source for r in meta.references if r.kind == "thmb"}
    return drop


def _unlinked_items(file: isobmff.File, options: Options) -> frozenset[int]:
    """Items linked to nothing that is shown (a hidden pre-crop original, a stray payload): not the
    primary, not in an entity group, not a visible picture, and not joined by any reference to one that
    is, other than through a removed metadata item or thumbnail (so that the output, walked again, keeps
    the same items). One walk, linear in items + references."""
    meta, removed = file.meta, _removed_outright(file, options)
    neighbours: dict[int, list[int]] = {}
    for ref in meta.references:
        for target in ref.targets:
            if ref.source not in removed and target not in removed:
                neighbours.setdefault(ref.source, []).append(target)
                neighbours.setdefault(target, []).append(ref.source)
    grouped = {i for grpl in meta.children if grpl.type == "grpl" for _, ids in isobmff.entity_groups(file, grpl)
               for i in ids}
    shown = {i for i, item in meta.items.items()
             if i == meta.primary or i in grouped or (item.type in _IMAGE_ITEM_TYPES and not item.hidden)}
    pending, reached = list(shown), set(shown)
    while pending:
        for other in neighbours.get(pending.pop(), ()):
            if other not in reached:
                reached.add(other)
                pending.append(other)
    return frozenset(set(meta.items) - reached - removed)


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


def _item_findings(parsed: Parsed, item_id: int, thumbnails: set[int]) -> list[Finding]:
    file, options = parsed.file, parsed.options
    item = file.meta.items[item_id]
    where = f"{parsed.label} {item.type.strip()} item {item_id}"
    if item.type == "Exif":
        found, _ = exif.findings(_exif_tiff(file.payload(item_id)), options, where)
        # HEIF displays by irot/imir; the EXIF tag is informative only and goes with the item.
        return [Finding("other", f"EXIF {f.detail} (display follows irot/imir)") if f.cls == "orientation" else f
                for f in found]
    if item.type == "mime":
        content_type = item.content_type.lower()
        is_xmp = "xmp" in content_type or "rdf" in content_type or b"<x:xmpmeta" in file.payload(item_id)
        return [Finding("xmp" if is_xmp else "other", f"{where} ({item.content_type or 'no content type'})")]
    if item_id in thumbnails:
        return [Finding("thumbnails", f"{where} (thumbnail)")]
    if item_id in parsed.unlinked_items:
        return [Finding("other", f"{where} linked to no shown image")]
    return [Finding("other", f"{where} belonging only to removed items")]


def _orientation(parsed: Parsed) -> list[Finding]:
    """The primary image's irot/imir, as the EXIF Orientation with the same effect (kept unless baked)."""
    file = parsed.file
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
    return [Finding("orientation", f"Orientation={value} ({parsed.label} irot/imir of the primary image)",
                    removed=parsed.options.orientation == "bake")]


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


def _dropped_properties(file: isobmff.File, options: Options, drop: frozenset[int]) -> frozenset[int]:
    """ipco indexes written as empty boxes: properties rendering does not need, those no kept item uses,
    and (KEEP_ICC=false) the ICC colour properties."""
    used = {index for item_id, links in file.meta.associations.items() if item_id not in drop for _, index in links}
    unneeded = {i for i, p in enumerate(file.meta.properties, 1) if p.type not in RENDERING_PROPERTIES or i not in used}
    return frozenset(unneeded | (set() if options.keep_icc else _icc_properties(file)))


def _essential_unknown(parsed: Parsed) -> str | None:
    """The type of an essential property a kept item has and this editor would remove, if any."""
    file, drop, gone = parsed.file, parsed.dropped_items, parsed.dropped_properties
    for item_id, links in file.meta.associations.items():
        for essential, index in links:
            prop = file.meta.properties[index - 1]
            if essential and item_id not in drop and index in gone and prop.type not in RENDERING_PROPERTIES:
                return prop.type
    return None


def _property_findings(parsed: Parsed) -> list[Finding]:
    file = parsed.file
    found, icc = [], _icc_properties(file)
    for index in sorted(parsed.dropped_properties - icc):
        prop = file.meta.properties[index - 1]
        if prop.type in RENDERING_PROPERTIES or (prop.type in ("free", "skip") and prop.end == prop.body):
            continue  # decoding parameters of a removed item, or empty padding: nothing to report
        cls, detail = _PROPERTY_LABELS.get(prop.type, ("other", f"'{prop.type}' property"))
        found.append(Finding(cls, f"{parsed.label} {detail}"))
    return found


def _name_findings(parsed: Parsed) -> list[Finding]:
    """Names the writer leaves empty: item names, the handler name, data reference locations."""
    meta, drop, label = parsed.file.meta, parsed.dropped_items, parsed.label
    found = [Finding("other", f"{label} item {i} name {item.name[:60]!r}")
             for i, item in meta.items.items() if item.name and i not in drop]
    if meta.handler_name:
        found.append(Finding("other", f"{label} handler name {meta.handler_name[:60]!r}"))
    found += [Finding("other", f"{label} data reference {ref[:80]}") for ref in meta.data_references]
    return found


def _icc(parsed: Parsed) -> list[Finding]:
    file = parsed.file
    detail, removed, indexes = f"{parsed.label} ICC profile ('colr' property)", not parsed.options.keep_icc, _icc_properties(file)
    profiles = {file.data[p.body + 4:p.end] for p in (file.meta.properties[i - 1] for i in indexes)}  # after the type
    found = [Finding("icc", detail, removed=removed)] if indexes else []
    return found + [f for profile in sorted(profiles) for f in icc.findings(profile, detail, removed)]


def inspect(parsed: Parsed, options: Options) -> list[Finding]:
    if parsed.unsupported:  # valid but not editable here: strip re-encodes it without metadata
        return [Finding("other", f"whole file (not edited losslessly: {parsed.unsupported})")]
    file, drop = parsed.file, parsed.dropped_items
    thumbnails = {r.source for r in file.meta.references if r.kind == "thmb"}
    found = _top_level_findings(file)
    for item_id in sorted(drop):
        found += _item_findings(parsed, item_id, thumbnails)
    found += [Finding("thumbnails", f"{parsed.label} item {i} (thumbnail)", removed=False)
              for i in sorted(thumbnails - drop)]
    found += _property_findings(parsed) + _name_findings(parsed)
    return found + _orientation(parsed) + _icc(parsed)


def strip(parsed: Parsed, options: Options) -> bytes:
    file = parsed.file
    if "moov" in {b.type for b in file.top}:
        raise LosslessUnsupported("image sequence track ('moov') is not edited losslessly")
    essential = _essential_unknown(parsed)
    if essential:
        raise LosslessUnsupported(f"essential item property '{essential}' is not understood")
    return isobmff.without_items(file, parsed.dropped_items, parsed.dropped_properties)


def image_data(parsed: Parsed, options: Options) -> list[bytes | Span]:
    """Per kept item: id, type and its properties, then its payload extent by extent, compared in place
    (all must survive byte-identical); and ftyp."""
    file, data, drop, gone = parsed.file, parsed.data, parsed.dropped_items, parsed.dropped_properties
    out: list[bytes | Span] = [file.top[0].raw(data), str(file.meta.primary).encode()]
    for item_id in sorted(set(file.meta.items) - drop):
        head = f"{item_id}:{file.meta.items[item_id].type}:".encode()
        props = b"".join(bytes([essential]) + p.raw(data)
                         for essential, p in file.item_properties(item_id, gone))
        out += [head + props, *file.payload_spans(item_id)]
    return out


# ---- the fallback re-encode ----

def register_opener() -> None:
    """Let Pillow open HEIC through pillow-heif (AVIF is Pillow's own plugin)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def reencode(data: bytes, options: Options) -> bytes:
    """Every top-level image re-encoded at the highest quality, with no EXIF/XMP; colour profile kept."""
    head = data[:4096]  # ftyp and meta: the major brand, or the coded item type for vendor brands
    if data[8:12] in (b"avif", b"avis") or (b"av01" in head and b"hvc1" not in head):
        encoded = _reencode_avif(data, options)
    else:
        encoded = _reencode_heic(data, options)
    # The encoders name their items ("Color", "Alpha") and their handler: the editor blanks those too.
    return strip(parse(encoded, options), options)


def _reencode_heic(data: bytes, options: Options) -> bytes:
    """libheif applies irot/imir/clap on decode, so the pixels are already as displayed."""
    import pillow_heif

    try:
        source = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
        check_decoded(sum(image.size[0] * image.size[1] for image in source), options.max_pixels,
                      f"{len(source)} images")
        out = pillow_heif.HeifFile()
        for image in source:
            added = out.add_frombytes(image.mode, image.size, image.data, stride=image.stride)
            icc = image.info.get("icc_profile")
            if icc and options.keep_icc:
                added.info["icc_profile"] = icc
            added.info["nclx_profile"] = image.info.get("nclx_profile")
        buffer = io.BytesIO()
        out.save(buffer, quality=-1, chroma=444, primary_index=source.primary_index, exif=None, xmp=None)
    except DECODER_ERRORS as exc:
        raise MalformedInput(f"pillow-heif cannot re-encode it: {exc}") from exc
    return buffer.getvalue()


def _avif_encoder_args(im, data: bytes, options: Options) -> dict:
    return {"quality": 100, "subsampling": "4:4:4", "xmp": b""}


# Pillow's AVIF plugin maps irot/imir to an EXIF Orientation and back, so the generic path fits AVIF.
_AVIF = PillowFormat("AVIF", _avif_encoder_args)
# How the re-encoded output is checked: Pillow, with pillow-heif's opener for HEIC.
PILLOW = PillowFormat("HEIF", opener=register_opener)


def _reencode_avif(data: bytes, options: Options) -> bytes:
    return with_pillow(_AVIF, data, options)