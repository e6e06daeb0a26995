"""`python -m images`: the registry picks by content, the CLI reports per file and never half-writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import corpus
from images import registry
from imaging import REPO, full_exif, jpeg_with
from shared.errors import MalformedInput, UnsupportedFormat


def images_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "images", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, check=False)


@pytest.mark.parametrize("name, what", [("001.tif", "TIFF"), ("DNG.dng", "TIFF"), ("dirty.jxl", "JPEG XL")])
def test_formats_not_handled_get_a_clear_unsupported_error(name, what) -> None:
    with pytest.raises(UnsupportedFormat, match=what):
        registry.strip(corpus.read(name))


@pytest.mark.parametrize("data", [b"", b"hello world, not an image at all"])
def test_empty_or_unknown_content_is_refused(data) -> None:
    with pytest.raises((MalformedInput, UnsupportedFormat)):
        registry.strip(data)


def test_lying_extension_is_handled_by_content_and_reported(tmp_path) -> None:
    out = tmp_path / "out.nef"
    result = images_cli("strip", str(corpus.path("Issue_247-1.nef")), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "extension .nef but content is jpeg" in result.stdout
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"


def test_several_inputs_go_to_a_directory_and_failures_get_one_line_each(tmp_path) -> None:
    good = tmp_path / "in" / "photo.jpg"
    bad = tmp_path / "in" / "broken.jpg"
    good.parent.mkdir()
    good.write_bytes(jpeg_with(exif=full_exif()))
    bad.write_bytes(good.read_bytes()[:200])
    result = images_cli("strip", str(good), str(bad), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert (tmp_path / "out" / "photo.jpg").exists()
    assert not (tmp_path / "out" / "broken.jpg").exists()
    assert not list((tmp_path / "out").glob(".*part"))
    failures = [line for line in result.stderr.splitlines() if line.startswith(str(bad))]
    assert len(failures) == 1 and "truncated" in failures[0]
    assert "Traceback" not in result.stderr


def test_inspect_prints_classes_and_what_strip_removes(tmp_path) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg_with(exif=full_exif(6)))
    result = images_cli("inspect", str(path))
    report = json.loads(result.stdout)
    assert report["format"] == "jpeg"
    assert report["removes"]["gps"] == ["GPS position 48.85806, 2.29444 (APP1 Exif)"]
    assert "orientation" in report["keeps"] and "camera" in report["found"]


def test_bad_setting_is_reported_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg_with())
    result = images_cli("strip", str(path), "-o", str(tmp_path / "o.jpg"), env={"ORIENTATION": "sideways"})
    assert result.returncode == 1 and "ORIENTATION must be" in result.stderr and "Traceback" not in result.stderr
