"""PNG and APNG: chunk-level stripping, judged by exiftool and by Pillow's decode."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given
from PIL import Image, PngImagePlugin

from images import exif, png, registry
from images.model import Options
from imaging import FUZZ, displayed_size, frames, full_exif, leaks, mutations, stripped_or_refused
from shared.errors import InputTooLarge, MalformedInput, ScrubError


def chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_with(extra: list[bytes] = (), size=(40, 30), trailer: bytes = b"", **save_args) -> bytes:
    """A real PNG (Pillow) with raw chunks inserted after IHDR."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGBA").save(out, "PNG", **save_args)
    data = out.getvalue()
    return data[:33] + b"".join(extra) + data[33:] + trailer


def chunk_types(data: bytes) -> list[bytes]:
    return [c.type for c in png.parse(data, Options()).chunks]




def test_text_time_and_exif_chunks_go_rendering_chunks_stay(tmp_path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "at home")
    info.add_text("Author", "Jane", zip=True)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    extra = [chunk(b"tIME", b"\x07\xe8\x05\x01\x0a\x00\x00"), chunk(b"gAMA", b"\x00\x00\xb1\x8f"),
             chunk(b"prVt", b"private vendor data"), chunk(b"eXIf", full_exif()[6:])]
    data = png_with(extra, pnginfo=info, dpi=(300, 300))
    result = registry.strip(data)
    assert chunk_types(result.data) == [b"IHDR", b"gAMA", b"pHYs", b"IDAT", b"IEND"]
    assert {"comments", "xmp", "timestamps", "gps", "camera", "other"} <= set(result.removed)
    assert leaks(result.data, tmp_path, ".png") == {}
    assert frames(result.data) == frames(data)


def test_orientation_survives_as_a_minimal_exif_chunk_before_idat() -> None:
    data = png_with([chunk(b"eXIf", full_exif(6)[6:])])
    result = registry.strip(data)
    types = chunk_types(result.data)
    assert types.index(b"eXIf") < types.index(b"IDAT")
    assert chunk(b"eXIf", exif.minimal_tiff(6)) in result.data
    assert displayed_size(result.data) == displayed_size(data) == (30, 40)


def test_apng_keeps_every_frame() -> None:
    out = io.BytesIO()
    first, second = Image.new("RGB", (20, 20), "red"), Image.new("RGB", (20, 20), "blue")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "phone 1.0")
    first.save(out, "PNG", save_all=True, append_images=[second], duration=100, pnginfo=info)
    result = registry.strip(out.getvalue())
    assert {b"acTL", b"fcTL", b"fdAT"} <= set(chunk_types(result.data))
    assert frames(result.data) == frames(out.getvalue())
    assert b"phone 1.0" not in result.data


def test_keep_icc_false_drops_iccp() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = png_with(icc_profile=icc)
    assert b"iCCP" in registry.strip(data).data
    assert b"iCCP" not in registry.strip(data, Options(keep_icc=False)).data


def test_trailer_after_iend_is_dropped() -> None:
    result = registry.strip(png_with(trailer=b"hidden zip archive"))
    assert "trailer" in result.removed and result.data.endswith(b"IEND\xaeB`\x82")


def test_unknown_critical_chunk_falls_back_to_a_reported_reencode() -> None:
    data = png_with([chunk(b"ABCD", b"must understand")])
    with pytest.raises(ScrubError, match="critical chunk"):
        registry.strip(data, Options(allow_reencode=False))
    result = registry.strip(data)
    assert not result.lossless and b"ABCD" not in result.data
    assert frames(result.data) == frames(png_with())


def test_bad_crc_is_refused() -> None:
    data = bytearray(png_with())
    data[40] ^= 0xFF
    with pytest.raises(MalformedInput, match="CRC"):
        registry.strip(bytes(data))


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n" + chunk(b"IDAT", b"x")])
def test_missing_header_or_end_is_refused(data) -> None:
    with pytest.raises(MalformedInput):
        registry.strip(data)


def test_truncation_anywhere_is_refused() -> None:
    data = png_with([chunk(b"tEXt", b"Comment\x00hi")])
    for cut in range(9, len(data) - 1, 7):
        with pytest.raises(MalformedInput):
            registry.strip(data[:cut])


def test_decompression_bomb_dimensions_are_refused() -> None:
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    with pytest.raises(InputTooLarge, match="pixel limit"):
        registry.strip(png.SIGNATURE + ihdr + chunk(b"IEND", b""))


def test_absurdly_long_chunk_chain_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(png, "_MAX_CHUNKS", 20)
    with pytest.raises(InputTooLarge, match="chunks"):
        registry.strip(png_with([chunk(b"tEXt", b"a\x00b")] * 30))


_VALID = png_with([chunk(b"tEXt", b"Comment\x00secret"), chunk(b"eXIf", full_exif(6)[6:])], size=(8, 8))


@FUZZ
@given(mutations(_VALID))
def test_fuzzed_png_strips_cleanly_or_raises_a_typed_error(data) -> None:
    out = stripped_or_refused(data)
    assert out is None or (b"secret" not in out and b"Spy Cam" not in out)
