"""One invocation: every record processed on its own, one JSON log line each, failures reported.

Per record: route by suffix -> loop guard -> head (pinned to the event's version/ETag) -> (no known
suffix: route by content, shared/contentroute.py) -> strip -> write back with IfMatch (or, when nothing
was removed, only mark it). Outcomes:

    stripped       metadata removed and the stripped object written
    already-clean  nothing to remove: not rewritten (tag mode: only the tag added; prefix mode: copied)
    skipped-guard  the loop guard says it is done (or, prefix mode, the key is not an upload)
    superseded     the object changed or vanished since the event (412/404): the newer one has its own event
    misrouted      the suffix belongs to the other function, or the bucket is not in SOURCE_BUCKETS: skipped
                   with a warning
    handed-over    no known suffix and the content is not this function's: passed to the other function
    not-media      no known suffix and no function strips the content: left untouched, with a warning
    ignored        the record creates no object (ObjectRemoved, ObjectRestore, ...)
    failed         anything else; the original is untouched and the invocation reports the failure

Failures are reported the way the trigger needs: `batchItemFailures` for SQS (partial batch
response), a result code per task for S3 Batch Operations (shared/batchops.py), an exception otherwise
(so async retries, the DLQ or the on-failure destination work).
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import batchops, events, guard, logs, s3io
from shared.config import Config
from shared.contentroute import ContentRouter
from shared.errors import ScrubError
from shared.logs import RecordLine, log_metrics, log_record
from shared.routing import kind_of
from shared.staging import Staged, Stager
from shared.timebudget import TimeBudget

if TYPE_CHECKING:  # the client's types, for mypy only (botocore makes it at run time)
    from mypy_boto3_s3 import S3Client


class InvocationFailed(ScrubError):
    """Some records failed; raised so Lambda's async retry / DLQ / on-failure destination take over."""

    kind = "invocation failed"


