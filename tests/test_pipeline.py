"""Both Lambda handlers end to end against a real S3 server (SeaweedFS `weed mini`, started once per
session by conftest.py), with real event JSON, the real strippers and exiftool as the judge."""
from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.s3events import eventbridge_event, s3_event, s3_record, sns_event, sqs_event, uploaded
from images import handler as image_handler
from pipelinekit import (
    CORRUPT_JPEG,
    DIRTY_JPEG,
    DIRTY_PNG,
    body,
    gps_tags,
    handler,
    image_pipeline,
    json_lines,
    logged,
    tags,
    the_record,
)
from shared.config import Config, MiB
from shared.errors import InvalidConfig
from shared.pipeline import InvocationFailed, Pipeline
from shared.routing import VIDEO
from shared.staging import OnDisk
from video import handler as video_handler

pytestmark = pytest.mark.slow

KEYS = ["my holiday photo.jpg", "1+1=2.JPG", "café/Ünïcødé 東京.jpeg", "100% real.jpg", "a%2Bb+c.jpg"]


def test_keys_with_spaces_plus_unicode_and_percent(s3, bucket, monkeypatch):
    heads = {key: uploaded(s3, bucket, key, DIRTY_JPEG) for key in KEYS}
    assert gps_tags(DIRTY_JPEG)
    result = handler(image_handler, monkeypatch)(s3_event(*(s3_record(bucket, k, h) for k, h in heads.items())))
    assert result == {"outcomes": {"stripped": len(KEYS)}}
    for key in KEYS:
        stripped = body(s3, bucket, key)
        assert len(stripped) < len(DIRTY_JPEG) and gps_tags(stripped) == []
        assert tags(s3, bucket, key) == {"ExifStripped": "True"}


def test_mixed_batch_processes_every_record_and_raises_for_the_failure(s3, bucket, monkeypatch, capsys):
    clean = image_pipeline(s3, max_image_bytes=MiB).stager.strip(DIRTY_JPEG).data
    heads = {"good.jpg": uploaded(s3, bucket, "good.jpg", DIRTY_JPEG),
             "corrupt.jpg": uploaded(s3, bucket, "corrupt.jpg", CORRUPT_JPEG, Tagging="owner=me"),
             "clean.jpg": uploaded(s3, bucket, "clean.jpg", clean),
             "photo.png": uploaded(s3, bucket, "photo.png", DIRTY_PNG),
             "movie.mp4": {}, "notes.txt": {}, "gone.jpg": {}}
    event = s3_event(*(s3_record(bucket, key, head) for key, head in heads.items()))
    with pytest.raises(InvocationFailed, match="1 of 7 records failed; first: corrupt.jpg: malformed input"):
        handler(image_handler, monkeypatch)(event)
    outcomes = {line["key"]: line["outcome"] for line in logged(capsys)}
    assert outcomes == {"good.jpg": "stripped", "corrupt.jpg": "failed", "clean.jpg": "already-clean",
                        "photo.png": "stripped", "movie.mp4": "misrouted", "notes.txt": "superseded",
                        "gone.jpg": "superseded"}
    assert gps_tags(body(s3, bucket, "good.jpg")) == [] and gps_tags(body(s3, bucket, "photo.png")) == []
    untouched = s3.head_object(Bucket=bucket, Key="corrupt.jpg")
    assert body(s3, bucket, "corrupt.jpg") == CORRUPT_JPEG and untouched["ETag"] == heads["corrupt.jpg"]["ETag"]
    assert tags(s3, bucket, "corrupt.jpg") == {"owner": "me"}
    # Already clean: not rewritten (same ETag), only the tag added.
    assert s3.head_object(Bucket=bucket, Key="clean.jpg")["ETag"] == heads["clean.jpg"]["ETag"]
    assert tags(s3, bucket, "clean.jpg") == {"ExifStripped": "True"}


def test_log_line_fields(s3, bucket, capsys):
    head = uploaded(s3, bucket, "a.jpg", DIRTY_JPEG)
    image_pipeline(s3).handle(s3_event(s3_record(bucket, "a.jpg", head), s3_record(bucket, "b.mov")))
    stripped, misrouted = logged(capsys)
    assert stripped["outcome"] == "stripped" and stripped["bucket"] == bucket and stripped["level"] == "INFO"
    assert stripped["bytes_before"] == len(DIRTY_JPEG) > stripped["bytes_after"] > 0
    assert {"gps", "camera"} <= set(stripped["removed"]) and stripped["lossless"] is True
    assert stripped["duration_ms"] >= 0 and stripped["format"] == "jpeg"
    assert misrouted["level"] == "WARNING" and "b.mov" in misrouted["reason"]


