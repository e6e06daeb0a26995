"""Cases where today's faster paths could check less than the code they replaced: the one-pass scan
and the JPEG marker search on any buffer, empty or cut data; the CLI's part files, named by process id;
tag reads against the local S3 server."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.s3events import s3_event, s3_record, uploaded
from images import exif, jpeg, scan
from images.__main__ import _inspect_file, _strip_file
from images.model import Options
from pipelinekit import DIRTY_JPEG, image_pipeline, tags
from shared.cli import run
from shared.errors import MalformedInput
from shared.guard import GUARD_TAG, GUARD_TAG_VALUE

NO_ICC = Options(keep_icc=False)
EXIF_BLOCK = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x0f\x01\x02\x00"  # one entry: Make, ASCII
EVERY_CLASS = b"<x:xmpmeta ns.adobe.com/xap/1.0/>Photoshop 3.0\x00ICC_PROFILE\x00MPF\x00MM\x00*" + EXIF_BLOCK


def uncounted(parsed, **_):
    """A server that never sends x-amz-tagging-count on HeadObject (some S3-compatible stores), though
    it answers GetObjectTagging."""
    parsed.pop("TagCount", None)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_the_scan_and_the_marker_search_read_any_buffer(kind) -> None:
    assert scan.leftovers(kind(EVERY_CLASS), NO_ICC) == [
        "XMP packet", "XMP namespace", "Photoshop IRB / IPTC", "ICC profile", "MPF index",
        "EXIF/TIFF block other than Orientation"]
    assert jpeg._scan_end(kind(b"\x00\xff\x00\xff\xd3\xff\xd9"), 0) == 5


def test_empty_and_cut_signatures_are_clean_and_a_scan_without_marker_is_refused() -> None:
    assert scan.leftovers(b"", NO_ICC) == []
    for cut in (b"xmpmet", b"ns.adobe.com/", b"Photoshop 3.0", b"ICC_PROFILE", b"MPF\x00II*", b"II*", b"MM\x00"):
        assert scan.leftovers(cut, NO_ICC) == [], cut
    assert scan.leftovers(exif.minimal_tiff(6), NO_ICC) == []
    for data, start in ((b"", 0), (b"\xff", 0), (b"\xff\xd9", 1), (b"\xff\xd9", 3)):
        with pytest.raises(MalformedInput):
            jpeg._scan_end(data, start)


@pytest.mark.slow
def test_tags_survive_a_server_that_never_counts_them(s3, bucket):
    """A first successful GetObjectTagging proves the right to read tags, not that HeadObject reports
    their count: until a count has been seen, a missing one proves nothing."""
    first = uploaded(s3, bucket, "first.jpg", DIRTY_JPEG)
    tagged = uploaded(s3, bucket, "tagged.jpg", DIRTY_JPEG, Tagging="project=alps")
    pipeline = image_pipeline(s3)
    s3.meta.events.register("after-call.s3.HeadObject", uncounted)
    try:
        for key, head in (("first.jpg", first), ("tagged.jpg", tagged)):
            assert pipeline.handle(s3_event(s3_record(bucket, key, head))) == {"outcomes": {"stripped": 1}}
    finally:
        s3.meta.events.unregister("after-call.s3.HeadObject", uncounted)
    assert tags(s3, bucket, "tagged.jpg") == {"project": "alps", GUARD_TAG: GUARD_TAG_VALUE}


def test_a_finished_strip_leaves_alone_the_part_file_name_it_freed(tmp_path, monkeypatch) -> None:
    """Part files are named by process id, so a run with the same id in another container writing beside
    the same output takes the name as soon as this run has renamed its own into place."""
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    src.write_bytes(DIRTY_JPEG)
    others: list[Path] = []
    replace = os.replace

    def replace_then_another_run_takes_the_name(part, target):
        replace(part, target)
        others.append(Path(part))
        others[0].write_bytes(b"another run's output, not yet renamed")

    monkeypatch.setattr(os, "replace", replace_then_another_run_takes_the_name)
    assert run("python -m images", "", _strip_file, _inspect_file, ["strip", str(src), "-o", str(dst)]) == 0
    assert others[0].read_bytes() == b"another run's output, not yet renamed"
    assert scan.leftovers(dst.read_bytes(), Options()) == []
