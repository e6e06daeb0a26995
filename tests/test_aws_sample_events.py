"""Event parsing on AWS's own sample events (tests/events/, see its README), not only on the project's
event builder."""
from __future__ import annotations

import pytest

import awsevents
from shared.events import ObjectRecord, deliveries

UPLOAD = ObjectRecord(bucket="media-bucket", key=awsevents.KEY, etag='"0123456789abcdef0123456789abcdef"',
                      size=1024, sequencer="0A1B2C3D4E5F678901", event_name="ObjectCreated:Put")


@pytest.mark.parametrize("name", ["s3-put", "sns-s3-put"])
def test_s3_notification_direct_and_through_sns(name):
    (delivery,) = deliveries(awsevents.load(name))
    assert delivery.errors == [] and delivery.records == [UPLOAD]


def test_s3_notification_through_sqs_keeps_the_message_id():
    (delivery,) = deliveries(awsevents.load("sqs-s3-put"))
    assert delivery.errors == [] and delivery.records == [UPLOAD]
    assert delivery.message_id == "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"


def test_eventbridge_object_created():
    (delivery,) = deliveries(awsevents.load("eventbridge-object-created"))
    assert delivery.errors == [] and delivery.records == [ObjectRecord(
        bucket="amzn-s3-demo-bucket1", key="example-key", version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        etag='"b1946ac92492d2347c6235b4d2611184"', size=5, sequencer="617f08299329d189",
        event_name="EventBridge:PutObject")]


@pytest.mark.parametrize("name", sorted(awsevents.SAMPLES))
def test_fixture_is_what_the_pinned_sam_cli_generates(name):
    if not awsevents.SAM.exists():
        pytest.skip(f"no SAM CLI at {awsevents.SAM} (make setup installs it)")
    assert awsevents.load(name) == awsevents.generate(name)
