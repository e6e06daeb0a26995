"""The containers' Python packages: hash-pinned requirements and a wheelhouse per image and architecture.

    python -m devtools.wheelhouse lock                      add --hash to every pin in requirements/*.txt
    python -m devtools.wheelhouse download KIND ARCH DIR    the pinned wheels for Debian bookworm's Python

Both images run Debian bookworm's python3 (CPython 3.11, glibc 2.36). The wheels are downloaded here,
on the host, with pip's ordinary client and checked against the hashes in requirements/KIND.txt; the
build installs them with `--no-index --require-hashes`, so it needs no network and no TLS.
requirements/pip.txt pins the pip wheel the build runs from the wheelhouse (pip is not installed).
"""
from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.11"  # Debian bookworm's python3
GLIBC_MINOR = 36  # Debian bookworm's glibc 2.36
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
REQUIREMENTS = {"image": "requirements/image.txt", "video": "requirements/video.txt", "pip": "requirements/pip.txt"}
_PIN = re.compile(r"^(?P<pin>[A-Za-z0-9_.-]+==[^\s\\]+)")


def platform_flags(arch: str) -> list[str]:
    """pip matches --platform exactly: name every manylinux tag bookworm's glibc can run."""
    machine = MACHINES[arch]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 16, -1)] + [f"manylinux2014_{machine}"]
    return [flag for tag in tags for flag in ("--platform", tag)]


def _pip_download(arch: str, args: list[str], directory: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", PYTHON_VERSION, "--implementation", "cp", *platform_flags(arch),
               "--dest", str(directory), *args]
    subprocess.run(command, check=True)


def download(kind: str, arch: str, directory: Path) -> None:
    """The wheels requirements/KIND.txt pins for ARCH, each checked against its pinned hash."""
    directory.mkdir(parents=True, exist_ok=True)
    _pip_download(arch, ["--require-hashes", "-r", str(REPO / REQUIREMENTS[kind])], directory)


def pins(text: str) -> list[str]:
    """name==version of every requirement line."""
    return [match["pin"] for line in text.splitlines() if (match := _PIN.match(line.strip()))]


def lock(path: Path) -> None:
    """Rewrite path with, after each pin, the sha256 of its wheel for every architecture."""
    text = path.read_text()
    hashes: dict[str, set[str]] = {pin: set() for pin in pins(text)}
    with tempfile.TemporaryDirectory() as scratch:
        for arch in MACHINES:
            directory = Path(scratch) / arch
            _pip_download(arch, list(hashes), directory)
            for wheel in directory.glob("*.whl"):
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                hashes[_pin_of(wheel.name, hashes)].add(digest)
    lines = []
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match is None:
            if not line.lstrip().startswith("--hash"):
                lines.append(line)
            continue
        flags = [f"--hash=sha256:{digest}" for digest in sorted(hashes[match["pin"]])]
        lines.append(" \\\n    ".join([match["pin"], *flags]))
    path.write_text("\n".join(lines) + "\n")


def _pin_of(wheel_name: str, pinned: dict[str, set[str]]) -> str:
    name, version = wheel_name.split("-")[:2]
    normal = re.sub(r"[-_.]+", "-", name).lower()
    for pin in pinned:
        pin_name, pin_version = pin.split("==")
        if re.sub(r"[-_.]+", "-", pin_name).lower() == normal and pin_version == version:
            return pin
    raise SystemExit(f"wheelhouse: downloaded {wheel_name}, which no pin names")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.wheelhouse", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lock")
    fetch = sub.add_parser("download")
    fetch.add_argument("kind", choices=sorted(REQUIREMENTS))
    fetch.add_argument("arch", choices=sorted(MACHINES))
    fetch.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            for relative in REQUIREMENTS.values():
                lock(REPO / relative)
        else:
            download(args.kind, args.arch, args.directory)
    except subprocess.CalledProcessError as exc:
        print(f"wheelhouse: pip failed ({exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