def test_a_reencode_is_logged_as_a_warning_and_counted(s3, bucket, capsys):
    # An unknown critical PNG chunk cannot be dropped losslessly: the fallback re-encodes the image.
    critical = b"ABCD" + b"must understand"
    png = DIRTY_PNG[:33] + struct.pack(">I", 15) + critical + struct.pack(">I", zlib.crc32(critical)) + DIRTY_PNG[33:]
    head = uploaded(s3, bucket, "odd.png", png)
    result = image_pipeline(s3).handle(s3_event(s3_record(bucket, "odd.png", head)))
    assert result == {"outcomes": {"stripped": 1}, "reencoded": 1}
    line, metrics = json_lines(capsys)
    assert line["lossless"] is False and line["level"] == "WARNING"
    assert line["notes"] == ["re-encoded: unknown critical chunk 'ABCD'"]
    assert metrics["reencoded"] == 1 and metrics["stripped"] == 1 and metrics["function"] == "image"
    (namespace,) = metrics["_aws"]["CloudWatchMetrics"]
    assert namespace["Namespace"] == "mediascrub" and namespace["Dimensions"] == [["function"]]
    assert sorted(m["Name"] for m in namespace["Metrics"]) == ["reencoded", "stripped"]
    assert gps_tags(body(s3, bucket, "odd.png")) == []


