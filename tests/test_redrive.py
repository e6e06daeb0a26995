"""`make redrive` (deploy/redrive.py): events that failed after Lambda's retries are replayed from the
on-failure queue once the cause is fixed. The queue is moto's SQS (server mode: SeaweedFS has no SQS);
the objects are on the local S3 server, and the replayed event runs the real image handler."""
from __future__ import annotations

import json

import boto3
import pytest

from deploy.redrive import redrive
from devtools.s3events import on_failure_record, s3_event, s3_record, uploaded
from devtools.samples import jpeg_photo
from images import handler as image_handler
from pipelinekit import handler
from shared.pipeline import InvocationFailed

pytestmark = pytest.mark.slow

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:mediascrub-image"
DIRTY = jpeg_photo((96, 64))


@pytest.fixture
def queue(moto_endpoint):
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return sqs, sqs.create_queue(QueueName="failed-events")["QueueUrl"]



def waiting(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_failed_events_are_replayed_once_the_cause_is_fixed(s3, bucket, queue, monkeypatch, capsys):
    sqs, url = queue
    head = uploaded(s3, bucket, "big.jpg", DIRTY)
    event = s3_event(s3_record(bucket, "big.jpg", head))
    with pytest.raises(InvocationFailed) as failed:  # MAX_IMAGE_MB too small: after Lambda's retries, the queue
        handler(image_handler, monkeypatch, MAX_IMAGE_MB="0.001")(event)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(FUNCTION, event, str(failed.value))))
    sqs.send_message(QueueUrl=url, MessageBody="not a destination record")

    fixed = handler(image_handler, monkeypatch)
    invoked: list[str] = []

    def invoke(function: str, replayed: dict) -> None:  # stands in for Lambda's asynchronous Invoke
        invoked.append(function)
        fixed(json.loads(json.dumps(replayed)))

    assert redrive(sqs, url, invoke, limit=10, dry_run=True) == (1, 1)
    assert invoked == [] and waiting(sqs, url) == 2
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(FUNCTION, event, str(failed.value))))
    assert redrive(sqs, url, invoke, limit=10) == (1, 0)
    assert invoked == [f"{FUNCTION}:$LATEST"] and waiting(sqs, url) == 0
    assert s3.head_object(Bucket=bucket, Key="big.jpg")["ETag"] != head["ETag"]
    out = capsys.readouterr().out
    assert "would replay" in out and "['big.jpg']" in out and "input too large" in out
