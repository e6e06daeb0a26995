"""A bounded mutation-fuzz run over the structures issue 14 hardened: every mutated file is stripped
clean or refused with a typed error, never a crash (hypothesis; `imaging.mutations`)."""
from __future__ import annotations

import io
import struct

from hypothesis import given, settings
from PIL import Image

from heifbuild import Heif, Item, picture, tiff_with_gps
from images import registry, scan
from images.isobmff import box, full_box
from images.model import Options
from imaging import FUZZ, mutations
from shared.errors import ScrubError

BOUNDED = settings(FUZZ, max_examples=150)


def _strip_or_refuse(data: bytes) -> None:
    try:
        result = registry.strip(data, Options())
    except ScrubError as refused:
        assert len(str(refused).splitlines()) == 1
        return
    assert scan.leftovers(result.data, Options()) == []


def _heif() -> bytes:
    coded, props = picture((16, 16))
    udes = full_box("udes", 0, 0, b"en\x00Jane Doe\x00\x00\x00")
    return Heif([Item(1, payload=coded, properties=props + [(False, udes)], name="Jane"),
                 Item(2, type="Exif", payload=b"\x00\x00\x00\x06Exif\x00\x00" + tiff_with_gps()),
                 Item(3, payload=coded, properties=props, hidden=True)],
                references=[("cdsc", 2, (1,))], handler_name="Jane's phone",
                dinf=box("dinf", full_box("dref", 0, 0, (1).to_bytes(4, "big") + full_box("url ", 0, 0, b"file:///x\0")))
                ).build()


def _apng() -> bytes:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], loop=3)
    return out.getvalue()


def _gif() -> bytes:
    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=2, comment=b"Jane Doe")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(out, "JPEG")
    tiff = b"MM\x00*" + struct.pack(">IHHHII", 8, 1, 0x0112, 4, 1, 6) + bytes(4)
    body = b"Exif\x00\x00" + tiff
    adobe = b"Adobe\x00\x64\x00\x00\x00\x00\x01Jane Doe"
    data = out.getvalue()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + \
        b"\xff\xee" + struct.pack(">H", len(adobe) + 2) + adobe + data[2:]


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(out, "WEBP", lossless=True, exif=b"Exif\x00\x00" + tiff_with_gps())
    return out.getvalue()


@BOUNDED
@given(mutations(_heif()))
def test_mutated_heif_boxes(data) -> None:
    _strip_or_refuse(data)


@BOUNDED
@given(mutations(_apng()))
def test_mutated_apng(data) -> None:
    _strip_or_refuse(data)


@BOUNDED
@given(mutations(_gif()))
def test_mutated_gif(data) -> None:
    _strip_or_refuse(data)


@BOUNDED
@given(mutations(_jpeg()))
def test_mutated_jpeg(data) -> None:
    _strip_or_refuse(data)


@BOUNDED
@given(mutations(_webp()))
def test_mutated_webp(data) -> None:
    _strip_or_refuse(data)
