"""The S3 requests one record costs, against the local S3 server: once a pipeline has read tags that
HeadObject counted in a bucket, it reads them only when HeadObject says the object has some, and the loop guard and the
conditional write hold all the same (a tagged object is skipped, user tags are carried over, a newer
upload is never overwritten)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from devtools.s3events import s3_event, s3_record, uploaded
from pipelinekit import DIRTY_JPEG, body, gps_tags, image_pipeline, tags
from shared.guard import GUARD_TAG, GUARD_TAG_VALUE, STRIPPED_FROM
from shared.pipeline import InvocationFailed, Pipeline

pytestmark = pytest.mark.slow


def recorded(client) -> list[str]:
    """The names of the S3 operations `client` sends from now on."""
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def warmed(s3, bucket: str, strip=None) -> Pipeline:
    """An image pipeline that has already read tags HeadObject counted in `bucket` (its first record there)."""
    pipeline = image_pipeline(s3, strip)
    head = uploaded(s3, bucket, "first.jpg", DIRTY_JPEG, Tagging="project=alps")
    assert pipeline.handle(s3_event(s3_record(bucket, "first.jpg", head))) == {"outcomes": {"stripped": 1}}
    return pipeline


def denied(model, **_):
    """What S3 answers a role without s3:GetObjectTagging (SeaweedFS has no IAM policies to deny it)."""
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                       "ResponseMetadata": {"HTTPStatusCode": 403}}, model.name)


def uncounted(parsed, **_):
    """S3 sends x-amz-tagging-count only to a caller allowed to read tags."""
    parsed.pop("TagCount", None)


def test_a_first_record_reads_tags_even_when_none_are_counted(s3, bucket):
    head = uploaded(s3, bucket, "plain.jpg", DIRTY_JPEG)
    calls = recorded(s3)
    assert image_pipeline(s3).handle(s3_event(s3_record(bucket, "plain.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert calls == ["HeadObject", "GetObjectTagging", "GetObject", "PutObject"]


def test_a_role_that_may_not_read_tags_fails_the_record_rather_than_lose_them(s3, bucket):
    head = uploaded(s3, bucket, "tagged.jpg", DIRTY_JPEG, Tagging="project=alps")
    s3.meta.events.register_first("before-call.s3.GetObjectTagging", denied)
    s3.meta.events.register("after-call.s3.HeadObject", uncounted)
    try:
        result = image_pipeline(s3).handle(s3_event(s3_record(bucket, "tagged.jpg", head)))
    except InvocationFailed as failed:
        assert "AccessDenied" in str(failed)
    else:
        raise AssertionError(f"the record did not fail: {result}")
    finally:
        s3.meta.events.unregister("before-call.s3.GetObjectTagging", denied)
        s3.meta.events.unregister("after-call.s3.HeadObject", uncounted)
    assert body(s3, bucket, "tagged.jpg") == DIRTY_JPEG
    assert tags(s3, bucket, "tagged.jpg") == {"project": "alps"}


def test_an_untagged_upload_is_stripped_without_reading_tags(s3, bucket):
    pipeline = warmed(s3, bucket)
    head = uploaded(s3, bucket, "plain.jpg", DIRTY_JPEG)
    calls = recorded(s3)
    assert pipeline.handle(s3_event(s3_record(bucket, "plain.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert calls == ["HeadObject", "GetObject", "PutObject"]
    assert gps_tags(body(s3, bucket, "plain.jpg")) == []
    assert tags(s3, bucket, "plain.jpg") == {GUARD_TAG: GUARD_TAG_VALUE}


def test_a_tagged_upload_keeps_its_tags(s3, bucket):
    pipeline = warmed(s3, bucket)
    head = uploaded(s3, bucket, "tagged.jpg", DIRTY_JPEG, Tagging="project=alps&owner=ann")
    calls = recorded(s3)
    assert pipeline.handle(s3_event(s3_record(bucket, "tagged.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert calls == ["HeadObject", "GetObjectTagging", "GetObject", "PutObject"]
    assert tags(s3, bucket, "tagged.jpg") == {"project": "alps", "owner": "ann", GUARD_TAG: GUARD_TAG_VALUE}


def test_the_pipelines_own_write_is_skipped(s3, bucket):
    pipeline = warmed(s3, bucket)
    head = uploaded(s3, bucket, "own.jpg", DIRTY_JPEG)
    pipeline.handle(s3_event(s3_record(bucket, "own.jpg", head)))
    written = s3.head_object(Bucket=bucket, Key="own.jpg")
    assert written["Metadata"][STRIPPED_FROM]
    calls = recorded(s3)
    result = pipeline.handle(s3_event(s3_record(bucket, "own.jpg", written)))
    assert result == {"outcomes": {"skipped-guard": 1}}
    assert calls == ["HeadObject", "GetObjectTagging"]
    assert s3.head_object(Bucket=bucket, Key="own.jpg")["ETag"] == written["ETag"]


def test_an_untagged_clean_object_is_only_tagged(s3, bucket):
    pipeline = warmed(s3, bucket)
    clean = pipeline.stager.strip(DIRTY_JPEG).data
    head = uploaded(s3, bucket, "clean.jpg", clean)
    calls = recorded(s3)
    assert pipeline.handle(s3_event(s3_record(bucket, "clean.jpg", head))) == \
        {"outcomes": {"already-clean": 1}}
    assert calls == ["HeadObject", "GetObject", "PutObjectTagging", "HeadObject"]
    assert tags(s3, bucket, "clean.jpg") == {GUARD_TAG: GUARD_TAG_VALUE}
    assert body(s3, bucket, "clean.jpg") == clean


def test_an_upload_landing_during_the_strip_is_not_overwritten(s3, bucket):
    head = uploaded(s3, bucket, "race.jpg", DIRTY_JPEG)
    newer = b"a newer upload"

    def upload_meanwhile(result):
        s3.put_object(Bucket=bucket, Key="race.jpg", Body=newer)
        return result

    result = image_pipeline(s3, upload_meanwhile).handle(s3_event(s3_record(bucket, "race.jpg", head)))
    assert result == {"outcomes": {"superseded": 1}}
    assert body(s3, bucket, "race.jpg") == newer


def test_a_version_no_longer_current_is_not_overwritten(s3, versioned_bucket):
    old = uploaded(s3, versioned_bucket, "v.jpg", DIRTY_JPEG)
    new = uploaded(s3, versioned_bucket, "v.jpg", DIRTY_JPEG)  # the same bytes: the same ETag
    calls = recorded(s3)
    result = image_pipeline(s3).handle(s3_event(s3_record(versioned_bucket, "v.jpg", old)))
    assert result == {"outcomes": {"superseded": 1}}
    assert "PutObject" not in calls
    current = s3.head_object(Bucket=versioned_bucket, Key="v.jpg")
    assert (current["VersionId"], current["ETag"]) == (new["VersionId"], new["ETag"])
