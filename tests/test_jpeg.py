"""JPEG: the lossless stripper, judged by exiftool and by Pillow's decode."""
from __future__ import annotations

import io

import pytest
from hypothesis import given
from PIL import Image

from images import exif, jpeg, registry
from images.model import Options
from imaging import (
    FUZZ,
    app_segment,
    displayed_size,
    frames,
    full_exif,
    image_data,
    jpeg_with,
    leaks,
    mutations,
    stripped_or_refused,
)
from shared.errors import InputTooLarge, MalformedInput, ScrubError


def test_every_metadata_class_is_removed_from_a_generated_photo(tmp_path) -> None:
    data = jpeg_with(
        segments=[app_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>GPS</x:xmpmeta>"),
                  app_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x00"),
                  app_segment(0xE6, b"GoPro\x00GPMF-telemetry"),
                  app_segment(0xE2, b"MPF\x00II*\x00\x08\x00\x00\x00"),
                  app_segment(0xFE, b"shot at home")],
        exif=full_exif(), trailer=b"\xff\xd8\xff\xe1 secondary image with its own EXIF")
    assert leaks(data, tmp_path, ".jpg")  # the judge sees the leaks before
    result = registry.strip(data)
    assert {"gps", "camera", "timestamps", "makernotes", "xmp", "iptc", "comments", "trailer"} <= set(result.removed)
    assert leaks(result.data, tmp_path, ".jpg") == {}
    assert b"secondary image" not in result.data and result.data.endswith(b"\xff\xd9")
    assert frames(result.data) == frames(data)


def test_jfif_icc_chunks_and_adobe_are_kept_in_order() -> None:
    icc = [app_segment(0xE2, b"ICC_PROFILE\x00" + bytes((i, 2)) + bytes([i]) * 40) for i in (1, 2)]
    adobe = app_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
    data = jpeg_with(segments=[*icc, adobe])
    out = registry.strip(data).data
    assert out.index(icc[0]) < out.index(icc[1]) < out.index(adobe)
    assert b"\xff\xe0\x00\x10JFIF\x00" in out


def test_keep_icc_false_drops_the_profile() -> None:
    icc = app_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"p" * 40)
    result = registry.strip(jpeg_with(segments=[icc]), Options(keep_icc=False))
    assert b"ICC_PROFILE" not in result.data and "icc" in result.removed


def test_jfif_thumbnail_is_dropped() -> None:
    base = jpeg_with()
    assert base[6:11] == b"JFIF\x00"
    jfif_len = int.from_bytes(base[4:6], "big")
    body = bytearray(base[6:4 + jfif_len]) + bytes(2 * 2 * 3)
    body[12:14] = b"\x02\x02"
    data = base[:2] + app_segment(0xE0, bytes(body)) + base[4 + jfif_len:]
    result = registry.strip(data)
    assert "thumbnails" in result.removed
    assert result.data[18:20] == b"\x00\x00" and len(result.data) == len(base)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_is_kept_as_a_minimal_exif_block(orientation, tmp_path) -> None:
    data = jpeg_with(exif=full_exif(orientation))
    result = registry.strip(data)
    assert result.lossless and result.kept == {"orientation": [f"Orientation={orientation} (APP1 Exif)"]}
    assert displayed_size(result.data) == displayed_size(data)
    assert exif.EXIF_HEADER + exif.minimal_tiff(orientation) in result.data
    assert leaks(result.data, tmp_path, ".jpg") == {}


def test_orientation_one_is_not_kept() -> None:
    assert exif.EXIF_HEADER not in registry.strip(jpeg_with(exif=full_exif(1))).data


def test_orientation_bake_rotates_pixels_keeps_tables_and_drops_the_tag(tmp_path) -> None:
    data = jpeg_with(exif=full_exif(6), size=(64, 32), quality=90)
    result = registry.strip(data, Options(orientation="bake"))
    assert not result.lossless and result.notes
    with Image.open(io.BytesIO(result.data)) as out, Image.open(io.BytesIO(data)) as src:
        assert out.size == (32, 64)
        assert out.quantization == src.quantization
        assert out.getexif().get(exif.ORIENTATION_TAG) is None
    assert leaks(result.data, tmp_path, ".jpg") == {}


def test_progressive_and_restart_markers_survive() -> None:
    data = jpeg_with(exif=full_exif(), progressive=True, size=(200, 120))
    out = registry.strip(data).data
    assert frames(out) == frames(data)
    assert image_data(jpeg, out) == image_data(jpeg, data)


@pytest.mark.parametrize("data, error", [
    (b"", MalformedInput),
    (b"\xff\xd8\xff", MalformedInput),
    (b"\xff\xd8\xff\xe1\xff\xff" + b"x" * 10, MalformedInput),
    (b"\xff\xd8\xff\xe1\x00\x01", MalformedInput),
])
def test_bad_input_gets_a_typed_error(data, error) -> None:
    with pytest.raises(error):
        registry.strip(data)


def test_truncated_at_every_region_is_refused() -> None:
    data = jpeg_with(exif=full_exif(), size=(32, 32))
    for cut in range(3, len(data) - 1, max(1, len(data) // 60)):
        with pytest.raises(ScrubError) as info:
            registry.strip(data[:cut])
        assert "truncated" in str(info.value) or "malformed" in str(info.value)


def test_declared_dimensions_beyond_the_pixel_limit_are_refused() -> None:
    data = jpeg_with(size=(100, 100))
    with pytest.raises(InputTooLarge, match="pixel limit"):
        registry.strip(data, Options(max_pixels=5000))


def test_absurdly_many_segments_are_refused(monkeypatch) -> None:
    monkeypatch.setattr(jpeg, "_MAX_SEGMENTS", 50)
    data = jpeg_with(segments=[app_segment(0xFE, b"x")] * 60)
    with pytest.raises(InputTooLarge, match="segments"):
        registry.strip(data)


_VALID = jpeg_with(exif=full_exif(6), segments=[app_segment(0xFE, b"comment")], size=(16, 16))


@FUZZ
@given(mutations(_VALID))
def test_fuzzed_jpeg_strips_cleanly_or_raises_a_typed_error(data) -> None:
    out = stripped_or_refused(data)
    assert out is None or (b"comment" not in out and b"Spy Cam" not in out)
