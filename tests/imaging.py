"""Test helpers for the image stripper: the corpus, generated images, and independent judges."""
from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

import corpus
from devtools.judge import leaks_in_file
from devtools.samples import full_exif  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[1]


def image_format(path: Path) -> str | None:
    """The format the registry detects from the bytes of `path` (never its extension), or None."""
    from images import registry
    from shared.errors import ScrubError

    try:
        return registry.detect(path.read_bytes()).NAME
    except ScrubError:
        return None


def image_data(module, data: bytes, options=None) -> list:
    """What `module` says must survive a strip unchanged, for raw bytes (the module works on its parsed form)."""
    from images.model import Options

    options = options or Options()
    return list(module.image_data(module.parse(data, options), options))


def corpus_image_paths(*formats: str) -> list[Path]:
    """The corpus files whose content is one of `formats` (skips the calling test without a corpus)."""
    corpus.path("MANIFEST.tsv")
    return [p for p in sorted(corpus.CORPUS.iterdir()) if p.name != "MANIFEST.tsv" and image_format(p) in formats]


def corpus_images(*formats: str) -> list:
    """pytest parameters: the corpus files whose content is one of `formats` (skips without a corpus)."""
    return corpus.params(lambda p: image_format(p) in formats)


def leaks(data: bytes, tmp_path: Path, suffix: str) -> dict:
    """Privacy-relevant tags exiftool still finds in `data` (the tests' own judge)."""
    out = tmp_path / f"judged{suffix}"
    out.write_bytes(data)
    return leaks_in_file(str(out))


def frames(data: bytes) -> list[tuple[str, tuple[int, int], str]]:
    """Mode, size and pixel hash of every frame, decoded by Pillow (pillow-heif registered)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as im:
        out = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append((im.mode, im.size, hashlib.sha256(im.tobytes()).hexdigest()))
        return out


def displayed_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return ImageOps.exif_transpose(im).size


def app_segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def gradient(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A small RGB picture whose pixels differ, so a changed or lost pixel shows."""
    return Image.linear_gradient("L").convert("RGB").resize(size)


def heic(image: Image.Image | None = None, icc: bytes | None = None) -> bytes:
    """A real HEIC (pillow-heif) of `image` (default: a gradient), with an ICC profile when given."""
    import pillow_heif

    heif_file = pillow_heif.from_pillow(image or gradient())
    if icc:
        heif_file.info["icc_profile"] = icc
    out = io.BytesIO()
    heif_file.save(out, quality=50)
    return out.getvalue()


def jpeg_with(segments: list[bytes] = (), trailer: bytes = b"", size=(64, 48), exif: bytes = b"",
              **save_args) -> bytes:
    """A real JPEG (Pillow) with raw `segments` inserted right after SOI and `trailer` after EOI."""
    out = io.BytesIO()
    gradient(size).save(out, "JPEG", exif=exif, **save_args)
    data = out.getvalue()
    return data[:2] + b"".join(segments) + data[2:] + trailer


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutate(valid: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    data = bytearray(valid)
    for pos, value in edits:
        data[pos] = value
    return bytes(data[:cut])


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """A few byte edits of `valid`, then a cut anywhere (the whole file included)."""
    edits = st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1, max_size=6)
    return st.builds(lambda e, cut: _mutate(valid, e, cut), edits, st.integers(1, len(valid)))


def stripped_or_refused(data: bytes, **options) -> bytes | None:
    """The stripped bytes, or None when refused with a typed error; anything else fails the test."""
    from images import registry
    from images.model import Options
    from shared.errors import ScrubError

    try:
        return registry.strip(data, Options(**options)).data
    except ScrubError:
        return None
