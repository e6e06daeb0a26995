"""`python -m bench`: every topic's rows in one table, printed and written to docs/benchmarks.md."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.containers import kept_section

TOPICS = ("images", "heif", "video", "pipeline", "backfill")
COLUMNS = ("case", "method", "MB/s", "seconds", "peak MB", "notes")
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
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


def _run_topic(topic: str) -> list[dict]:
    """One topic in a fresh, small process: Linux charges a forking parent's memory to its children's
    peak-RSS figures, so the parent must not have grown (say, by generating the sample photos)."""
    code = f"import json, bench.{topic} as topic; print(json.dumps(topic.run()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=OUT.parents[1], stdout=subprocess.PIPE,
                          text=True, check=True, timeout=3600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compile_project() -> None:
    """Byte-compile the three packages, as `pip install` and the container build do, so the processes
    timed here run the code rather than compile it (with PYTHONDONTWRITEBYTECODE set, as on this
    machine, every one of them would otherwise compile each module it imports from source)."""
    import compileall

    for package in ("images", "video", "shared"):
        compileall.compile_dir(OUT.parents[1] / package, quiet=1)


def main(topics: list[str]) -> int:
    _compile_project()
    rows: list[dict] = []
    for topic in topics:
        print(f"running {topic} benchmarks...", file=sys.stderr, flush=True)
        rows += _run_topic(topic)
    table = _table(rows)
    print(table)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    containers = kept_section(OUT.read_text()) if OUT.exists() else ""  # `make bench-containers` writes it
    OUT.write_text(f"# Benchmarks\n\nWritten by `make bench` on {stamp}.\n\nMachine: {_machine()}\n\n"
                   f"MB/s is input megabytes (10^6 bytes) per second; peak MB is the peak resident memory the "
                   f"operation added, measured in a fresh process.\n\n{table}\n"
                   + (f"\n{containers.rstrip()}\n" if containers else ""))
    print(f"\nwritten to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(TOPICS)))
