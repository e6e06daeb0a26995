"""Helpers for the video tests: run ffmpeg and ffprobe, and the views a judge compares before and after
(packet hashes of the video and audio streams, rotations, brand or Matroska doctype)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from video.container import matroska_doctype


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_chapters",
                          "-of", "json", str(path)], capture_output=True, check=True, timeout=60)
    return json.loads(out.stdout)


def av_hashes(path: Path) -> list[str]:
    """md5 of every video (pictures aside: they are dropped on purpose) and audio stream's packets."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:V?", "-map", "0:a?",
                          "-c", "copy", "-f", "streamhash", "-hash", "md5", "-"],
                         capture_output=True, check=True, timeout=60)
    return [line.split(",", 2)[-1] for line in out.stdout.decode().splitlines()]


def rotations(path: Path) -> list[float]:
    return [float(sd["rotation"]) for s in ffprobe(path)["streams"] if s["codec_type"] == "video"
            for sd in s.get("side_data_list", []) if "rotation" in sd]


def brand_or_doctype(path: Path) -> str:
    head = path.read_bytes()[:4096]
    return head[8:12].decode("latin-1") if head[4:8] == b"ftyp" else str(matroska_doctype(head))
