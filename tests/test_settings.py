"""One list of settings (shared/settings.py): what the code reads from the environment, what the
Makefile forwards to a local container run, and what the docs' settings tables describe."""
from __future__ import annotations

import re
import subprocess

from imaging import REPO
from shared import settings

# How the shipped code reads a setting: os.environ.get("X"), env.get("X"), env_bool("X", ...), the
# config helpers taking (env, "X", default), os.environ["X"].
_READ = re.compile(r"""(?:environ\.get|environ\[|env\.get|env_bool|_megabytes|positive_number|positive_int)"""
                   r"""\(?(?:[a-z_.]+, )?["']([A-Z][A-Z0-9_]+)["']""")
_DEBUG_ONLY = {"MEDIASCRUB_DEBUG"}  # the CLI's traceback switch, not a setting of the functions
_DOCUMENTED = re.compile(r"^\| `([A-Z][A-Z0-9_]+)`(?:, `([A-Z][A-Z0-9_]+)`)?(?:, `([A-Z][A-Z0-9_]+)`)? \|", re.MULTILINE)


def _read_in_code() -> set[str]:
    sources = [p for package in ("images", "video", "shared") for p in (REPO / package).rglob("*.py")]
    return {name for p in sources for name in _READ.findall(p.read_text())} - _DEBUG_ONLY


def _documented() -> set[str]:
    docs = [REPO / "README.md", REPO / "docs" / "pipeline.md", REPO / "docs" / "video.md"]
    return {name for doc in docs for row in _DOCUMENTED.findall(doc.read_text()) for name in row if name}


def test_the_code_reads_exactly_the_listed_settings():
    assert _read_in_code() == set(settings.NAMES)
    assert len(settings.NAMES) == len(set(settings.NAMES))


def test_every_setting_is_described_in_a_settings_table():
    assert set(settings.NAMES) <= _documented()


def test_a_local_container_run_gets_every_setting():
    done = subprocess.run(["make", "-s", "-n", "run-image"], cwd=REPO, capture_output=True, text=True,
                          check=True, timeout=60)
    forwarded = set(re.findall(r"-e ([A-Z][A-Z0-9_]+)", done.stdout))
    assert set(settings.NAMES) <= forwarded