def test_sqs_batch_reports_only_the_failed_messages(s3, bucket, monkeypatch):
    good = uploaded(s3, bucket, "good.jpg", DIRTY_JPEG)
    bad = uploaded(s3, bucket, "bad.jpg", CORRUPT_JPEG)
    bridged = uploaded(s3, bucket, "bridged photo.png", DIRTY_PNG)
    event = sqs_event(s3_event(s3_record(bucket, "good.jpg", good)), s3_event(s3_record(bucket, "bad.jpg", bad)),
                      "{not json", eventbridge_event(bucket, "bridged photo.png", bridged))
    result = handler(image_handler, monkeypatch)(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert gps_tags(body(s3, bucket, "good.jpg")) == [] and gps_tags(body(s3, bucket, "bridged photo.png")) == []
    assert body(s3, bucket, "bad.jpg") == CORRUPT_JPEG


def test_eventbridge_key_is_tried_as_delivered_then_decoded(s3, bucket):
    plus = uploaded(s3, bucket, "c++ notes.jpg", DIRTY_JPEG)
    spaced = uploaded(s3, bucket, "summer trip.jpg", DIRTY_JPEG)
    event = sqs_event(eventbridge_event(bucket, "c++ notes.jpg", plus),
                      eventbridge_event(bucket, "summer+trip.jpg", spaced))  # if AWS ever sends it encoded
    assert image_pipeline(s3).handle(event) == {"batchItemFailures": []}
    assert gps_tags(body(s3, bucket, "c++ notes.jpg")) == [] and gps_tags(body(s3, bucket, "summer trip.jpg")) == []


def test_sns_delivery(s3, bucket, monkeypatch):
    head = uploaded(s3, bucket, "via sns.jpg", DIRTY_JPEG)
    result = handler(image_handler, monkeypatch)(sns_event(s3_event(s3_record(bucket, "via sns.jpg", head))))
    assert result == {"outcomes": {"stripped": 1}}


@pytest.mark.parametrize("guard", ["tag", "metadata"])
def test_in_place_guard_second_invocation_is_a_no_op(s3, bucket, guard):
    head = uploaded(s3, bucket, "p.jpg", DIRTY_JPEG)
    pipeline = image_pipeline(s3, guard=guard)
    assert pipeline.handle(s3_event(s3_record(bucket, "p.jpg", head))) == {"outcomes": {"stripped": 1}}
    after = s3.head_object(Bucket=bucket, Key="p.jpg")
    marker = tags(s3, bucket, "p.jpg") if guard == "tag" else after["Metadata"]
    stripped_from = {"exif-stripped-from": head["ETag"].strip('"')}  # proof it is the pipeline's own write
    assert marker == ({"ExifStripped": "True"} if guard == "tag" else {"exif-stripped": "true", **stripped_from})
    # The event for our own write, and a redelivery of the first event: neither writes anything.
    own_write = pipeline.handle(s3_event(s3_record(bucket, "p.jpg", after)))
    redelivered = pipeline.handle(s3_event(s3_record(bucket, "p.jpg", head)))
    assert own_write == {"outcomes": {"skipped-guard": 1}} and redelivered == {"outcomes": {"superseded": 1}}
    assert s3.head_object(Bucket=bucket, Key="p.jpg")["ETag"] == after["ETag"]


def test_prefix_guard_writes_beside_and_never_under_the_source(s3, bucket, monkeypatch):
    other = f"{bucket}-clean"
    s3.create_bucket(Bucket=other)
    head = uploaded(s3, bucket, "in/sub dir/p.jpg", DIRTY_JPEG)
    event = s3_event(s3_record(bucket, "in/sub dir/p.jpg", head))
    same_bucket = handler(image_handler, monkeypatch, GUARD="prefix", SOURCE_PREFIX="in/", DEST_PREFIX="out/")
    assert same_bucket(event) == {"outcomes": {"stripped": 1}}
    stripped = body(s3, bucket, "out/sub dir/p.jpg")
    assert gps_tags(stripped) == [] and body(s3, bucket, "in/sub dir/p.jpg") == DIRTY_JPEG
    # The stripped copy's own event, a key outside SOURCE_PREFIX, and a redelivery (idempotent).
    out_head = s3.head_object(Bucket=bucket, Key="out/sub dir/p.jpg")
    assert same_bucket(s3_event(s3_record(bucket, "out/sub dir/p.jpg", out_head), s3_record(bucket, "x.jpg"))) \
        == {"outcomes": {"skipped-guard": 2}}
    assert same_bucket(event) == {"outcomes": {"stripped": 1}}
    assert body(s3, bucket, "out/sub dir/p.jpg") == stripped
    elsewhere = handler(image_handler, monkeypatch, GUARD="prefix", SOURCE_PREFIX="in/", DEST_PREFIX="",
                        DEST_BUCKET=other)
    assert elsewhere(event) == {"outcomes": {"stripped": 1}}
    assert body(s3, other, "sub dir/p.jpg") == stripped


def test_prefix_guard_copies_an_already_clean_upload(s3, bucket):
    clean = image_pipeline(s3).stager.strip(DIRTY_JPEG).data
    head = uploaded(s3, bucket, "in/c.jpg", clean)
    result = image_pipeline(s3, guard="prefix", source_prefix="in/", dest_prefix="out/").handle(
        s3_event(s3_record(bucket, "in/c.jpg", head)))
    assert result == {"outcomes": {"already-clean": 1}} and body(s3, bucket, "out/c.jpg") == clean


def test_prefix_copy_racing_a_newer_upload_ends_with_the_newer_one_stripped(s3, bucket):
    head = uploaded(s3, bucket, "in/r.jpg", DIRTY_JPEG)
    replaced = []

    def replace_once(result):  # the newer upload's own event may already have been handled
        if not replaced:
            replaced.append(s3.put_object(Bucket=bucket, Key="in/r.jpg", Body=DIRTY_PNG))
        return result

    pipeline = image_pipeline(s3, strip=replace_once, guard="prefix", source_prefix="in/", dest_prefix="out/")
    assert pipeline.handle(s3_event(s3_record(bucket, "in/r.jpg", head))) == {"outcomes": {"stripped": 1}}
    copy = body(s3, bucket, "out/r.jpg")
    assert copy.startswith(b"\x89PNG") and gps_tags(copy) == []


def test_race_newer_upload_survives_byte_for_byte(s3, bucket, capsys):
    head = uploaded(s3, bucket, "race.jpg", DIRTY_JPEG, Tagging="v=1")
    newer = DIRTY_PNG  # a different upload under the same key, arriving while the first is stripped

    def replace_meanwhile(result):
        s3.put_object(Bucket=bucket, Key="race.jpg", Body=newer, Tagging="v=2")
        return result

    result = image_pipeline(s3, strip=replace_meanwhile).handle(s3_event(s3_record(bucket, "race.jpg", head)))
    assert result == {"outcomes": {"superseded": 1}}
    assert body(s3, bucket, "race.jpg") == newer and tags(s3, bucket, "race.jpg") == {"v": "2"}
    assert "PreconditionFailed" in logged(capsys)[0]["reason"]


def test_upload_replacing_a_clean_object_while_it_is_tagged_is_still_stripped(s3, bucket):
    clean = image_pipeline(s3).stager.strip(DIRTY_JPEG).data
    head = uploaded(s3, bucket, "swap.jpg", clean)
    replaced = []

    def replace_once(result):  # the clean verdict is about the old object; a dirty upload lands meanwhile
        if not replaced:
            replaced.append(s3.put_object(Bucket=bucket, Key="swap.jpg", Body=DIRTY_JPEG))
        return result

    result = image_pipeline(s3, strip=replace_once).handle(s3_event(s3_record(bucket, "swap.jpg", head)))
    assert result == {"outcomes": {"stripped": 1}}
    assert gps_tags(body(s3, bucket, "swap.jpg")) == [] and tags(s3, bucket, "swap.jpg") == {"ExifStripped": "True"}


def test_headers_metadata_and_tags_are_preserved(s3, bucket):
    headers = {"ContentType": "image/jpeg", "CacheControl": "max-age=60", "ContentLanguage": "fr",
               "ContentDisposition": 'attachment; filename="p.jpg"', "ContentEncoding": "identity",
               "StorageClass": "STANDARD_IA", "ServerSideEncryption": "AES256",
               "Expires": datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)}
    head = uploaded(s3, bucket, "h.jpg", DIRTY_JPEG, Metadata={"album": "summer", "owner-id": "42"},
                    Tagging="team=photos&stage=raw", **headers)
    image_pipeline(s3).handle(s3_event(s3_record(bucket, "h.jpg", head)))
    after = s3.head_object(Bucket=bucket, Key="h.jpg", ChecksumMode="ENABLED")
    assert after["ETag"] != head["ETag"] and after["ContentLength"] < head["ContentLength"]
    assert {name: after.get(name) for name in headers} == headers
    assert after["Metadata"] == {"album": "summer", "owner-id": "42", "exif-stripped-from": head["ETag"].strip('"')}
    assert after.get("ChecksumSHA256")
    assert tags(s3, bucket, "h.jpg") == {"team": "photos", "stage": "raw", "ExifStripped": "True"}


