"""Quarantine mode end to end on the local S3 server: uploads land in a bucket only the functions read,
stripped copies appear under the same key in the media bucket; and prefix mode never loops or rewrites
an upload when DEST_BUCKET is the source bucket."""
from __future__ import annotations

import pytest

from devtools.judge import leaks_in_file
from devtools.s3events import s3_event, s3_record, uploaded
from devtools.samples import jpeg_photo
from images import handler as image_handler
from pipelinekit import handler, logged
from shared.errors import InvalidConfig
from shared.pipeline import InvocationFailed

pytestmark = pytest.mark.slow

DIRTY = jpeg_photo((96, 64))



def keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))



def test_stripped_copies_appear_under_the_same_key_in_the_media_bucket(s3, bucket, versioned_bucket, monkeypatch,
                                                                         tmp_path, capsys):
    uploads, media = bucket, versioned_bucket
    key = "albums/2026/IMG 0001.jpg"
    head = uploaded(s3, uploads, key, DIRTY, Tagging="album=summer", CacheControl="max-age=60",
                    Metadata={"owner": "42"})
    scrub = handler(image_handler, monkeypatch, GUARD="prefix", DEST_BUCKET=media, SOURCE_BUCKETS=uploads)
    assert scrub(s3_event(s3_record(uploads, key, head))) == {"outcomes": {"stripped": 1}}
    assert keys(s3, media) == [key]
    copy = s3.get_object(Bucket=media, Key=key)
    path = tmp_path / "copy.jpg"
    path.write_bytes(copy["Body"].read())
    assert leaks_in_file(str(path)) == {}
    assert copy["CacheControl"] == "max-age=60" and copy["Metadata"]["owner"] == "42"
    assert s3.get_object_tagging(Bucket=media, Key=key)["TagSet"] == [{"Key": "album", "Value": "summer"}]
    assert s3.get_object(Bucket=uploads, Key=key)["Body"].read() == DIRTY  # the quarantined upload is untouched
    # An event from the media bucket (a copy) is not processed.
    after = s3.head_object(Bucket=media, Key=key)
    assert scrub(s3_event(s3_record(media, key, after))) == {"outcomes": {"misrouted": 1}}
    assert logged(capsys)[-1]["reason"] == f"bucket {media!r} is not in SOURCE_BUCKETS"


@pytest.mark.parametrize("dest_prefix", ["in/clean/", "in/"])
def test_dest_bucket_equal_to_the_source_bucket_with_overlapping_prefixes_is_refused(s3, bucket, monkeypatch,
                                                                                      capsys, dest_prefix):
    head = uploaded(s3, bucket, "in/a.jpg", DIRTY)
    scrub = handler(image_handler, monkeypatch, GUARD="prefix", SOURCE_PREFIX="in/", DEST_PREFIX=dest_prefix, DEST_BUCKET=bucket)
    with pytest.raises(InvocationFailed):
        scrub(s3_event(s3_record(bucket, "in/a.jpg", head)))
    assert keys(s3, bucket) == ["in/a.jpg"]  # nothing written: no in/clean/clean/..., the upload not replaced
    assert s3.get_object(Bucket=bucket, Key="in/a.jpg")["Body"].read() == DIRTY
    (line,) = logged(capsys)
    assert line["outcome"] == "failed" and "overlap in the same bucket" in line["reason"]


def test_the_overlap_is_refused_at_cold_start_when_the_source_buckets_are_known(monkeypatch):
    scrub = handler(image_handler, monkeypatch, GUARD="prefix", SOURCE_PREFIX="in/", DEST_PREFIX="in/clean/", DEST_BUCKET="media",
                 SOURCE_BUCKETS="media,other")
    with pytest.raises(InvalidConfig, match="DEST_BUCKET 'media' is the source bucket"):
        scrub({"Records": []})


def test_dest_bucket_equal_to_the_source_bucket_without_overlap_writes_once(s3, bucket, monkeypatch):
    head = uploaded(s3, bucket, "in/a.jpg", DIRTY)
    scrub = handler(image_handler, monkeypatch, GUARD="prefix", SOURCE_PREFIX="in/", DEST_PREFIX="clean/", DEST_BUCKET=bucket)
    assert scrub(s3_event(s3_record(bucket, "in/a.jpg", head))) == {"outcomes": {"stripped": 1}}
    copy = s3.head_object(Bucket=bucket, Key="clean/a.jpg")
    assert scrub(s3_event(s3_record(bucket, "clean/a.jpg", copy))) == {"outcomes": {"skipped-guard": 1}}
    assert keys(s3, bucket) == ["clean/a.jpg", "in/a.jpg"]


def test_records_that_create_no_object_are_ignored(s3, bucket, monkeypatch):
    head = uploaded(s3, bucket, "gone.jpg", DIRTY)
    scrub = handler(image_handler, monkeypatch)
    event = s3_event(s3_record(bucket, "gone.jpg", head, event_name="ObjectRemoved:Delete"),
                     s3_record(bucket, "gone.jpg", head, event_name="ObjectRestore:Completed"))
    assert scrub(event) == {"outcomes": {"ignored": 2}}
    assert s3.get_object(Bucket=bucket, Key="gone.jpg")["Body"].read() == DIRTY
