"""Failures found by attacking the stripper are typed errors with a one-line reason (issue 14)."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from images import isobmff, registry
from images.model import Options
from imaging import gradient, heic
from shared.errors import MalformedInput, ScrubError


def _orientation_exif(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def mpo(orientation: int = 6) -> bytes:
    """A two-picture MPO (a stereo pair, as Pillow writes it) whose primary picture is rotated."""
    out = io.BytesIO()
    gradient().save(out, "MPO", save_all=True, append_images=[gradient().rotate(180)],
                    exif=_orientation_exif(orientation))
    return out.getvalue()


def test_orientation_bake_on_a_multi_picture_jpeg_bakes_the_primary_picture() -> None:
    data = mpo()
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "MPO" and im.n_frames == 2
        expected = ImageOps.exif_transpose(im).size
    result = registry.strip(data, Options(orientation="bake"))
    assert not result.lossless
    with Image.open(io.BytesIO(result.data)) as out:
        assert out.format == "JPEG" and out.size == expected == (48, 64)
        assert out.getexif().get(0x0112) is None


def _meta_version_1(data: bytes) -> bytes:
    meta = next(b for b in isobmff.read_boxes(data, 0, len(data), "file") if b.type == "meta")
    return data[:meta.body] + b"\x01" + data[meta.body + 1:]


def _avif() -> bytes:
    out = io.BytesIO()
    gradient().save(out, "AVIF", quality=50)
    return out.getvalue()


@pytest.mark.parametrize("build", [heic, _avif], ids=["heic", "avif"])
def test_a_heif_the_decoder_cannot_read_is_a_typed_refusal(build) -> None:
    # meta version 1: the lossless editor hands it to the re-encode, whose decoder cannot read it either
    # (pillow-heif raises SyntaxError, Pillow's AVIF plugin RuntimeError).
    with pytest.raises(MalformedInput) as refused:
        registry.strip(_meta_version_1(build()), Options())
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("build", [heic, _avif, mpo], ids=["heic", "avif", "mpo"])
def test_the_cli_reports_a_reason_never_an_internal_error(build, tmp_path) -> None:
    import subprocess
    import sys

    source = tmp_path / "in.bin"
    data = build()
    source.write_bytes(_meta_version_1(data) if data[4:8] == b"ftyp" else data)
    done = subprocess.run([sys.executable, "-m", "images", "strip", str(source), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, env={"ORIENTATION": "bake", "PATH": ""}, check=False)
    assert "internal error" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_refusals_are_typed_errors_with_one_line() -> None:
    with pytest.raises(ScrubError) as refused:
        registry.strip(_meta_version_1(heic()), Options(allow_reencode=False))
    assert len(str(refused.value).splitlines()) == 1
