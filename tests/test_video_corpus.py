"""Every video of ../shared/corpus stripped, then judged by exiftool -ee3 (the independent
../shared/tools/sensitive.py) and by ffmpeg stream hashes, brand and rotation; broken ones refused.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_video import av_hashes, brand_or_doctype, load_judge, rotations  # the same judge as the generated cases

from shared.errors import MalformedInput
from video.strip import VideoOptions, inspect_file, strip_file

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
VIDEO_FORMATS = ("MP4", "MOV", "3GP", "WebM", "Matroska")
# Inputs that must be refused, and why (checked against ffmpeg's own opinion in the comment).
REFUSED = {
    "sample.mkv": "truncated",  # ffmpeg -xerror: "Element ... exceeds containing master element", EOF
    "QuickTime.mov": "sample tables reference",  # exiftool's tag fixture: 3.8 KB whose tables declare 3 MB
}


def _corpus_videos() -> list[str]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with manifest.open(newline="") as rows:
        return sorted(r["file"] for r in csv.DictReader(rows, delimiter="\t") if r["format"].startswith(VIDEO_FORMATS))


VIDEOS = _corpus_videos()
pytestmark = pytest.mark.skipif(not VIDEOS, reason=f"no corpus at {CORPUS}")


def test_the_corpus_has_the_videos_the_issue_names():
    assert {"max-heromode.mp4", "with-gps.mov", "ftyp3gp5.mp4", "out9_sm.webm"} <= set(VIDEOS)


@pytest.mark.parametrize("name", [v for v in VIDEOS if v not in REFUSED])
def test_corpus_video_is_stripped_clean_and_lossless(name, tmp_path):
    judge = load_judge()
    src, dst = CORPUS / name, tmp_path / name
    before = judge.sensitive_tags(judge.exiftool_json(str(src)))
    result = strip_file(src, dst, VideoOptions())
    assert judge.sensitive_tags(judge.exiftool_json(str(dst))) == {}
    assert av_hashes(dst) == av_hashes(src)
    assert brand_or_doctype(dst) == brand_or_doctype(src)
    assert rotations(dst) == rotations(src)
    assert result.lossless and (result.removed or not before)
    assert inspect_file(dst)["found"] == {}


def test_gopro_telemetry_and_apple_timed_metadata_tracks_are_found_then_dropped(tmp_path):
    for name, marker in (("max-heromode.mp4", "gpmd"), ("with-gps.mov", "mebx")):
        if name not in VIDEOS:
            pytest.skip(f"{name} missing")
        telemetry = inspect_file(CORPUS / name)["found"]["telemetry"]
        assert any(marker in line for line in telemetry)
        strip_file(CORPUS / name, tmp_path / name)
        assert "telemetry" not in inspect_file(tmp_path / name)["found"]


@pytest.mark.parametrize("name, reason", sorted(REFUSED.items()))
def test_broken_corpus_video_is_refused(name, reason, tmp_path):
    if name not in VIDEOS:
        pytest.skip(f"{name} missing")
    with pytest.raises(MalformedInput, match=reason):
        strip_file(CORPUS / name, tmp_path / name)
    assert not (tmp_path / name).exists()