class Pipeline:
    def __init__(self, kind: str, config: Config, client: S3Client, stager: Stager,
                 router: ContentRouter | None = None) -> None:
        self.kind, self.config, self.client, self.stager, self.router = kind, config, client, stager, router
        self._tags_readable_in: set[str] = set()  # buckets; see _head

    def handle(self, event: dict, context: Any = None) -> dict:
        """Process every record of `event`; returns the SQS partial batch response or a summary.
        `context` (Lambda's) tells the time left: records that could not finish in it are not started."""
        budget = TimeBudget(context, self.config.time_reserve_s)
        if batchops.is_invocation(event):  # S3 Batch Operations: its own response shape (shared/batchops.py)
            return batchops.respond(event, lambda record: self._within(budget, record))
        failed_messages, failures, outcomes = [], [], []
        reencoded = 0
        deliveries = events.deliveries(event)
        for delivery in deliveries:
            reports = [self._within(budget, record) for record in delivery.records]
            reports += [_report_unreadable(delivery, error) for error in delivery.errors]
            outcomes += [r["outcome"] for r in reports]
            reencoded += sum(r.get("lossless") is False for r in reports)
            bad = [r for r in reports if r["outcome"] == "failed"]
            failures += bad
            if bad and delivery.message_id:
                failed_messages.append({"itemIdentifier": delivery.message_id})
        log_metrics(self.kind, {**{o: outcomes.count(o) for o in set(outcomes)}, "reencoded": reencoded})
        if any(d.message_id for d in deliveries):
            return {"batchItemFailures": failed_messages}
        if failures:
            first = failures[0]
            raise InvocationFailed(f"{len(failures)} of {len(outcomes)} records failed; first: "
                                   f"{first.get('key', '?')}: {first['reason']}")
        summary: dict[str, Any] = {"outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))}}
        if reencoded:  # the lossless path was not used: never silent, so counted here and logged as a warning
            summary["reencoded"] = reencoded
        return summary

    def _within(self, budget: TimeBudget, record: events.ObjectRecord) -> RecordLine:
        """The record processed before its deadline, or reported not started when too little time is left."""
        if not_started := budget.not_started(self.kind, record):
            return not_started
        with budget.record_deadline():
            return budget.took(self.process(record))

    def process(self, record: events.ObjectRecord) -> RecordLine:
        """Strip one object; never raises. Returns (and logs) the record's report."""
        started = time.monotonic()
        report: RecordLine = {"function": self.kind, "bucket": record.bucket, "key": record.key,
                                  "version": record.version_id, "sequencer": record.sequencer}
        try:
            report.update(self._process(record))
        except Exception as exc:  # noqa: BLE001 (every failure becomes one report; the other records go on)
            if s3io.is_precondition_failed(exc):
                report |= {"outcome": "superseded", "reason": f"object changed since the event ({_describe(exc)}); "
                                                             "the newer upload has its own event"}
            elif s3io.is_gone(exc):
                report |= {"outcome": "superseded", "reason": f"object no longer exists ({_describe(exc)})"}
            else:
                report |= {"outcome": "failed", "reason": _describe(exc), "retryable": s3io.is_transient(exc)}
        report["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        log_record(report)
        return report

    def _process(self, record: events.ObjectRecord) -> RecordLine:
        if refused := guard.not_an_upload(self.config, record.bucket, record.event_name):
            return refused
        routed = kind_of(record.key)
        if routed != self.kind and (routed or not self.router):
            return {"outcome": "misrouted",
                    "reason": f"{record.key!r} routes to {routed or 'no'} function, not {self.kind}"}
        out_of_scope = guard.out_of_scope(self.config, record.bucket, record.key)
        if out_of_scope:
            return {"outcome": "skipped-guard", "reason": out_of_scope}
        source = self._head(record)
        if guard.already_stripped(self.config, source.tags, source.metadata):
            return {"outcome": "skipped-guard", "reason": f"marked by GUARD={self.config.guard}"}
        if not routed and self.router and (decided := self.router.decide(self.client, source, self.kind)):
            return decided
        with self.stager.staged(self.client, source) as staged:
            report = _result_fields(source, staged)
            if not staged.result.removed:
                return report | self._already_clean(source, staged)
            if superseded := self._write_unless_superseded(source, staged.stripped):
                return report | self._superseded(source, superseded)
        if not self.config.in_place and not s3io.still_current(self.client, source):
            return self._process_newer(source, "source replaced while its copy was written")
        return report | self._delete_original_if_asked(source) | {"outcome": "stripped"}

    def _write_unless_superseded(self, source: s3io.SourceObject, body: bytes | Path) -> str | None:
        """Write in place; or say why not: a newer upload holds the key. In a versioned bucket the version
        read must still be current (a same-bytes re-upload shares its ETag, so IfMatch alone would
        overwrite that upload's tags and headers). A write of ours that already landed (the retry after a
        failed delete, or botocore's retry of a PutObject whose response was lost, meets 412) counts as
        written."""
        if self.config.in_place and source.version_id:
            current = s3io.head_current(self.client, source.location)
            if not current or current.get("VersionId") != source.version_id:
                return None if _written_from(current, source) else "a newer version is current"
        try:
            self._write(source, body)
        except Exception as exc:
            if not (self.config.in_place and s3io.is_precondition_failed(exc)):
                raise
            written = _written_from(s3io.head_current(self.client, source.location), source)
            return None if written else _describe(exc)
        return None

    def _superseded(self, source: s3io.SourceObject, why: str) -> RecordLine:
        """A newer upload replaced the object read (it has its own event). The version read is no longer
        current but still holds the metadata: with DELETE_ORIGINAL_VERSION it goes too."""
        return {"outcome": "superseded", "reason": f"object changed while it was stripped ({why}); "
                                                   "the newer upload has its own event"} | \
            self._delete_original_if_asked(source)

    def _delete_original_if_asked(self, source: s3io.SourceObject) -> RecordLine:
        if not (self.config.delete_original_version and self.config.in_place and source.version_id):
            return {}
        self._delete_original(source)
        return {"deleted_version": source.version_id}

    def _delete_original(self, source: s3io.SourceObject) -> None:
        try:
            s3io.delete_version(self.client, source)
        except Exception as exc:
            raise ScrubError(f"stripped version written, but deleting the original version {source.version_id} "
                             f"(which still holds the metadata) failed: {_describe(exc)}") from exc

    def _head(self, record: events.ObjectRecord) -> s3io.SourceObject:
        try:
            source = self._head_at(record.key, record)
        except Exception as exc:
            if not (record.alternate_key and s3io.is_gone(exc)):
                raise
            source = self._head_at(record.alternate_key, record)
        # HeadObject counted tags that GetObjectTagging then read: in this bucket the server sends the count
        # and this role may read tags, so a missing count now means no tags. (A first read alone proves
        # the right, not the count: a server that never sends one would have tags dropped unnoticed.)
        if source.tag_count:
            self._tags_readable_in.add(record.bucket)
        return source

    def _head_at(self, key: str, record: events.ObjectRecord) -> s3io.SourceObject:
        return s3io.head(self.client, guard.Location(record.bucket, key), record.version_id, record.etag,
                         trust_tag_count=record.bucket in self._tags_readable_in)

    def _already_clean(self, source: s3io.SourceObject, staged: Staged) -> RecordLine:
        if self.config.guard == "tag":
            return self._tag_clean(source)
        if self.config.guard == "prefix":
            self._write(source, staged.original)
            if not s3io.still_current(self.client, source):
                return self._process_newer(source, "source replaced while its copy was written")
            return {"outcome": "already-clean", "action": "copied"}
        return {"outcome": "already-clean", "action": "none"}

    def _tag_clean(self, source: s3io.SourceObject) -> RecordLine:
        """Tag the clean object. Tagging takes no precondition, so in an unversioned bucket an upload
        landing meanwhile could get the tag (and its own event would skip it): check, and if so, take
        the tag off again and process that newer object now."""
        s3io.add_tags(self.client, source, guard.tags_to_write(self.config, source.tags))
        if source.version_id or s3io.still_current(self.client, source):
            return {"outcome": "already-clean", "action": "tagged"}
        s3io.remove_tag(self.client, source.location, guard.GUARD_TAG)
        return self._process_newer(source, "replaced while being tagged")

    def _process_newer(self, source: s3io.SourceObject, why: str) -> RecordLine:
        """Process the key's current object now. Used after an unconditional write (a tag; a copy under
        DEST_PREFIX) raced a newer upload, whose own event may already have come and gone."""
        location = source.location
        report = self._process(events.ObjectRecord(location.bucket, location.key))
        return report | {"notes": [*report.get("notes", []), f"{why}: newer upload processed"]}

    def _write(self, source: s3io.SourceObject, body: bytes | Path) -> None:
        spec = s3io.WriteSpec(
            target=guard.destination(self.config, source.location),
            headers=source.headers,
            metadata=guard.metadata_to_write(self.config, source.metadata,
                                             guard.source_identity(source.version_id, source.etag)),
            tags=guard.tags_to_write(self.config, source.tags),
            if_match=source.etag if self.config.in_place else None,
        )
        s3io.write(self.client, spec, body, self.config.part_bytes)


def _result_fields(source: s3io.SourceObject, staged: Staged) -> RecordLine:
    result = staged.result
    return {"key": source.location.key, "version": source.version_id, "bytes_before": source.size,
            "bytes_after": staged.size_after, "format": result.format, "removed": sorted(result.removed),
            "lossless": result.lossless, "notes": list(result.notes)}


def _written_from(current: Mapping[str, Any] | None, source: s3io.SourceObject) -> bool:
    """Whether the key's current object (a HeadObject) is this pipeline's write stripped from `source`."""
    stripped_from = ((current or {}).get("Metadata") or {}).get(guard.STRIPPED_FROM)
    return stripped_from == guard.source_identity(source.version_id, source.etag)


def _report_unreadable(delivery: events.Delivery, error: str) -> RecordLine:
    report: RecordLine = {"outcome": "failed", "reason": error, "message_id": delivery.message_id}
    log_record(report)
    return report


def _describe(exc: BaseException) -> str:
    """One line for the log: the typed reason, the S3 error, or the unexpected exception."""
    if isinstance(exc, ScrubError):
        return str(exc)
    code = s3io.error_code(exc)
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        return f"S3 {code}: {message}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class LazyHandler:
    """A Lambda entry point that builds its Pipeline once per container, on the first invocation.

    `build` reads and validates the configuration and creates the S3 client, so a bad setting fails
    the first invocation with one clear line and later invocations reuse the client.
    """

    def __init__(self, build: Callable[[], Pipeline]) -> None:
        self.build = build
        self.pipeline: Pipeline | None = None

    def __call__(self, event: dict, context: Any = None) -> dict:
        with logs.invocation(context):
            return self.ready().handle(event, context)

    def ready(self) -> Pipeline:
        """The pipeline, built on first use (the cold start)."""
        if self.pipeline is None:
            self.pipeline = _cold_start(self.build)
        return self.pipeline


def _cold_start(build: Callable[[], Pipeline]) -> Pipeline:
    """`build()` with the cyclic garbage collector paused. A build only creates objects that live as
    long as the container (modules, the S3 client and its API model), so the collections it would
    trigger find nothing and cost about a sixth of the cold start. Afterwards those objects are
    frozen out of every later collection, which then only walks what records allocate."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        pipeline = build()
        gc.freeze()
        return pipeline
    finally:
        if was_enabled:
            gc.enable()
