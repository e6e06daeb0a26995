"""Memory on the strip path: the lossless check compares image data in place (model.Span) instead of
copying it, and still sees a single changed byte, a moved boundary and a missing part; the parse
caches let go of an object once it is stripped."""
from __future__ import annotations

import io

import pytest
from PIL import Image

import heifbuild
import imaging
from images import heif, jpeg, registry, webp
from images.model import Options, Span, StripResult
from shared.errors import VerificationFailed


def test_extents_compare_by_content_wherever_they_lie() -> None:
    a, b = b"..abcdef", b"abcdef...."
    assert Span(a, 2, 8) == Span(b, 0, 6)
    assert Span(a, 2, 8) != Span(b, 0, 5)  # one byte shorter
    assert Span(a, 2, 8) != Span(b"abcdeF", 0, 6)  # last byte differs
    assert Span(a, 2, 8) == b"abcdef" and b"abcdef" == Span(a, 2, 8)  # a part one side rebuilt
    assert Span(a, 2, 8) != b"abcdeF" and Span(a, 2, 8) != b"abcde"


def _stripped_jpeg() -> tuple[bytes, bytes]:
    data = imaging.jpeg_with(exif=imaging.full_exif(), size=(160, 120))
    return data, registry.strip(data).data


def test_the_check_passes_an_untouched_scan() -> None:
    data, out = _stripped_jpeg()
    assert imaging.image_data(jpeg, out) == imaging.image_data(jpeg, data)
    registry.verify(jpeg, jpeg.parse(data, Options()), StripResult(out, "jpeg", True), Options())


def test_one_changed_byte_in_the_scan_fails_verification() -> None:
    data, out = _stripped_jpeg()
    sos = out.index(b"\xff\xda")
    at = sos + 40  # inside the entropy-coded data, away from any marker
    changed = out[:at] + bytes([out[at] ^ 0x01 if out[at] ^ 0x01 != 0xFF else 0x02]) + out[at + 1:]
    assert imaging.image_data(jpeg, changed) != imaging.image_data(jpeg, data)
    with pytest.raises(VerificationFailed, match="image data changed"):
        registry.verify(jpeg, jpeg.parse(data, Options()), StripResult(changed, "jpeg", True), Options())


def _stripped_heic() -> tuple[bytes, bytes, bytes]:
    coded, properties = heifbuild.picture()
    exif_item = heifbuild.Item(2, "Exif", b"\x00\x00\x00\x00" + heifbuild.tiff_with_gps())
    data = heifbuild.Heif([heifbuild.Item(1, "hvc1", coded, properties), exif_item],
                          references=[("cdsc", 2, (1,))]).build()
    return data, registry.strip(data).data, coded


def test_heif_item_payloads_compare_in_place_and_a_changed_byte_fails() -> None:
    data, out, coded = _stripped_heic()
    assert imaging.image_data(heif, out) == imaging.image_data(heif, data)
    registry.verify(heif, heif.parse(data, Options()), StripResult(out, "heif", True), Options())
    at = out.index(coded) + len(coded) // 2
    changed = out[:at] + bytes([out[at] ^ 0x01]) + out[at + 1:]
    with pytest.raises(VerificationFailed, match="image data changed"):
        registry.verify(heif, heif.parse(data, Options()), StripResult(changed, "heif", True), Options())


def test_webp_image_chunks_compare_in_place_and_a_changed_byte_fails() -> None:
    out_file = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").resize((96, 64)).save(out_file, "WEBP", exif=imaging.full_exif())
    data = out_file.getvalue()
    out = registry.strip(data).data
    assert imaging.image_data(webp, out) == imaging.image_data(webp, data)
    at = out.index(b"VP8 ") + 8 + (len(out) - out.index(b"VP8 ")) // 2
    changed = out[:at] + bytes([out[at] ^ 0x01]) + out[at + 1:]
    with pytest.raises(VerificationFailed, match="image data changed"):
        registry.verify(webp, webp.parse(data, Options()), StripResult(changed, "webp", True), Options())
