"""The marker and versions against the local S3 server: a forged marker is not trusted, DELETE_ORIGINAL_VERSION
ends with the metadata version gone (after a failed delete, a lost PutObject response, a newer upload),
and a same-bytes re-upload keeps its own tags and headers. Faults are injected through botocore's event
hooks; every request still goes to the real server."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from devtools.s3events import s3_event, s3_record, uploaded
from devtools.samples import jpeg_photo
from images.registry import strip as real_strip
from pipelinekit import logged, lose_first_response, object_leaks, tags
from shared.config import Config
from shared.guard import GUARD_TAG
from shared.pipeline import Pipeline
from shared.routing import IMAGE, VIDEO
from shared.s3io import make_client
from shared.staging import InMemory, OnDisk
from video.strip import strip_file

pytestmark = pytest.mark.slow

DIRTY = jpeg_photo((96, 64))


def pipeline(client, strip=real_strip, **settings) -> Pipeline:
    config = Config(**settings)
    return Pipeline(IMAGE, config, client, InMemory(strip, config.max_image_bytes))




def versions(s3, bucket: str, key: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]



@pytest.mark.parametrize("guard, forged", [
    ("tag", {"Tagging": "ExifStripped=True"}),
    ("metadata", {"Metadata": {"exif-stripped": "true"}}),
])
def test_an_upload_that_arrives_marked_is_stripped_anyway(s3, bucket, tmp_path, guard, forged):
    head = uploaded(s3, bucket, "forged.jpg", DIRTY, **forged)
    assert object_leaks(s3, bucket, "forged.jpg", tmp_path)
    scrub = pipeline(s3, guard=guard)
    assert scrub.handle(s3_event(s3_record(bucket, "forged.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert object_leaks(s3, bucket, "forged.jpg", tmp_path) == {}
    # Its own write is recognised: the event for it writes nothing.
    after = s3.head_object(Bucket=bucket, Key="forged.jpg")
    assert scrub.handle(s3_event(s3_record(bucket, "forged.jpg", after))) == {"outcomes": {"skipped-guard": 1}}
    assert s3.head_object(Bucket=bucket, Key="forged.jpg")["ETag"] == after["ETag"]


def test_a_failed_delete_is_completed_by_the_retry(s3, versioned_bucket, capsys):
    bucket = versioned_bucket
    head = uploaded(s3, bucket, "d.jpg", DIRTY)
    client = make_client()
    failures = iter([ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "DeleteObject")])

    def fail_once(**_):
        if error := next(failures, None):
            raise error

    client.meta.events.register("before-call.s3.DeleteObject", fail_once)
    scrub = pipeline(client, delete_original_version=True)
    event = s3_event(s3_record(bucket, "d.jpg", head))
    with pytest.raises(Exception, match="deleting the original version"):
        scrub.handle(event)
    assert head["VersionId"] in versions(s3, bucket, "d.jpg")
    assert scrub.handle(event) == {"outcomes": {"stripped": 1}}  # Lambda's retry of the same event
    assert head["VersionId"] not in versions(s3, bucket, "d.jpg")
    assert logged(capsys)[-1]["deleted_version"] == head["VersionId"]


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "unversioned"])
def test_a_lost_putobject_response_still_ends_stripped(s3, bucket, versioned_bucket, versioned):
    bucket = versioned_bucket if versioned else bucket
    head = uploaded(s3, bucket, "lost.jpg", DIRTY)
    client = make_client()
    lost = lose_first_response(client, "PutObject")
    scrub = pipeline(client, delete_original_version=versioned)
    assert scrub.handle(s3_event(s3_record(bucket, "lost.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert lost == [1]
    if versioned:  # the write landed once, and the version with the metadata is gone
        (remaining,) = versions(s3, bucket, "lost.jpg")
        assert remaining != head["VersionId"]
    assert tags(s3, bucket, "lost.jpg") == {GUARD_TAG: "True"}


def test_a_newer_upload_during_the_strip_does_not_leave_the_old_version(s3, versioned_bucket, tmp_path):
    bucket = versioned_bucket
    head = uploaded(s3, bucket, "n.jpg", DIRTY)
    newer = jpeg_photo((80, 60))

    def upload_meanwhile(data: bytes):
        result = real_strip(data)
        s3.put_object(Bucket=bucket, Key="n.jpg", Body=newer)
        return result

    scrub = pipeline(s3, strip=upload_meanwhile, delete_original_version=True)
    assert scrub.handle(s3_event(s3_record(bucket, "n.jpg", head))) == {"outcomes": {"superseded": 1}}
    (remaining,) = versions(s3, bucket, "n.jpg")  # only the newer upload, which has its own event
    assert remaining != head["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="n.jpg")["Body"].read() == newer


def test_a_same_bytes_reupload_keeps_its_own_tags_and_headers(s3, versioned_bucket, tmp_path):
    bucket = versioned_bucket
    first = uploaded(s3, bucket, "s.jpg", DIRTY, Tagging="who=first", CacheControl="max-age=1")
    second = uploaded(s3, bucket, "s.jpg", DIRTY, Tagging="who=second", CacheControl="max-age=2",
                      Metadata={"album": "b"})
    assert first["ETag"] == second["ETag"] and first["VersionId"] != second["VersionId"]
    scrub = pipeline(s3)
    # The late event for the first version must not write its tags and headers over the second upload.
    assert scrub.handle(s3_event(s3_record(bucket, "s.jpg", first))) == {"outcomes": {"superseded": 1}}
    assert s3.head_object(Bucket=bucket, Key="s.jpg")["VersionId"] == second["VersionId"]
    assert scrub.handle(s3_event(s3_record(bucket, "s.jpg", second))) == {"outcomes": {"stripped": 1}}
    after = s3.head_object(Bucket=bucket, Key="s.jpg")
    assert after["CacheControl"] == "max-age=2" and after["Metadata"]["album"] == "b"
    assert tags(s3, bucket, "s.jpg") == {"who": "second", GUARD_TAG: "True"}
    assert object_leaks(s3, bucket, "s.jpg", tmp_path) == {}


def test_a_lost_complete_multipart_upload_response_still_ends_stripped(s3, versioned_bucket, dirty_video, tmp_path):
    """The retried CompleteMultipartUpload meets the server's 412 (IfMatch on the original's ETag)."""
    bucket = versioned_bucket
    head = uploaded(s3, bucket, "clip.mp4", dirty_video)
    client = make_client()
    lost = lose_first_response(client, "CompleteMultipartUpload")
    config = Config(delete_original_version=True, part_bytes=5 * 1024 * 1024)
    scrub = Pipeline(VIDEO, config, client, OnDisk(strip_file, str(tmp_path)))
    assert scrub.handle(s3_event(s3_record(bucket, "clip.mp4", head))) == {"outcomes": {"stripped": 1}}
    assert lost == [1]
    (remaining,) = versions(s3, bucket, "clip.mp4")
    assert remaining != head["VersionId"]
