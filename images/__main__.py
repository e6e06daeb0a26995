"""`python -m images strip IN... -o OUT` and `python -m images inspect IN...`."""
from __future__ import annotations

import sys
from pathlib import Path

from images import registry  # here, not per file: the batch's forked workers inherit it
from images.model import Options
from shared.cli import Outcome, run


def _strip_file(src: Path, dst: Path) -> Outcome:
    data = src.read_bytes()
    result = registry.strip(data, Options.from_env())
    dst.write_bytes(result.data)
    removed = ", ".join(result.removed_classes) or "nothing (already clean)"
    how = "lossless" if result.lossless else "RE-ENCODED"
    notes = "".join(f"; {n}" for n in registry.extension_notes(src.suffix, result.format))
    return Outcome(f"{result.format}, {how}, {len(data)} -> {len(result.data)} bytes, removed {removed}{notes}",
                   lossless=result.lossless)


def _inspect_file(path: Path) -> dict:
    return registry.inspect(path.read_bytes(), Options.from_env())


if __name__ == "__main__":
    sys.exit(run("python -m images", "Strip or inspect image metadata (JPEG, PNG, WebP, GIF, HEIC/HEIF, AVIF).",
                 _strip_file, _inspect_file))
