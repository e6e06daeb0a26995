"""The S3 requests one record costs, against the local S3 server: tags are read only when HeadObject
says the object has some, and the loop guard and the conditional write hold all the same (a tagged
object is skipped, user tags are carried over, a newer upload is never overwritten)."""
from __future__ import annotations

import pytest

from devtools.s3events import s3_event, s3_record, uploaded
from pipelinekit import DIRTY_JPEG, body, gps_tags, image_pipeline, tags
from shared.guard import GUARD_TAG, GUARD_TAG_VALUE, STRIPPED_FROM

pytestmark = pytest.mark.slow


def recorded(client) -> list[str]:
    """The names of the S3 operations `client` sends from now on."""
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def test_an_untagged_upload_is_stripped_without_reading_tags(s3, bucket):
    head = uploaded(s3, bucket, "plain.jpg", DIRTY_JPEG)
    calls = recorded(s3)
    assert image_pipeline(s3).handle(s3_event(s3_record(bucket, "plain.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert calls == ["HeadObject", "GetObject", "PutObject"]
    assert gps_tags(body(s3, bucket, "plain.jpg")) == []
    assert tags(s3, bucket, "plain.jpg") == {GUARD_TAG: GUARD_TAG_VALUE}


def test_a_tagged_upload_keeps_its_tags(s3, bucket):
    head = uploaded(s3, bucket, "tagged.jpg", DIRTY_JPEG, Tagging="project=alps&owner=ann")
    calls = recorded(s3)
    assert image_pipeline(s3).handle(s3_event(s3_record(bucket, "tagged.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert calls == ["HeadObject", "GetObjectTagging", "GetObject", "PutObject"]
    assert tags(s3, bucket, "tagged.jpg") == {"project": "alps", "owner": "ann", GUARD_TAG: GUARD_TAG_VALUE}


def test_the_pipelines_own_write_is_skipped(s3, bucket):
    head = uploaded(s3, bucket, "own.jpg", DIRTY_JPEG)
    image_pipeline(s3).handle(s3_event(s3_record(bucket, "own.jpg", head)))
    written = s3.head_object(Bucket=bucket, Key="own.jpg")
    assert written["Metadata"][STRIPPED_FROM]
    calls = recorded(s3)
    result = image_pipeline(s3).handle(s3_event(s3_record(bucket, "own.jpg", written)))
    assert result == {"outcomes": {"skipped-guard": 1}}
    assert calls == ["HeadObject", "GetObjectTagging"]
    assert s3.head_object(Bucket=bucket, Key="own.jpg")["ETag"] == written["ETag"]


def test_an_untagged_clean_object_is_only_tagged(s3, bucket):
    clean = image_pipeline(s3).stager.strip(DIRTY_JPEG).data
    head = uploaded(s3, bucket, "clean.jpg", clean)
    calls = recorded(s3)
    assert image_pipeline(s3).handle(s3_event(s3_record(bucket, "clean.jpg", head))) == \
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
