"""ICC profiles are kept by default; `inspect` reports the text they carry (issue 14, the ICC policy)."""
from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from images import icc, registry
from images.model import Options
from imaging import gradient, heic

PERSON = "Jane Doe"


def _mluc(value: str) -> bytes:
    encoded = value.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded


def profile_with_text() -> bytes:
    """A profile as a calibration tool writes one: a person's name, a device, a date in its text."""
    tags = [(b"desc", _mluc(f"{PERSON}'s calibrated monitor")), (b"cprt", b"text" + bytes(4) + f"(c) {PERSON}\0".encode()),
            (b"dmdd", b"desc" + bytes(4) + struct.pack(">I", 15) + b"Studio SN 4711\0")]
    table, body, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += struct.pack(">4sII", signature, offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I4sI4s4s4s6H", size, b"lcms", 0x04300000, b"mntr", b"RGB ", b"XYZ ", 2024, 5, 6, 7, 8, 9)
              + b"acsp").ljust(128, b"\x00")
    return header + struct.pack(">I", len(tags)) + table + body


def test_the_text_of_a_profile_is_read() -> None:
    text = icc.text(profile_with_text())
    assert text[0] == "created: 2024-05-06 07:08:09"
    assert f"description: \"{PERSON}'s calibrated monitor\"" in text
    assert f"copyright: '(c) {PERSON}'" in text and "device model: 'Studio SN 4711'" in text


def _saved(fmt: str, **args) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").resize((32, 24)).save(out, fmt, icc_profile=profile_with_text(), **args)
    return out.getvalue()


BUILDERS = {"jpeg": lambda: _saved("JPEG"), "png": lambda: _saved("PNG"),
            "webp": lambda: _saved("WEBP", lossless=True), "avif": lambda: _saved("AVIF", quality=50), "heic": lambda: heic(gradient((32, 24)), icc=profile_with_text())}


@pytest.mark.parametrize("fmt", BUILDERS)
def test_inspect_reports_the_profile_text_that_strip_keeps(fmt) -> None:
    data = BUILDERS[fmt]()
    kept = " ".join(registry.inspect(data, Options())["keeps"]["icc"])
    assert PERSON in kept and "2024-05-06" in kept
    out = registry.strip(data, Options()).data  # kept by default: the policy
    assert PERSON in " ".join(registry.inspect(out, Options())["keeps"]["icc"])


@pytest.mark.parametrize("fmt", BUILDERS)
def test_keep_icc_false_removes_the_profile_and_its_text(fmt) -> None:
    data = BUILDERS[fmt]()
    removed = " ".join(registry.inspect(data, Options(keep_icc=False))["removes"]["icc"])
    assert PERSON in removed
    out = registry.strip(data, Options(keep_icc=False)).data
    assert "icc" not in registry.inspect(out, Options())["found"]
    assert PERSON.encode("utf-16-be") not in out


def test_a_gif_profile_text_is_reported() -> None:
    frame = io.BytesIO()
    Image.new("P", (8, 8)).save(frame, "GIF")
    data, payload = frame.getvalue(), profile_with_text()
    blocks = b"".join(bytes([len(payload[i:i + 255])]) + payload[i:i + 255] for i in range(0, len(payload), 255))
    at = data.index(b"\x2c")
    data = data[:at] + b"\x21\xff\x0bICCRGBG1012" + blocks + b"\x00" + data[at:]
    assert any(PERSON in d for d in registry.inspect(data, Options())["keeps"]["icc"])
