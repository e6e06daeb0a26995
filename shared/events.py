"""What arrived: S3 object records from any of the event shapes a Lambda can receive.

Shapes: S3 notifications (any number of Records), the same wrapped in SQS and/or SNS, and EventBridge
"Object Created" events (directly or through SQS). `s3:TestEvent` messages are ignored.

Keys: S3 notifications URL-encode the key the way HTML forms do (`+` for a space, `%2B` for a literal
plus, `%xx` for the rest), so they are decoded with `unquote_plus`. EventBridge's
`detail.object.key` is documented (sample events, Powertools' schema) as the plain key, so it is used
as delivered; since that could not be checked against AWS from here, an EventBridge record also
carries the `unquote_plus` reading as `alternate_key`, which the pipeline tries only when the key as
delivered does not exist (both readings naming an existing upload is harmless: each needs stripping).

Each source message becomes one `Delivery`: its SQS messageId (for batchItemFailures), the records it
held, and the reasons any part of it could not be read (a bad record never hides the good ones).
Nothing here raises on bad input.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class ObjectRecord:
    """One object the event says was created. Optional fields are None when the event lacks them."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None
    event_name: str = ""
    alternate_key: str | None = None  # EventBridge only: the URL-decoded reading, if it differs


@dataclass
class Delivery:
    """One message of the invocation: the records it carried and why any part could not be read."""

    message_id: str | None = None
    records: list[ObjectRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def deliveries(event: dict) -> list[Delivery]:
    """Split an invocation payload into deliveries (one per SQS message, one in total otherwise)."""
    if not isinstance(event, dict):
        return [Delivery(errors=[f"event is a {type(event).__name__}, not a JSON object"])]
    records = event.get("Records")
    if isinstance(records, list) and records and all(_is_sqs(r) for r in records):
        return [_sqs_delivery(r) for r in records]
    return [_read(event)]


def _is_sqs(record: object) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:sqs"


def _sqs_delivery(message: dict) -> Delivery:
    message_id = message.get("messageId")
    try:
        body = json.loads(message.get("body") or "")
    except json.JSONDecodeError as exc:
        return Delivery(message_id, errors=[f"SQS message body is not JSON ({exc.msg})"])
    delivery = _read(body)
    delivery.message_id = message_id
    return delivery


def _read(payload: object) -> Delivery:
    delivery = Delivery()
    _collect(payload, delivery)
    return delivery


def _collect(payload: object, into: Delivery) -> None:
    """Add the records of one S3 notification, SNS envelope, EventBridge event or S3 test event."""
    try:
        if payload.get("Event") == "s3:TestEvent":
            return
        if "detail-type" in payload:
            into.records.append(_eventbridge(payload))
        elif "Type" in payload and "Message" in payload:  # SNS message as SQS delivers it (raw delivery off)
            _collect(json.loads(payload["Message"]), into)
        else:
            for record in payload["Records"]:
                _collect_record(record, into)
    except _BAD_SHAPE as exc:
        into.errors.append(_unreadable(exc))


def _collect_record(record: dict, into: Delivery) -> None:
    try:
        if record.get("EventSource") == "aws:sns":
            _collect(json.loads(record["Sns"]["Message"]), into)
        else:
            into.records.append(_s3_record(record))
    except _BAD_SHAPE as exc:
        into.errors.append(_unreadable(exc))


_BAD_SHAPE = (AttributeError, KeyError, TypeError, ValueError)  # json.JSONDecodeError is a ValueError


def _unreadable(exc: Exception) -> str:
    return f"not an S3 event record this function understands ({type(exc).__name__}: {exc})"


def _s3_record(record: dict) -> ObjectRecord:
    s3 = record["s3"]
    obj = s3["object"]
    return ObjectRecord(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(obj["key"]),
        version_id=obj.get("versionId") or None,
        etag=_quoted(obj.get("eTag")),
        size=_int_or_none(obj.get("size")),
        sequencer=obj.get("sequencer"),
        event_name=record.get("eventName", ""),
    )


def _eventbridge(event: dict) -> ObjectRecord:
    if event["detail-type"] != "Object Created":
        raise ValueError(f"EventBridge detail-type {event['detail-type']!r} is not 'Object Created'")
    detail = event["detail"]
    obj = detail["object"]
    return ObjectRecord(
        bucket=detail["bucket"]["name"],
        key=obj["key"],
        version_id=obj.get("version-id") or None,
        etag=_quoted(obj.get("etag")),
        size=_int_or_none(obj.get("size")),
        sequencer=obj.get("sequencer"),
        event_name=f"EventBridge:{detail.get('reason', 'Object Created')}",
        alternate_key=unquote_plus(obj["key"]) if unquote_plus(obj["key"]) != obj["key"] else None,
    )


def _quoted(etag: str | None) -> str | None:
    """Events carry the ETag bare; S3 headers (IfMatch, responses) carry it in double quotes."""
    if not etag:
        return None
    return etag if etag.startswith('"') else f'"{etag}"'


def _int_or_none(value: object) -> int | None:
    return int(value) if value is not None else None
