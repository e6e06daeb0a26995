"""One structured JSON log line per record, on stdout (Lambda sends it to CloudWatch Logs, where
Logs Insights queries the fields directly), and one metrics line per invocation in CloudWatch's
embedded metric format, which CloudWatch turns into metrics with no API call: namespace `mediascrub`,
dimension `function`, one count per outcome and `reencoded`. Within an invocation every line carries
its `aws_request_id` (from Lambda's context), so one invocation's lines can be found together."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypedDict

_request_id: ContextVar[str | None] = ContextVar("mediascrub_request_id", default=None)


class RecordLine(TypedDict, total=False):
    """One record's log line (and report): the same fields for both functions (docs/pipeline.md)."""

    function: str  # image | video
    bucket: str
    key: str
    version: str | None
    sequencer: str | None
    outcome: str  # stripped, already-clean, skipped-guard, superseded, misrouted, handed-over, not-media, ignored, failed
    reason: str
    retryable: bool  # failed: throttling, a timeout, a 5xx, a dropped connection
    action: str  # already-clean: tagged | copied | none
    bytes_before: int
    bytes_after: int
    format: str
    removed: list[str]  # metadata classes, the same names for images and videos
    lossless: bool
    notes: list[str]
    deleted_version: str
    handed_to: str
    message_id: str | None
    task_id: str
    duration_ms: float
    aws_request_id: str


@contextmanager
def invocation(context: Any) -> Iterator[None]:
    """Lines written inside carry the invocation's request id (when Lambda's context has one)."""
    token = _request_id.set(getattr(context, "aws_request_id", None))
    try:
        yield
    finally:
        _request_id.reset(token)


def _with_request_id(fields: Mapping[str, Any]) -> dict[str, Any]:
    request_id = _request_id.get()
    return {**fields, "aws_request_id": request_id} if request_id else dict(fields)


_LEVELS = {"failed": "ERROR", "misrouted": "WARNING", "not-media": "WARNING"}


def log_record(fields: RecordLine) -> None:
    """Write `fields` (which include `outcome`) as one JSON line, with a level matching the outcome
    (a re-encode, `lossless: false`, is a WARNING: the fallback is never silent)."""
    level = _LEVELS.get(fields.get("outcome", ""), "WARNING" if fields.get("lossless") is False else "INFO")
    line = json.dumps({"level": level, **_with_request_id(fields)}, ensure_ascii=False, default=str)
    _write(line)


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write: lines from concurrent records (the backfill) never interleave
    sys.stdout.flush()


METRICS_NAMESPACE = "mediascrub"


def log_metrics(function: str, counts: dict[str, int]) -> None:
    """One line of CloudWatch embedded metric format: each of `counts` as a Count metric of `function`."""
    names = sorted(counts)
    line = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": METRICS_NAMESPACE, "Dimensions": [["function"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in names]}]},
        "function": function, **{name: counts[name] for name in names}}
    _write(json.dumps(_with_request_id(line)))
