"""Event JSON exactly as AWS builds it (S3 notification, SQS, SNS, EventBridge), for driving the handlers.

SeaweedFS stores no notification configuration, so the tests build the events S3 would send; shapes
follow AWS's documented samples (S3 event message structure 2.1, SQS/SNS envelopes, EventBridge
"Object Created" detail version 0).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from urllib.parse import quote_plus


def s3_record(bucket: str, key: str, head: dict | None = None, event_name: str = "ObjectCreated:Put") -> dict:
    """One S3 notification record; `head` (a HeadObject/PutObject response) supplies ETag, size, version."""
    head = head or {}
    obj = {"key": quote_plus(key, safe="/"), "sequencer": uuid.uuid4().hex[:18].upper()}
    if "ETag" in head:
        obj["eTag"] = head["ETag"].strip('"')
    if "ContentLength" in head:
        obj["size"] = head["ContentLength"]
    if head.get("VersionId"):
        obj["versionId"] = head["VersionId"]
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T00:00:00.000Z", "eventName": event_name,
        "userIdentity": {"principalId": "AWS:TEST"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "TEST", "x-amz-id-2": "TEST"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "mediascrub",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "TEST"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": obj},
    }


def s3_event(*records: dict) -> dict:
    return {"Records": list(records)}


def sqs_event(*bodies: dict | str) -> dict:
    """An SQS batch; each body is an S3/SNS/EventBridge payload (or a raw string). messageIds m0, m1, ..."""
    return {"Records": [{
        "messageId": f"m{i}", "receiptHandle": "handle", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads", "awsRegion": "us-east-1",
        "body": body if isinstance(body, str) else json.dumps(body), "attributes": {}, "messageAttributes": {},
    } for i, body in enumerate(bodies)]}


def sns_event(payload: dict) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "Subject": "Amazon S3 Notification", "Message": json.dumps(payload)}}]}


def sns_envelope(payload: dict) -> dict:
    """An SNS message as SQS receives it from a subscription without raw message delivery."""
    return {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Message": json.dumps(payload)}


def eventbridge_event(bucket: str, key: str, head: dict | None = None) -> dict:
    """EventBridge "Object Created": the key arrives decoded, the ETag bare, the version as version-id."""
    head = head or {}
    obj = {"key": key, "size": head.get("ContentLength", 0), "etag": head.get("ETag", "").strip('"'),
           "sequencer": uuid.uuid4().hex[:18].upper()}
    if head.get("VersionId"):
        obj["version-id"] = head["VersionId"]
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "time": "2026-11-25T00:00:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj,
                       "request-id": "TEST", "requester": "123456789012", "reason": "PutObject"}}


def uploaded(client, bucket: str, key: str, body: bytes, **put_args) -> dict:
    """Put an object and return its HeadObject (what an event about that upload describes)."""
    client.put_object(Bucket=bucket, Key=key, Body=body, **put_args)
    return client.head_object(Bucket=bucket, Key=key)


def on_failure_record(function_arn: str, event: dict, error: str) -> dict:
    """What Lambda's on-failure destination (SQS) receives when an async invocation failed after its retries."""
    return {"version": "1.0", "timestamp": "2026-11-25T00:00:00.000Z",
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function_arn}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": error, "errorType": "InvocationFailed"}}


def batch_task(bucket: str, key: str, version_id: str | None = None, schema: str = "2.0",
               encode: Callable[..., str] = quote_plus) -> dict:
    """One S3 Batch Operations task: the key URL-encoded as in a CSV manifest, the bucket by name (2.0)
    or by ARN (1.0)."""
    task = {"taskId": uuid.uuid4().hex, "s3Key": encode(key, safe="/"), "s3VersionId": version_id}
    if schema == "1.0":
        task["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
    else:
        task["s3Bucket"] = bucket
    return task


def batch_event(*tasks: dict, schema: str = "2.0", user_arguments: dict | None = None) -> dict:
    """An S3 Batch Operations invocation (Amazon S3 User Guide, "Invoke AWS Lambda function")."""
    job: dict = {"id": str(uuid.uuid4())}
    if schema == "2.0":
        job["userArguments"] = user_arguments or {}
    return {"invocationSchemaVersion": schema, "invocationId": uuid.uuid4().hex, "job": job, "tasks": list(tasks)}
