"""Event parsing: every envelope, URL-encoded keys, per-record isolation. Pure: no server needed."""
from __future__ import annotations

import pytest

from devtools.s3events import eventbridge_event, s3_event, s3_record, sns_envelope, sns_event, sqs_event
from shared.events import ObjectRecord, deliveries

HEAD = {"ETag": '"0123abcd"', "ContentLength": 42, "VersionId": "v-1"}
KEYS = ["plain.jpg", "my holiday photo.jpg", "1+1=2.jpg", "café/Ünïcødé 東京.heic", "100% real.png",
        "a%2Bb.jpg", "dir/sub dir/x+y %41.mov"]


def only_records(event: dict) -> list[ObjectRecord]:
    (delivery,) = deliveries(event)
    assert delivery.errors == []
    return delivery.records


@pytest.mark.parametrize("key", KEYS)
def test_s3_keys_are_url_decoded(key):
    (record,) = only_records(s3_event(s3_record("bkt", key, HEAD)))
    assert record.key == key


def test_plus_in_s3_event_is_a_space_and_percent_2b_a_plus():
    record = s3_record("bkt", "x")
    record["s3"]["object"]["key"] = "a+b%2Bc%C3%A9.jpg"  # literally as S3 sends "a b+cé.jpg"
    assert only_records(s3_event(record))[0].key == "a b+cé.jpg"


@pytest.mark.parametrize("key", KEYS)
def test_eventbridge_keys_are_used_as_delivered(key):
    (record,) = only_records(eventbridge_event("bkt", key, HEAD))
    assert record.key == key


def test_eventbridge_record_carries_the_decoded_reading_as_an_alternate():
    (plain,) = only_records(eventbridge_event("bkt", "plain.jpg", HEAD))
    (encoded,) = only_records(eventbridge_event("bkt", "my+photo%21.jpg", HEAD))
    assert plain.alternate_key is None
    assert (encoded.key, encoded.alternate_key) == ("my+photo%21.jpg", "my photo!.jpg")


def test_event_fields_are_kept():
    (record,) = only_records(s3_event(s3_record("bkt", "a.jpg", HEAD)))
    assert (record.bucket, record.version_id, record.etag, record.size) == ("bkt", "v-1", '"0123abcd"', 42)
    assert record.sequencer and record.event_name == "ObjectCreated:Put"
    (bridged,) = only_records(eventbridge_event("bkt", "a.jpg", HEAD))
    assert (bridged.version_id, bridged.etag, bridged.size) == ("v-1", '"0123abcd"', 42)


def test_many_records_in_one_notification():
    event = s3_event(*(s3_record("bkt", f"k{i}.jpg", HEAD) for i in range(5)))
    assert [r.key for r in only_records(event)] == [f"k{i}.jpg" for i in range(5)]


@pytest.mark.parametrize("wrap", [
    lambda e: sns_event(e),
    lambda e: sqs_event(e),
    lambda e: sqs_event(sns_envelope(e)),
], ids=["sns", "sqs", "sqs-of-sns"])
def test_envelopes_unwrap_to_the_same_records(wrap):
    inner = s3_event(s3_record("bkt", "a b.jpg", HEAD), s3_record("bkt", "c.mp4", HEAD))
    (delivery,) = deliveries(wrap(inner))
    assert [r.key for r in delivery.records] == ["a b.jpg", "c.mp4"]


def test_sqs_messages_are_separate_deliveries_with_their_ids():
    event = sqs_event(s3_event(s3_record("bkt", "a.jpg")), "not json",
                      eventbridge_event("bkt", "b.png"), {"Records": "oops"})
    found = deliveries(event)
    assert [d.message_id for d in found] == ["m0", "m1", "m2", "m3"]
    assert [len(d.records) for d in found] == [1, 0, 1, 0]
    assert "not JSON" in found[1].errors[0]
    assert found[3].errors and not found[0].errors and not found[2].errors


@pytest.mark.parametrize("event", [
    {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-25T00:00:00Z", "Bucket": "bkt"},
    sqs_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bkt"}),
    sns_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bkt"}),
], ids=["direct", "sqs", "sns"])
def test_s3_test_event_is_ignored(event):
    (delivery,) = deliveries(event)
    assert delivery.records == [] and delivery.errors == []


def test_one_bad_record_does_not_hide_the_others():
    broken = s3_record("bkt", "x.jpg")
    del broken["s3"]["bucket"]
    (delivery,) = deliveries(s3_event(s3_record("bkt", "a.jpg"), broken, s3_record("bkt", "b.jpg")))
    assert [r.key for r in delivery.records] == ["a.jpg", "b.jpg"]
    assert len(delivery.errors) == 1 and "s3.bucket is a NoneType" in delivery.errors[0]


@pytest.mark.parametrize("event", [[], "text", None, {}, {"detail-type": "Object Deleted", "detail": {}}])
def test_unreadable_events_are_errors_not_exceptions(event):
    (delivery,) = deliveries(event)
    assert delivery.records == [] and delivery.errors
