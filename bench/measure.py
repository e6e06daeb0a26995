"""Time and peak memory of one operation, measured in a fresh child process.

Peak memory is the child's peak RSS minus its RSS just before the operation, so interpreter and
import overhead do not count, and allocations made by C libraries (Pillow, libheif) do. With a setup,
what it returns (say, the input files read into memory, as a Lambda holds its object) is made before
that baseline and handed to the operation, so only what the operation adds counts.
"""
from __future__ import annotations

import importlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def _peak_rss_kb() -> int:
    """This process image's peak RSS. Not ru_maxrss: on Linux that keeps the forking parent's size."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def measure(target: str, *args: str, setup: str | None = None, repeat: int = 1) -> dict:
    """Run `module:function(*args)` in a child, or `module:function(setup(*args))` with a setup target;
    returns {'seconds': best of `repeat`, 'peak_mb': ...}."""
    cmd = [sys.executable, "-m", "bench.measure", target, str(repeat), *( [f"--setup={setup}"] if setup else []), *args]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark {target} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _resolve(target: str):
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def _child(argv: list[str]) -> None:
    target, repeat, *args = argv
    if args and args[0].startswith("--setup="):
        args = [_resolve(args.pop(0).split("=", 1)[1])(*args)]
    func = _resolve(target)
    baseline = _rss_kb()
    best = float("inf")
    for _ in range(int(repeat)):
        start = time.perf_counter()
        func(*args)
        best = min(best, time.perf_counter() - start)
    peak = _peak_rss_kb()
    print(json.dumps({"seconds": best, "peak_mb": max(0, peak - baseline) / 1024}))


if __name__ == "__main__":
    _child(sys.argv[1:])
