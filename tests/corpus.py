"""The sample media beside the repository (`../shared/corpus`), for the tests that want real files.

A plain clone has no corpus: those tests then skip, each with the reason, and the rest of the suite
runs. CI sets MEDIASCRUB_REQUIRE_CORPUS=1 (`.ci/run`), which turns a missing corpus into a failure, so
the corpus tests never skip silently there.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MISSING = f"no sample corpus at {CORPUS} (it lies beside the repository; a plain clone has none)"


def available() -> bool:
    return (CORPUS / "MANIFEST.tsv").is_file()


def _required() -> bool:
    return os.environ.get("MEDIASCRUB_REQUIRE_CORPUS") == "1"


def skip_or_fail() -> None:
    if _required():
        pytest.fail(MISSING + " and MEDIASCRUB_REQUIRE_CORPUS=1")
    pytest.skip(MISSING)


def path(name: str) -> Path:
    """The corpus file `name`; skips the calling test (with the reason) when there is no corpus."""
    if not available():
        skip_or_fail()
    return CORPUS / name


def read(name: str) -> bytes:
    return path(name).read_bytes()


def params(select: Callable[[Path], bool]) -> list:
    """pytest parameters, one per corpus file that `select` accepts (ids: file names). Without a corpus:
    one parameter that skips with the reason, so the report shows why instead of an empty parameter set
    (under MEDIASCRUB_REQUIRE_CORPUS=1, an error at collection instead)."""
    if not available():
        if _required():
            raise RuntimeError(MISSING + " and MEDIASCRUB_REQUIRE_CORPUS=1")
        return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=MISSING))]
    return [pytest.param(p, id=p.name) for p in sorted(CORPUS.iterdir())
            if p.name != "MANIFEST.tsv" and select(p)]

