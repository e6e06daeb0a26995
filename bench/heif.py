"""HEIC and AVIF rows: the lossless item strip next to a decode + re-encode at the highest quality
(the fallback path: pillow-heif lossless HEVC for HEIC, Pillow's AVIF at quality 100, 4:4:4)."""
from __future__ import annotations

from pathlib import Path

from bench.images import CORPUS, _row
from bench.measure import measure

CASES = (("arrow.heic", "12 MP iPhone HEIC, 48-tile grid"), ("dirty.avif", "AVIF with EXIF and XMP"))


def reencode_file(path: str) -> None:
    from images import heif
    from images.model import Options

    heif.reencode(Path(path).read_bytes(), Options())


def run() -> list[dict]:
    from images import heif

    rows = []
    for name, label in CASES:
        path = CORPUS / name
        nbytes = path.stat().st_size
        case = f"{label} ({nbytes / 1e6:.1f} MB)"
        strip = measure("bench.images:strip_files", str(path), repeat=5)
        reencode = measure("bench.heif:reencode_file", str(path))
        rows.append(_row(case, "lossless strip", nbytes, strip, "coded images byte-identical"))
        rows.append(_row(case, "decode + re-encode", nbytes, reencode,
                         f"{reencode['seconds'] / strip['seconds']:.0f}x slower than the strip"))
    paths = [p for p in sorted(CORPUS.iterdir()) if p.name != "MANIFEST.tsv" and heif.sniff(p.read_bytes()[:64])]
    nbytes = sum(p.stat().st_size for p in paths)
    result = measure("bench.images:strip_files", *map(str, paths), repeat=5)
    rows.append(_row(f"corpus heif/avif ({len(paths)} files, {nbytes / 1e6:.1f} MB)", "lossless strip", nbytes, result))
    return rows
