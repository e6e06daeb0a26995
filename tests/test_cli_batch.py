"""The CLI frame (shared/cli.py) on batches: worker processes, input order, permissions of outputs."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from devtools.judge import leaks_in_file
from imaging import REPO, full_exif, jpeg_with


def strip_batch(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "images", "strip", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False, preexec_fn=lambda: os.umask(umask))


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_a_batch_gives_one_line_per_input_in_input_order_whatever_the_workers(tmp_path, jobs) -> None:
    names = [f"{i:02d}.jpg" for i in range(7)]
    for i, name in enumerate(names):
        (tmp_path / name).write_bytes(jpeg_with(exif=full_exif(), size=(64 + i, 48)))
    (tmp_path / "03.jpg").write_bytes(b"\xff\xd8 not a JPEG")
    inputs = [str(tmp_path / name) for name in names]
    done = strip_batch(*inputs, "-o", str(tmp_path / "out"), "-j", jobs)
    assert done.returncode == 1
    assert [line.split(" -> ")[0] for line in done.stdout.splitlines()] == [p for p in inputs if not p.endswith("/03.jpg")]
    assert "03.jpg: " in done.stderr and "6 stripped (0 re-encoded), 1 failed" in done.stderr
    for name in names:
        out = tmp_path / "out" / name
        assert out.exists() == (name != "03.jpg")
        if out.exists():
            assert leaks_in_file(str(out)) == {}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_mode_any_new_file_gets(tmp_path, umask, mode) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(jpeg_with(exif=full_exif()))
    done = strip_batch(str(src), "-o", str(tmp_path / "clean.jpg"), umask=umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "clean.jpg").stat().st_mode) == mode
