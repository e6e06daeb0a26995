"""Kept structures hold only what they define, and what decoders cannot show is refused (issue 14)."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms

from images import registry
from images.model import Options
from imaging import gradient
from shared.errors import MalformedInput, ScrubError, VerificationFailed

SECRET = b"Jane Doe, 12 Rue X"


def encoded(fmt: str, image: Image.Image | None = None, **args) -> bytes:
    out = io.BytesIO()
    (image or gradient((32, 24))).save(out, fmt, **args)
    return out.getvalue()


def segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def after_soi(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(*chunks: bytes, data: bytes | None = None) -> bytes:
    base = data or encoded("PNG")
    idat = base.index(b"IDAT") - 4
    return base[:idat] + b"".join(chunks) + base[idat:]


# ---- JPEG ----

def test_adobe_segment_keeps_its_twelve_bytes_only() -> None:
    adobe = b"Adobe\x00\x64\x00\x00\x00\x00\x01"
    result = registry.strip(after_soi(encoded("JPEG"), segment(0xEE, adobe + SECRET)), Options())
    assert segment(0xEE, adobe) in result.data and SECRET not in result.data
    assert any("after the APP14 Adobe fields" in d for d in result.removed["other"])


@pytest.mark.parametrize("marker", [0xF5, 0xC8, 0x50])
def test_a_reserved_marker_is_refused(marker) -> None:
    with pytest.raises(MalformedInput, match="reserved marker"):
        registry.strip(after_soi(encoded("JPEG"), segment(marker, SECRET)), Options())


def test_a_dnl_segment_longer_than_defined_is_refused() -> None:
    data = encoded("JPEG")
    eoi = data.rindex(b"\xff\xd9")
    with pytest.raises(MalformedInput, match="DNL"):
        registry.strip(data[:eoi] + segment(0xDC, b"\x00\x18" + SECRET) + data[eoi:], Options())


def test_soi_and_eoi_alone_are_not_a_picture() -> None:
    with pytest.raises(MalformedInput, match="not a picture"):
        registry.strip(b"\xff\xd8\xff\xd9", Options())
    with pytest.raises(MalformedInput, match="not a picture"):
        registry.strip(b"\xff\xd8" + segment(0xFE, b"comment") + b"\xff\xd9", Options())


def test_a_zero_height_frame_is_refused() -> None:
    data = bytearray(encoded("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 7] = b"\x00\x00"
    with pytest.raises(MalformedInput, match="zero height"):
        registry.strip(bytes(data), Options())


def test_a_tiff_hidden_in_an_icc_profile_chunk_is_refused() -> None:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0)}
    tiff = exif.tobytes()
    tiff = tiff[6:] if tiff.startswith(b"Exif") else tiff
    icc = b"ICC_PROFILE\x00\x01\x01" + tiff
    with pytest.raises(VerificationFailed, match="TIFF"):
        registry.strip(after_soi(encoded("JPEG"), segment(0xE2, icc)), Options())


# ---- PNG ----

def test_the_final_hdr_chunk_names_are_kept() -> None:
    mdcv, clli = png_chunk(b"mDCV", bytes(range(24))), png_chunk(b"cLLI", bytes(range(8)))
    result = registry.strip(png_with(mdcv, clli), Options())
    assert mdcv in result.data and clli in result.data and not result.removed


@pytest.mark.parametrize("kind, body", [(b"bKGD", b"\x00\x01\x00\x02\x00\x03" + SECRET), (b"gAMA", b"\x00\x00\xb1\x8f" + SECRET),
                                        (b"cLLI", bytes(8) + SECRET)])
def test_a_rendering_chunk_longer_than_defined_goes(kind, body) -> None:
    data = png_with(png_chunk(kind, body))
    result = registry.strip(data, Options())
    assert SECRET not in result.data and kind not in result.data
    assert any("defined length" in d for d in result.removed["other"])
    assert Image.open(io.BytesIO(result.data)).tobytes() == Image.open(io.BytesIO(data)).tobytes()


def test_an_animation_control_chunk_of_the_wrong_length_is_refused() -> None:
    apng = encoded("PNG", gradient((32, 24)), save_all=True, append_images=[gradient((32, 24)).rotate(180)])
    at = apng.index(b"fcTL") - 4
    length = struct.unpack_from(">I", apng, at)[0]
    body = apng[at + 8:at + 8 + length] + SECRET
    tampered = apng[:at] + png_chunk(b"fcTL", body) + apng[at + 12 + length:]
    with pytest.raises(MalformedInput, match="fcTL"):
        registry.strip(tampered, Options())


# ---- GIF ----

def _gif_with_app(ident: bytes, *sub_blocks: bytes) -> bytes:
    frames = [gradient((32, 24)).convert("P"), gradient((32, 24)).rotate(180).convert("P")]
    base = encoded("GIF", frames[0], save_all=True, append_images=frames[1:], loop=0)
    start = base.index(b"\x21\xff\x0bNETSCAPE2.0")
    block = b"\x21\xff\x0b" + ident + b"".join(bytes([len(b)]) + b for b in sub_blocks) + b"\x00"
    return base[:start] + block + base[start + 19:]


def test_the_loop_count_survives_an_extra_buffering_sub_block() -> None:
    data = _gif_with_app(b"NETSCAPE2.0", b"\x02\x00\x10\x00\x00", b"\x01\x05\x00", SECRET)
    result = registry.strip(data, Options())
    assert b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x05\x00\x00" in result.data and SECRET not in result.data
    with Image.open(io.BytesIO(result.data)) as im:
        assert im.info["loop"] == 5 and im.n_frames == 2


def test_a_gif_icc_profile_is_cut_to_its_declared_size() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    payload = icc + SECRET
    data = _gif_with_app(b"ICCRGBG1012", *(payload[i:i + 255] for i in range(0, len(payload), 255)))
    result = registry.strip(data, Options())
    assert SECRET not in result.data and icc[:200] in result.data
    assert any("bytes after it dropped" in d for d in result.kept["icc"])


# ---- WebP ----

def _webp(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WEBP" + b"".join(c + struct.pack("<I", len(p)) + p + b"\x00" * (len(p) & 1) for c, p in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_a_webp_with_two_bitstreams_is_refused() -> None:
    lossless = encoded("WEBP", lossless=True)
    vp8l = lossless[20:20 + struct.unpack_from("<I", lossless, 16)[0]]
    canvas = (31).to_bytes(3, "little") + (23).to_bytes(3, "little")
    for data in (_webp((b"VP8L", vp8l), (b"VP8L", vp8l)),
                 _webp((b"VP8X", bytes(4) + canvas), (b"VP8L", vp8l), (b"VP8L", vp8l))):
        with pytest.raises(MalformedInput, match="bitstream"):
            registry.strip(data, Options())


# ---- every refusal is typed and one line ----

def test_refusals_here_are_one_line() -> None:
    with pytest.raises(ScrubError) as refused:
        registry.strip(b"\xff\xd8\xff\xd9", Options())
    assert len(str(refused.value).splitlines()) == 1


# ---- HEIF ----

def test_a_heif_image_derived_from_itself_is_refused() -> None:
    from heifbuild import Heif, Item, picture

    coded, props = picture()
    data = Heif([Item(1, type="iden", properties=props[2:3]), Item(2, type="iden", hidden=True),
                 Item(3, payload=coded, properties=props, hidden=True)],
                references=[("dimg", 1, (2,)), ("dimg", 2, (1, 3))]).build()
    with pytest.raises(MalformedInput, match="'dimg' cycle"):
        registry.strip(data, Options())


def test_bytes_after_the_compressed_image_in_idat_are_cut_off() -> None:
    base = encoded("PNG")
    at = base.index(b"IDAT") - 4
    length = struct.unpack_from(">I", base, at)[0]
    body = base[at + 8:at + 8 + length]
    data = base[:at] + png_chunk(b"IDAT", body + SECRET) + png_chunk(b"IDAT", SECRET) + base[at + 12 + length:]
    result = registry.strip(data, Options())
    assert result.lossless and SECRET not in result.data and png_chunk(b"IDAT", body) in result.data
    assert any("after the end of the compressed image" in d for d in result.removed["trailer"])
    assert Image.open(io.BytesIO(result.data)).tobytes() == Image.open(io.BytesIO(base)).tobytes()


def test_idat_that_inflates_far_beyond_its_header_is_refused() -> None:
    base = encoded("PNG", gradient((8, 8)))
    at = base.index(b"IDAT") - 4
    length = struct.unpack_from(">I", base, at)[0]
    bomb = zlib.compress(bytes(50_000_000), 9)  # 49 KB that inflate to 50 MB, for an 8x8 picture
    with pytest.raises(MalformedInput, match="inflates"):
        registry.strip(base[:at] + png_chunk(b"IDAT", bomb) + base[at + 12 + length:], Options())
