"""HEIC and AVIF rows: the lossless item strip next to a decode + re-encode at the highest quality
(the fallback path: pillow-heif lossless HEVC for HEIC, Pillow's AVIF at quality 100, 4:4:4), and the
strip alone on a generated 12 MP HEIC with full metadata (issue 15's row).
The corpus HEIC/AVIF row is with the other formats' in bench.images."""
from __future__ import annotations

from pathlib import Path

from bench.images import CORPUS, row, strip_row
from bench.measure import measure
from bench.video import CACHE

CASES = (("arrow.heic", "12 MP iPhone HEIC, 48-tile grid"), ("dirty.avif", "AVIF with EXIF and XMP"))


def reencode_file(path: str) -> None:
    from images import heif
    from images.model import Options

    heif.reencode(Path(path).read_bytes(), Options())


def photo_heic() -> Path:
    """A 12 MP HEIC (pillow-heif, quality 80) with an EXIF item (GPS, device, times, Orientation 6) and
    an XMP item: encoded once, which takes a while, then cached."""
    from devtools.samples import heic_photo

    path = CACHE / "photo-12MP.heic"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(heic_photo((4000, 3000), orientation=6))
        partial.rename(path)
    return path


def run() -> list[dict]:
    photo = photo_heic()
    rows = [strip_row(f"12 MP HEIC, EXIF with GPS and XMP ({photo.stat().st_size / 1e6:.1f} MB)", [photo],
                      "lossless strip (coded images byte-identical)")]
    for name, label in CASES:
        path = CORPUS / name
        nbytes = path.stat().st_size
        case = f"{label} ({nbytes / 1e6:.1f} MB)"
        strip = strip_row(case, [path], "lossless strip (coded images byte-identical)")
        reencode = measure("bench.heif:reencode_file", str(path))
        rows.append(strip)
        rows.append(row(case, "decode + re-encode", nbytes, reencode,
                         f"{reencode['seconds'] / strip['seconds']:.0f}x slower than the strip"))
    return rows
