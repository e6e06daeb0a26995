"""Run one strip in a child Python with its address space capped, and measure what it used.

The memory tests of the image stripper use it: a regression then fails on the cap or on the measured
peak instead of taking the machine's memory, and the test asserts on bytes, never on time. The CPU cap
only turns a runaway (cubic) loop into a failure instead of a hang.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu}))
from images import registry
from images.model import Options
from shared.errors import ScrubError
try:
    result = registry.strip(open(sys.argv[1], "rb").read(), Options.from_env())
    print("stripped", "lossless" if result.lossless else "re-encoded", len(result.data))
except ScrubError as exc:
    print("refused", type(exc).__name__, exc)
# VmHWM: this process's own peak (ru_maxrss would include the parent's, which Linux carries across exec).
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) * 1024)
"""


@dataclass(frozen=True)
class Run:
    outcome: str  # "stripped lossless|re-encoded N" or "refused ErrorClass reason"
    peak_bytes: int  # peak resident set size of the child
    returncode: int
    stderr: str


def strip_in_child(data: bytes, tmp_path: Path, cap_mb: int = 2048, cpu_seconds: int = 120,
                   **env: str) -> Run:
    """Strip `data` under an address-space cap of `cap_mb` MB; settings as environment variables."""
    source = tmp_path / "input.bin"
    source.write_bytes(data)
    script = _CHILD.format(cap=cap_mb << 20, cpu=cpu_seconds)
    done = subprocess.run([sys.executable, "-c", script, str(source)], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, check=False)
    lines = done.stdout.splitlines()
    if done.returncode or len(lines) != 2:
        return Run(done.stdout, 0, done.returncode or 1, done.stderr)
    return Run(lines[0], int(lines[1]), 0, done.stderr)
