"""HEIC / AVIF: the lossless item stripper, judged by exiftool and by pixel equality (pillow-heif / Pillow)."""
from __future__ import annotations

import io
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import corpus
from devtools.judge import exiftool_tags
from images import heif, isobmff, registry
from images.isobmff import box
from images.model import Options
from imaging import REPO, corpus_image_paths, corpus_images, displayed_size, frames, full_exif, image_data, leaks
from shared.errors import InputTooLarge, LosslessUnsupported, MalformedInput, ScrubError

XMP = (b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
       b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Jane Doe" '
       b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.5N"/></rdf:RDF></x:xmpmeta>'
       b'<?xpacket end="w"?>')


def _gradient(width: int) -> Image.Image:
    return Image.linear_gradient("L").convert("RGB").resize((width, 48))


def heic_with(widths: tuple[int, ...] = (64,), orientation: int = 6) -> bytes:
    """A real HEIC (pillow-heif) with one top-level image per width, each with full EXIF and XMP."""
    import pillow_heif

    heif_file = pillow_heif.HeifFile()
    for width in widths:
        added = heif_file.add_from_pillow(_gradient(width))
        added.info["exif"], added.info["xmp"] = full_exif(orientation), XMP
    out = io.BytesIO()
    heif_file.save(out, quality=90)
    return out.getvalue()


def avif_with() -> bytes:
    out = io.BytesIO()
    _gradient(64).save(out, "AVIF", exif=full_exif(6), xmp=XMP)
    return out.getvalue()


def items_of(data: bytes) -> dict[int, str]:
    return {i: item.type for i, item in isobmff.parse(data).meta.items.items()}


def with_reference(data: bytes, kind: str, source: int, target: int) -> bytes:
    """The file rewritten with one more item reference (the writer is exercised by its own tests)."""
    parsed = isobmff.parse(data)
    parsed.meta.references.append(isobmff.Reference(kind, source, (target,)))
    return isobmff.without_items(parsed, set())


