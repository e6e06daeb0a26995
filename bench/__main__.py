"""`python -m bench`: every topic's rows in one table, printed and written to docs/benchmarks.md."""
from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

TOPICS = ("images", "heif", "video")
COLUMNS = ("case", "method", "MB/s", "seconds", "peak MB", "notes")
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, {ffmpeg}")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
    return str(value)


def _table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main(topics: list[str]) -> int:
    rows: list[dict] = []
    for topic in topics:
        print(f"running {topic} benchmarks...", file=sys.stderr, flush=True)
        rows += importlib.import_module(f"bench.{topic}").run()
    table = _table(rows)
    print(table)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    OUT.write_text(f"# Benchmarks\n\nWritten by `make bench` on {stamp}.\n\nMachine: {_machine()}\n\n"
                   f"MB/s is input megabytes (10^6 bytes) per second; peak MB is the peak resident memory the "
                   f"operation added, measured in a fresh process.\n\n{table}\n")
    print(f"\nwritten to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(TOPICS)))
