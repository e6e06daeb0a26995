"""`python -m video strip IN... -o OUT` and `python -m video inspect IN...`."""
from __future__ import annotations

import sys
from pathlib import Path

from shared.cli import Outcome, run
from video.strip import VideoOptions, inspect_file, strip_file  # here, not per file: forked workers inherit it


def _strip_file(src: Path, dst: Path) -> Outcome:
    result = strip_file(src, dst, VideoOptions.from_env())
    return Outcome(f"{result.summary()}, {src.stat().st_size} -> {dst.stat().st_size} bytes", lossless=result.lossless)


def _inspect_file(path: Path) -> dict:
    return inspect_file(path, VideoOptions.from_env())


if __name__ == "__main__":
    sys.exit(run("python -m video", "Strip or inspect video metadata by stream copy (MP4, MOV, M4V, 3GP, 3G2, "
                 "Matroska, WebM).", _strip_file, _inspect_file))
