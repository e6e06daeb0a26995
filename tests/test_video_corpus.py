"""Every video of ../shared/corpus stripped, then judged by exiftool -ee3 (devtools/judge.py) and by
ffmpeg stream hashes, brand and rotation; broken ones refused. Skipped, with the reason, without a corpus."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

import corpus
from corpus import CORPUS
from devtools.judge import leaks_in_file
from shared.errors import MalformedInput
from video.strip import VideoOptions, inspect_file, strip_file
from videokit import av_hashes, brand_or_doctype, rotations

VIDEO_FORMATS = ("MP4", "MOV", "3GP", "WebM", "Matroska")
# Inputs that must be refused, and why (checked against ffmpeg's own opinion in the comment).
REFUSED = {
    "sample.mkv": "truncated",  # ffmpeg -xerror: "Element ... exceeds containing master element", EOF
    "QuickTime.mov": "sample tables reference",  # exiftool's tag fixture: 3.8 KB whose tables declare 3 MB
}


def _video_formats() -> dict[str, str]:
    """Corpus file name -> the format MANIFEST.tsv gives it, for the video files."""
    with (CORPUS / "MANIFEST.tsv").open(newline="") as rows:
        return {r["file"]: r["format"] for r in csv.DictReader(rows, delimiter="\t")}


VIDEOS = sorted(name for name, fmt in _video_formats().items() if fmt.startswith(VIDEO_FORMATS)) \
    if corpus.available() else []


def _params(names: list[str]) -> list:
    return corpus.params(lambda p: p.name in names)


def test_the_corpus_has_the_videos_the_issue_names():
    corpus.path("MANIFEST.tsv")
    assert {"max-heromode.mp4", "with-gps.mov", "ftyp3gp5.mp4", "out9_sm.webm"} <= set(VIDEOS)


@pytest.mark.parametrize("src", _params([v for v in VIDEOS if v not in REFUSED]))
def test_corpus_video_is_stripped_clean_and_lossless(src: Path, tmp_path):
    dst = tmp_path / src.name
    before = leaks_in_file(str(src))
    result = strip_file(src, dst, VideoOptions())
    assert leaks_in_file(str(dst)) == {}
    assert av_hashes(dst) == av_hashes(src)
    assert brand_or_doctype(dst) == brand_or_doctype(src)
    assert rotations(dst) == rotations(src)
    assert result.lossless and (result.removed or not before)
    assert inspect_file(dst)["found"] == {}


def test_gopro_telemetry_and_apple_timed_metadata_tracks_are_found_then_dropped(tmp_path):
    for name, marker in (("max-heromode.mp4", "gpmd"), ("with-gps.mov", "mebx")):
        telemetry = inspect_file(corpus.path(name))["found"]["telemetry"]
        assert any(marker in line for line in telemetry)
        strip_file(corpus.path(name), tmp_path / name)
        assert "telemetry" not in inspect_file(tmp_path / name)["found"]


@pytest.mark.parametrize("name, reason", sorted(REFUSED.items()))
def test_broken_corpus_video_is_refused(name, reason, tmp_path):
    with pytest.raises(MalformedInput, match=reason):
        strip_file(corpus.path(name), tmp_path / name)
    assert not (tmp_path / name).exists()
