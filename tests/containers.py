"""What the container tests share: the engine (or a visible skip) and the two images `make build` makes."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dockerfiles import REPO

ARCH = "amd64"
KINDS = ("image", "video")


def engine_or_skip() -> str:
    """docker or podman, answering; otherwise skip (or, with MEDIASCRUB_REQUIRE_ENGINE=1, fail) with the reason."""
    name = os.environ.get("CONTAINER_ENGINE") or next((n for n in ("docker", "podman") if shutil.which(n)), None)
    problem = None
    if name is None or not shutil.which(name):
        problem = f"{name or 'neither docker nor podman'} is not on PATH"
    else:
        done = subprocess.run([name, "info"], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            problem = f"`{name} info` failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"
    if problem:
        message = f"container tests need a running container engine: {problem} (devtools/ci-services.sh starts one)"
        if os.environ.get("MEDIASCRUB_REQUIRE_ENGINE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return name


def make(engine: str, *args: str, arch: str = ARCH, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """`make ARGS` for arch (default amd64) with this engine, output captured."""
    return subprocess.run(["make", "--no-print-directory", *args, f"PLATFORM=linux/{arch}", f"CONTAINER_ENGINE={engine}"],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def built_images(engine: str) -> dict[str, str]:
    """`make build` (the base and the image layers are cached by the engine): kind -> local image name."""
    done = make(engine, "build")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return {kind: f"mediascrub-{kind}:{ARCH}" for kind in KINDS}
