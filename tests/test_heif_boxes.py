"""HEIF/AVIF boxes that name, date or place people, beyond the Exif and XMP items (issue 14).

Files are built box by box (tests/heifbuild.py) around a real HEVC picture; the output must keep the
picture (pixels decoded by pillow-heif) and lose every name, date and hidden item.
"""
from __future__ import annotations

import pytest

from devtools.judge import leaks_in_file
from heifbuild import Heif, Item, picture, tiff_with_gps
from images import heif, isobmff, registry, scan
from images.isobmff import box, full_box
from images.model import Options
from imaging import frames
from shared.errors import LosslessUnsupported, VerificationFailed

PERSON = "Jane Doe"
UDES = full_box("udes", 0, 0, b"en\x00" + PERSON.encode() + b"\x00birthday at home\x00family,private\x00")
CRTT = full_box("crtt", 1, 0, (3_900_000_000_000_000).to_bytes(8, "big"))
MDFT = full_box("mdft", 1, 0, (3_900_000_100_000_000).to_bytes(8, "big"))
UUID_TIFF = box("uuid", b"\x12" * 16 + b"Exif\x00\x00" + tiff_with_gps())
DREF_URL = b"file:///Users/janedoe/Pictures/IMG_0001.HEIC"


def _dinf() -> bytes:
    url = full_box("url ", 0, 0, DREF_URL + b"\x00")
    return box("dinf", full_box("dref", 0, 0, (1).to_bytes(4, "big") + url))


def named_heif() -> bytes:
    coded, props = picture()
    return Heif(
        [Item(1, payload=coded, properties=props + [(False, UDES), (False, CRTT), (False, MDFT), (False, UUID_TIFF)],
              name=f"{PERSON}'s photo")],
        handler_name="John Doe's iPhone 15 Pro SN F2LXK1234", dinf=_dinf(),
        loose_properties=[full_box("udes", 0, 0, b"en\x00Unassociated Person\x00\x00\x00")],
    ).build()


def test_properties_names_handler_and_data_references_that_name_people_go(tmp_path) -> None:
    data = named_heif()
    result = registry.strip(data, Options())
    assert result.lossless
    out = result.data
    for secret in (PERSON.encode(), b"Unassociated Person", b"John Doe", b"janedoe", b"F2LXK1234", b"\x12" * 16):
        assert secret in data and secret not in out
    parsed = isobmff.parse(out)
    assert {p.type for p in parsed.meta.properties} <= heif.RENDERING_PROPERTIES | {"free"}
    assert all(item.name == "" for item in parsed.meta.items.values())
    assert parsed.meta.handler_name == "" and parsed.meta.data_references == []
    assert scan.tiff_blocks(out) == [] and scan.tiff_blocks(data) != []
    assert frames(out) == frames(data)
    source, judged = tmp_path / "in.heic", tmp_path / "out.heic"
    source.write_bytes(data)
    judged.write_bytes(out)
    assert any("Handler" in key for key in leaks_in_file(str(source)))  # exiftool shows the handler name
    assert leaks_in_file(str(judged)) == {}


def test_inspect_names_what_the_boxes_carry() -> None:
    removes = registry.inspect(named_heif())["removes"]
    assert sum("'udes'" in d for d in removes["comments"]) == 2  # the associated one and the loose one
    assert sum("'crtt'" in d or "'mdft'" in d for d in removes["timestamps"]) == 2
    others = " ".join(removes["other"])
    for expected in ("'uuid' property", 'handler name "John Doe', 'item 1 name "Jane Doe', "data reference"):
        assert expected in others, expected


def test_a_hidden_item_nothing_references_goes() -> None:
    coded, props = picture()
    original, original_props = picture((96, 72))  # the pre-crop original, hidden and linked to nothing
    jpeg = b"\xff\xd8\xff\xe1\x00\x40Exif\x00\xff" + tiff_with_gps() + b"\xff\xd9"
    data = Heif([Item(1, payload=coded, properties=props),
                 Item(2, payload=original, properties=original_props, hidden=True),
                 Item(3, type="jpeg", payload=jpeg, hidden=True)]).build()
    result = registry.strip(data, Options())
    parsed = isobmff.parse(result.data)
    assert set(parsed.meta.items) == {1}
    assert original not in result.data and b"Exif\x00\xff" not in result.data
    assert any("linked to no shown image" in d for d in result.removed["other"])
    assert frames(result.data) == frames(data)[:1]


def test_a_visible_unreferenced_picture_stays() -> None:
    # A second top-level picture of a multi-image file is shown (pillow-heif opens it as a frame).
    coded, props = picture()
    data = Heif([Item(1, payload=coded, properties=props), Item(2, payload=coded + b"", properties=props)]).build()
    assert set(isobmff.parse(registry.strip(data, Options()).data).meta.items) == {1, 2}


def test_a_shown_item_hiding_a_tiff_is_refused_by_the_byte_scan() -> None:
    coded, props = picture()
    jpeg = b"\xff\xd8\xff\xe1\x00\x40Exif\x00\xff" + tiff_with_gps() + b"\xff\xd9"
    data = Heif([Item(1, payload=coded, properties=props), Item(2, type="jpeg", payload=jpeg)]).build()
    with pytest.raises(VerificationFailed, match="EXIF/TIFF"):
        registry.strip(data, Options())


def test_an_essential_property_the_editor_does_not_know_is_not_silently_dropped() -> None:
    coded, props = picture()
    data = Heif([Item(1, payload=coded, properties=props + [(True, full_box("zzzz", 0, 0, b"?"))])]).build()
    with pytest.raises(LosslessUnsupported, match="'zzzz'"):
        registry.strip(data, Options(allow_reencode=False))


@pytest.mark.parametrize("prefix", [b"Exif\x00\x00", b"Exif\x00\xff", b"", b"\x00\x00\x00\x06Exif\x00\x00"])
def test_the_byte_scan_finds_a_tiff_however_it_is_introduced(prefix) -> None:
    assert scan.leftovers(b"\x00" * 7 + prefix + tiff_with_gps() + b"\x00" * 9, Options())


def test_the_byte_scan_allows_the_orientation_block_and_random_bytes() -> None:
    import random

    from images import exif

    assert scan.leftovers(b"\xff" * 5 + exif.minimal_tiff(6) + b"\x00", Options()) == []
    noise = random.Random(14).randbytes(4_000_000) + b"II*\x00" + b"\xff" * 20 + b"MM\x00*\x00\x00\x00\x08\x00\x00"
    assert scan.tiff_blocks(noise) == []
