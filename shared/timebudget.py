"""The invocation's remaining time (Lambda's context), spent record by record; and the deadline of the
record being processed, which caps the strippers' child processes (ffmpeg) so none outlives the function."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from shared import events
from shared.logs import RecordLine, log_record


class TimeBudget:
    """A record starts only while the invocation has TIME_RESERVE_S plus the longest record so far left;
    the rest are reported failed at once (an SQS batch names them in batchItemFailures, an async event
    is retried whole, its finished records being no-ops), instead of all being lost to the timeout."""

    def __init__(self, context: Any, reserve_s: float) -> None:
        self.context, self.reserve_s, self.longest_s = context, reserve_s, 0.0
        self.ends: float | None = None  # time.monotonic() when the invocation times out, as last read

    def not_started(self, kind: str, record: events.ObjectRecord) -> RecordLine | None:
        if self.context is None:
            return None
        left_s = self.context.get_remaining_time_in_millis() / 1000
        self.ends = time.monotonic() + left_s
        if left_s >= self.reserve_s + self.longest_s:
            return None
        report: RecordLine = {"function": kind, "bucket": record.bucket, "key": record.key, "version": record.version_id,
                  "outcome": "failed", "reason": f"not started: {left_s:.1f} s left in the invocation, under "
                  f"TIME_RESERVE_S ({self.reserve_s:g} s) plus the longest record so far ({self.longest_s:.1f} s)"}
        log_record(report)
        return report

    @contextmanager
    def record_deadline(self) -> Iterator[None]:
        """While one record is processed (after `not_started` let it start): its deadline, time.monotonic(),
        is the invocation's end less a margin to report and clean up; `current_deadline()` tells the stripper."""
        token = _deadline.set(None if self.ends is None else self.ends - _REPORT_MARGIN_S)
        try:
            yield
        finally:
            _deadline.reset(token)

    def took(self, report: RecordLine) -> RecordLine:
        self.longest_s = max(self.longest_s, report["duration_ms"] / 1000)
        return report


_REPORT_MARGIN_S = 5.0  # left after a stripper's deadline: to log the failure and answer before Lambda's timeout
_deadline: ContextVar[float | None] = ContextVar("mediascrub_record_deadline", default=None)


def current_deadline() -> float | None:
    """The deadline (time.monotonic()) of the record being processed; None outside an invocation."""
    return _deadline.get()