def test_no_room_for_the_guard_tag_fails_clearly(s3, bucket):
    ten = "&".join(f"t{i}=x" for i in range(10))
    head = uploaded(s3, bucket, "full.jpg", DIRTY_JPEG, Tagging=ten)
    with pytest.raises(InvocationFailed, match="already has 10 tags"):
        image_pipeline(s3).handle(s3_event(s3_record(bucket, "full.jpg", head)))
    assert body(s3, bucket, "full.jpg") == DIRTY_JPEG and len(tags(s3, bucket, "full.jpg")) == 10


@pytest.mark.parametrize("delete_original", [False, True])
def test_versioned_bucket_and_delete_original_version(s3, versioned_bucket, delete_original):
    head = uploaded(s3, versioned_bucket, "v.jpg", DIRTY_JPEG)
    report = image_pipeline(s3, delete_original_version=delete_original).process(
        the_record(s3_event(s3_record(versioned_bucket, "v.jpg", head))))
    assert report["outcome"] == "stripped"
    versions = s3.list_object_versions(Bucket=versioned_bucket, Prefix="v.jpg")["Versions"]
    ids = [v["VersionId"] for v in versions]
    assert (head["VersionId"] in ids) is not delete_original
    assert len(ids) == (1 if delete_original else 2)
    if not delete_original:  # the trade-off: the pre-strip version still holds the GPS
        assert gps_tags(body(s3, versioned_bucket, "v.jpg", VersionId=head["VersionId"]))
    assert gps_tags(body(s3, versioned_bucket, "v.jpg")) == []


def test_versioned_already_clean_gets_only_the_tag(s3, versioned_bucket):
    clean = image_pipeline(s3).stager.strip(DIRTY_JPEG).data
    head = uploaded(s3, versioned_bucket, "c.jpg", clean)
    result = image_pipeline(s3, delete_original_version=True).handle(
        s3_event(s3_record(versioned_bucket, "c.jpg", head)))
    assert result == {"outcomes": {"already-clean": 1}}
    versions = s3.list_object_versions(Bucket=versioned_bucket, Prefix="c.jpg")["Versions"]
    assert [v["VersionId"] for v in versions] == [head["VersionId"]]
    assert tags(s3, versioned_bucket, "c.jpg", VersionId=head["VersionId"]) == {"ExifStripped": "True"}


def test_multipart_size_video_through_the_video_handler(s3, bucket, monkeypatch, dirty_video):
    head = uploaded(s3, bucket, "clips/trip 1.MP4", dirty_video, ContentType="video/mp4", Tagging="a=b")
    run = handler(video_handler, monkeypatch, MULTIPART_PART_MB="5")
    assert run(s3_event(s3_record(bucket, "clips/trip 1.MP4", head))) == {"outcomes": {"stripped": 1}}
    after = s3.head_object(Bucket=bucket, Key="clips/trip 1.MP4")
    assert after["ETag"].endswith('-2"') and after["ContentType"] == "video/mp4"  # two parts
    assert gps_tags(body(s3, bucket, "clips/trip 1.MP4")) == []
    assert tags(s3, bucket, "clips/trip 1.MP4") == {"a": "b", "ExifStripped": "True"}
    assert run(s3_event(s3_record(bucket, "clips/trip 1.MP4", after))) == {"outcomes": {"skipped-guard": 1}}


