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


class _BadShape(ValueError):
    """The payload is not shaped like an event this function understands (says which part and why)."""


def _read(payload: object) -> Delivery:
    delivery = Delivery()
    _collect(payload, delivery)
    return delivery


def _collect(payload: object, into: Delivery) -> None:
    """Add the records of one S3 notification, SNS envelope, EventBridge event or S3 test event."""
    try:
        event = _object(payload, "event")
        if event.get("Event") == "s3:TestEvent":
            return
        if "detail-type" in event:
            into.records.append(_eventbridge(event))
        elif "Type" in event and "Message" in event:  # SNS message as SQS delivers it (raw delivery off)
            _collect(_json(_text(event, "Message")), into)
        else:
            records = event.get("Records")
            if not isinstance(records, list):
                raise _BadShape("no 'Records' list")
            for record in records:
                _collect_record(record, into)
    except _BadShape as exc:
        into.errors.append(_unreadable(exc))


def _collect_record(payload: object, into: Delivery) -> None:
    try:
        record = _object(payload, "record")
        if record.get("EventSource") == "aws:sns":
            _collect(_json(_text(_object(record.get("Sns"), "Sns"), "Message")), into)
        else:
            into.records.append(_s3_record(record))
    except _BadShape as exc:
        into.errors.append(_unreadable(exc))


def _unreadable(exc: _BadShape) -> str:
    return f"not an S3 event record this function understands ({exc})"


def _object(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise _BadShape(f"{what} is a {type(value).__name__}, not a JSON object")
    return value


def _text(parent: dict, name: str) -> str:
    value = parent.get(name)
    if not isinstance(value, str) or not value:
        raise _BadShape(f"{name!r} is missing or not a string")
    return value


def _optional_text(parent: dict, name: str) -> str | None:
    value = parent.get(name)
    if value is not None and not isinstance(value, str):
        raise _BadShape(f"{name!r} is not a string")
    return value or None


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadShape(f"embedded message is not JSON ({exc.msg})") from None


def _s3_record(record: dict) -> ObjectRecord:
    s3 = _object(record.get("s3"), "s3")
    obj = _object(s3.get("object"), "s3.object")
    return ObjectRecord(
        bucket=_text(_object(s3.get("bucket"), "s3.bucket"), "name"),
        key=unquote_plus(_text(obj, "key")),
        version_id=_optional_text(obj, "versionId"),
        etag=_quoted(_optional_text(obj, "eTag")),
        size=_size(obj.get("size")),
        sequencer=_optional_text(obj, "sequencer"),
        event_name=_optional_text(record, "eventName") or "",
    )


def _eventbridge(event: dict) -> ObjectRecord:
    if event["detail-type"] != "Object Created":
        raise _BadShape(f"EventBridge detail-type {event['detail-type']!r} is not 'Object Created'")
    detail = _object(event.get("detail"), "detail")
    obj = _object(detail.get("object"), "detail.object")
    key = _text(obj, "key")
    return ObjectRecord(
        bucket=_text(_object(detail.get("bucket"), "detail.bucket"), "name"),
        key=key,
        version_id=_optional_text(obj, "version-id"),
        etag=_quoted(_optional_text(obj, "etag")),
        size=_size(obj.get("size")),
        sequencer=_optional_text(obj, "sequencer"),
        event_name=f"EventBridge:{_optional_text(detail, 'reason') or 'Object Created'}",
        alternate_key=unquote_plus(key) if unquote_plus(key) != key else None,
    )


def _quoted(etag: str | None) -> str | None:
    """Events carry the ETag bare; S3 headers (IfMatch, responses) carry it in double quotes."""
    if not etag:
        return None
    return etag if etag.startswith('"') else f'"{etag}"'


def _size(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _BadShape(f"object size {value!r} is not a number")
    try:
        return int(value)
    except ValueError:
        raise _BadShape(f"object size {value!r} is not a number") from None
