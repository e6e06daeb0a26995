"""HEIC and AVIF rows: the lossless item strip next to a decode + re-encode at the highest quality
(the fallback path: pillow-heif lossless HEVC for HEIC, Pillow's AVIF at quality 100, 4:4:4).
The corpus HEIC/AVIF row is with the other formats' in bench.images."""
from __future__ import annotations

from pathlib import Path

from bench.images import CORPUS, row, strip_row
from bench.measure import measure

CASES = (("arrow.heic", "12 MP iPhone HEIC, 48-tile grid"), ("dirty.avif", "AVIF with EXIF and XMP"))


def reencode_file(path: str) -> None:
    from images import heif
    from images.model import Options

    heif.reencode(Path(path).read_bytes(), Options())


def run() -> list[dict]:
    rows = []
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