def test_video_race_on_multipart_upload_keeps_the_newer_object(s3, bucket, dirty_video, tmp_path):
    from video.strip import strip_file

    head = uploaded(s3, bucket, "r.mov", dirty_video)
    newer = dirty_video[:1000]

    def strip_then_replace(src: Path, dst: Path):
        result = strip_file(src, dst)
        s3.put_object(Bucket=bucket, Key="r.mov", Body=newer)
        return result

    pipeline = Pipeline(VIDEO, Config(part_bytes=5 * MiB), s3, OnDisk(strip_then_replace, str(tmp_path)))
    assert pipeline.handle(s3_event(s3_record(bucket, "r.mov", head))) == {"outcomes": {"superseded": 1}}
    assert body(s3, bucket, "r.mov") == newer
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # the aborted upload is gone
    assert list(tmp_path.iterdir()) == []  # staging cleaned up


def test_corrupt_video_leaves_the_original_and_reports_failure(s3, bucket, monkeypatch):
    junk = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)
    head = uploaded(s3, bucket, "bad.mp4", junk, Metadata={"k": "v"}, Tagging="t=1")
    with pytest.raises(InvocationFailed, match="bad.mp4"):
        handler(video_handler, monkeypatch)(s3_event(s3_record(bucket, "bad.mp4", head)))
    after = s3.head_object(Bucket=bucket, Key="bad.mp4")
    assert body(s3, bucket, "bad.mp4") == junk and after["ETag"] == head["ETag"] and after["Metadata"] == {"k": "v"}
    assert tags(s3, bucket, "bad.mp4") == {"t": "1"}


def test_video_that_cannot_fit_in_ephemeral_storage(s3, bucket, monkeypatch, tmp_path):
    # The only stand-in here: the free-space figure (a full /tmp cannot be arranged safely in a test).
    monkeypatch.setattr("shared.s3io.free_bytes", lambda directory: 10 * MiB)
    head = uploaded(s3, bucket, "big.mkv", bytes(6 * MiB))
    pipeline = Pipeline(VIDEO, Config(), s3, OnDisk(lambda src, dst: pytest.fail("must not run"), str(tmp_path)))
    report = pipeline.process(the_record(s3_event(s3_record(bucket, "big.mkv", head))))
    assert report["outcome"] == "failed" and "input too large" in report["reason"]
    assert "ephemeral storage" in report["reason"]


def test_image_over_the_memory_limit(s3, bucket, monkeypatch):
    head = uploaded(s3, bucket, "huge.jpg", DIRTY_JPEG)
    with pytest.raises(InvocationFailed, match="MAX_IMAGE_MB"):
        handler(image_handler, monkeypatch, MAX_IMAGE_MB="0.02")(s3_event(s3_record(bucket, "huge.jpg", head)))
    assert body(s3, bucket, "huge.jpg") == DIRTY_JPEG


@pytest.mark.parametrize("env, message", [
    ({"GUARD": "tags"}, "GUARD must be one of tag, metadata, prefix, not 'tags'"),
    ({"GUARD": "prefix", "SOURCE_PREFIX": "up/", "DEST_PREFIX": "up/clean/"}, "overlap"),
    ({"GUARD": "prefix", "SOURCE_PREFIX": "up/"}, "needs DEST_PREFIX"),
    ({"DELETE_ORIGINAL_VERSION": "maybe"}, "DELETE_ORIGINAL_VERSION must be true or false"),
    ({"MULTIPART_PART_MB": "1"}, "at least 5"),
    ({"DEST_PREFIX": "x/"}, "only apply with GUARD=prefix"),
])
def test_bad_configuration_fails_at_cold_start_with_a_clear_message(s3_env, monkeypatch, env, message):
    with pytest.raises(InvalidConfig, match=message):
        handler(image_handler, monkeypatch, **env)(s3_event())


def test_handler_builds_once_per_container(s3, bucket, monkeypatch):
    run = handler(image_handler, monkeypatch)
    run(s3_event())
    first = run.pipeline
    run(s3_event())
    assert run.pipeline is first and first.client is run.pipeline.client