def grid_of(data: bytes, columns: int, tile: tuple[int, int]) -> bytes:
    """`data` (a HEIC of equal top-level images) with a grid item over them, hidden, as the primary image,
    described by Exif item 2. New boxes are appended to the parsed bytes, then written out properly."""
    parsed = isobmff.parse(data)
    meta, tiles, raw = parsed.meta, [i for i, it in parsed.meta.items.items() if it.type == "hvc1"], bytearray(data)
    grid_id = max(meta.items) + 1
    size = (tile[0] * columns, tile[1] * (len(tiles) // columns))

    def append(kind: str, body: bytes) -> isobmff.Box:
        start = len(raw)
        raw.extend(box(kind, body))
        return isobmff.Box(kind, start, start + 8, len(raw))

    for tile_id in tiles:  # hidden: the tiles are no longer images of their own
        body = bytearray(meta.items[tile_id].infe.payload(data))
        body[3] |= 1
        meta.items[tile_id] = isobmff.Item(tile_id, "hvc1", "", append("infe", bytes(body)))
    infe = append("infe", b"\x02\x00\x00\x00" + grid_id.to_bytes(2, "big") + b"\x00\x00grid\x00")
    layout = append("grid", bytes((0, 0, len(tiles) // columns - 1, columns - 1)) + struct.pack(">HH", *size))
    meta.properties.append(append("ispe", struct.pack(">III", 0, *size)))
    meta.items[grid_id] = isobmff.Item(grid_id, "grid", "", infe)
    meta.locations[grid_id] = isobmff.Location(0, (isobmff.Extent(layout.body, layout.end - layout.body),))
    meta.associations[grid_id] = [(False, len(meta.properties))]
    meta.references += [isobmff.Reference("dimg", grid_id, tuple(tiles)), isobmff.Reference("cdsc", 2, (grid_id,))]
    meta.primary = grid_id
    parsed.data = bytes(raw)
    return isobmff.without_items(parsed, set())


def test_corpus_has_heic_and_avif() -> None:
    heif_files = corpus_image_paths("heif")
    assert {p.suffix for p in heif_files} >= {".heic", ".avif"} and len(heif_files) >= 7


@pytest.mark.parametrize("path", corpus_images("heif"))
def test_corpus_file_is_clean_identical_and_upright(path, tmp_path) -> None:
    data = path.read_bytes()
    result = registry.strip(data)
    assert result.format == "heif" and result.lossless and len(result.data) < len(data)
    assert leaks(data, tmp_path, path.suffix) and leaks(result.data, tmp_path, path.suffix) == {}
    assert frames(result.data) == frames(data)  # primary and every other top-level image
    assert displayed_size(result.data) == displayed_size(data)
    assert image_data(heif, result.data) == image_data(heif, data)
    assert not {"Exif", "mime"} & set(items_of(result.data).values())


def test_both_views_of_a_spatial_photo_lose_their_exif_and_xmp() -> None:
    data = corpus.path("spatial_photo.heic").read_bytes()
    removed = registry.strip(data).removed
    assert {d for d in removed["camera"] if d.startswith("EXIF Model")} == {
        "EXIF Model (HEIC Exif item 54)", "EXIF Model (HEIC Exif item 55)"}
    assert len(removed["xmp"]) == 2


def test_exif_stored_in_a_second_mdat_is_removed_and_one_mdat_remains() -> None:
    out = registry.strip(corpus.path("exif-at-eof.heic").read_bytes()).data
    assert [b.type for b in isobmff.parse(out).top] == ["ftyp", "meta", "mdat"]


def test_grid_tiles_and_rotation_survive_and_are_reported() -> None:
    data = corpus.path("arrow.heic").read_bytes()
    report = registry.inspect(data)
    assert report["keeps"]["orientation"] == ["Orientation=6 (HEIC irot/imir of the primary image)"]
    assert "icc" in report["keeps"] and "thumbnails" in report["removes"]
    kept = items_of(registry.strip(data).data)
    assert "grid" in kept.values() and list(kept.values()).count("hvc1") == 48  # 48 tiles, thumbnail gone


def test_generated_grid_keeps_its_tiles_and_pixels(tmp_path) -> None:
    data = grid_of(heic_with((64, 64), orientation=1), columns=2, tile=(64, 48))
    assert frames(data)[0][1] == (128, 48) and leaks(data, tmp_path, ".heic")
    result = registry.strip(data)
    assert items_of(result.data) == {1: "hvc1", 4: "hvc1", 7: "grid"}
    assert frames(result.data) == frames(data) and leaks(result.data, tmp_path, ".heic") == {}


def test_thumbnails_can_be_kept() -> None:
    data = corpus.path("arrow.heic").read_bytes()
    result = registry.strip(data, Options(keep_heif_thumbnails=True))
    assert any(r.kind == "thmb" for r in isobmff.parse(result.data).meta.references)
    assert result.kept["thumbnails"] and frames(result.data) == frames(data)


def _icc_tags(data: bytes, tmp_path) -> list[str]:
    path = tmp_path / "icc.heic"
    path.write_bytes(data)
    return [tag for tag in exiftool_tags(str(path)) if tag.startswith("ICC")]


def test_keep_icc_false_removes_the_icc_colour_property(tmp_path) -> None:
    data = corpus.path("IMG_1034.heic").read_bytes()
    result = registry.strip(data, Options(keep_icc=False))
    assert result.removed["icc"] and _icc_tags(data, tmp_path) and not _icc_tags(result.data, tmp_path)
    colours = [p for p in isobmff.parse(result.data).meta.properties if p.type == "colr"]
    assert all(result.data[p.body:p.body + 4] == b"nclx" for p in colours)
    assert b"prof" not in result.data[:result.data.index(b"mdat")] and frames(result.data) == frames(data)


def test_inspect_names_avif_and_heic() -> None:
    avif = registry.inspect(corpus.path("dirty.avif").read_bytes())
    assert avif["format"] == "heif" and all("AVIF" in d for d in avif["removes"]["xmp"])
    heic = registry.inspect(corpus.path("IMG_1034.heic").read_bytes())
    assert "EXIF Model (HEIC Exif item 51)" in heic["removes"]["camera"]


def test_generated_multi_image_heic_is_cleaned_in_every_image(tmp_path) -> None:
    data = heic_with((64, 80))
    assert list(items_of(data).values()).count("Exif") == 2 and leaks(data, tmp_path, ".heic")
    result = registry.strip(data)
    assert result.lossless and {"gps", "camera", "timestamps", "makernotes", "xmp"} <= set(result.removed)
    assert leaks(result.data, tmp_path, ".heic") == {}
    assert items_of(result.data) == {1: "hvc1", 4: "hvc1"}
    assert b"Jane Doe" not in result.data and b"SN-123456" not in result.data
    assert frames(result.data) == frames(data) and displayed_size(result.data) == displayed_size(data)


def test_generated_thumbnail_goes_unless_kept() -> None:
    data = with_reference(heic_with((64, 80)), "thmb", 4, 1)
    assert items_of(registry.strip(data).data) == {1: "hvc1"}
    assert items_of(registry.strip(data, Options(keep_heif_thumbnails=True)).data) == {1: "hvc1", 4: "hvc1"}


def test_items_serving_only_a_removed_item_go_with_it() -> None:
    # Image 4 becomes the thumbnail's alpha plane: it goes with the thumbnail, the primary stays.
    data = with_reference(with_reference(heic_with((64, 80, 96)), "thmb", 7, 1), "auxl", 4, 7)
    assert heif.parse(data, Options()).dropped_items == {2, 3, 4, 5, 6, 7, 8, 9}


def test_generated_avif_is_cleaned_losslessly(tmp_path) -> None:
    data = avif_with()
    result = registry.strip(data)
    assert result.lossless and leaks(result.data, tmp_path, ".avif") == {}
    assert frames(result.data) == frames(data) and displayed_size(result.data) == displayed_size(data)


def test_samsung_motion_photo_video_and_vendor_boxes_are_dropped(tmp_path) -> None:
    video = box("mpvd", box("ftyp", b"isom\x00\x00\x00\x00") + box("moov", b"\xa9xyz+48.8584+002.2945/"))
    data = heic_with() + video + box("uuid", b"\x11" * 16 + b"vendor secret")
    result = registry.strip(data)
    assert any("mpvd" in d for d in result.removed["trailer"]) and any("uuid" in d for d in result.removed["other"])
    assert b"+48.8584" not in result.data and b"vendor secret" not in result.data
    assert leaks(result.data, tmp_path, ".heic") == {}


def test_orientation_bake_re_encodes_upright_and_says_so() -> None:
    data = heic_with()
    result = registry.strip(data, Options(orientation="bake"))
    assert not result.lossless and result.notes
    assert displayed_size(result.data) == displayed_size(data) == (48, 64)
    assert "irot" not in {p.type for p in isobmff.parse(result.data).meta.properties}


def test_a_structure_the_lossless_path_refuses_is_re_encoded_and_reported() -> None:
    data = heic_with(orientation=1) + box("moov", b"")  # an image-sequence track: not edited losslessly
    with pytest.raises(LosslessUnsupported):
        registry.strip(data, Options(allow_reencode=False))
    result = registry.strip(data)
    assert not result.lossless and "re-encoded" in result.notes[0]
    assert [f[:2] for f in frames(result.data)] == [f[:2] for f in frames(data)]


def test_avif_re_encode_keeps_the_rotation_as_irot() -> None:
    data = avif_with()
    out = heif.reencode(data, Options())
    assert "irot" in {p.type for p in isobmff.parse(out).meta.properties}
    assert displayed_size(out) == displayed_size(data) and not registry.inspect(out)["removes"]


def test_cli_strips_heic_and_avif_through_the_registry(tmp_path) -> None:
    sources = [corpus.path("Irvine_CA.avif"), corpus.path("xiaomi.heic")]
    run = subprocess.run([sys.executable, "-m", "images", "strip", *map(str, sources), "-o", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    for source in sources:
        assert (tmp_path / source.name).read_bytes() == registry.strip(source.read_bytes()).data


@pytest.mark.parametrize("head, expected", [
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", True),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", True),
    (b"\x00\x00\x00\x18ftypMiHE\x00\x00\x00\x00MiHBmif1", True),  # vendor major brand, HEIF structure
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", False),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", False),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", False),
    (b"\xff\xd8\xff\xe0", False),
])
def test_sniff_accepts_heif_brands_but_not_video(head, expected) -> None:
    assert heif.sniff(head) is expected


@pytest.mark.parametrize("cut", [12, 100, 1000, -10])
def test_truncated_file_is_refused(cut) -> None:
    data = corpus.path("dirty.avif").read_bytes()
    with pytest.raises(MalformedInput):
        registry.strip(data[:cut])


def test_declared_size_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(InputTooLarge):
        registry.strip(heic_with(), Options(max_pixels=1000))


FUZZ_BASE = heic_with(orientation=1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, len(FUZZ_BASE) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzzed_heic_is_stripped_and_verified_or_refused(edits) -> None:
    data = bytearray(FUZZ_BASE)
    for at, value in edits:
        data[at] = value
    try:
        result = registry.strip(bytes(data), Options(allow_reencode=False))
    except ScrubError:
        return
    assert result.lossless and b"Jane Doe" not in result.data
