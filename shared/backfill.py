"""The local backfill: strip what is already in a bucket, on this machine, through the same pipeline.

    python -m shared.backfill --bucket B [--prefix P] [--concurrency N] [--report PATH]

Lists the current objects (one page of up to 1,000 keys at a time), keeps those a function handles
(by suffix; a key without one goes to the catch-all, which decides by content; everything else is left
alone), runs each through
the image or the video pipeline exactly as the Lambda would (settings from the same environment
variables), at most N at once, and prints progress with rate and ETA on stderr (the pipeline's JSON
log lines go to stdout).

Every finished object is appended at once to the completion report, a CSV in S3 Batch Operations'
report format (see `report_row`). The checkpoint (`PATH.checkpoint.json`) holds the listing position
below which every object is done; Ctrl+C (or a crash) leaves it behind, and the same command resumes
from there, skipping what the report already lists. A run that finishes removes its checkpoint; the
next run starts a new report (and finds everything marked by the loop guard: nothing changes).
For millions of objects use S3 Batch Operations instead (docs/backfill.md).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from shared import batchops, s3io
from shared.errors import ScrubError
from shared.events import ObjectRecord
from shared.logs import RecordLine
from shared.routing import IMAGE, VIDEO, function_for

if TYPE_CHECKING:  # the client's types, for mypy only (botocore makes it at run time)
    from mypy_boto3_s3 import S3Client

Process = Callable[[ObjectRecord], RecordLine]
_PROGRESS_EVERY = 1.0  # seconds between progress lines
_CHECKPOINT_EVERY = 1.0  # seconds between checkpoint writes (the report is written at once)


@dataclass(frozen=True)
class Listed:
    key: str
    size: int


def listing(client: S3Client, bucket: str, prefix: str, start_after: str = "") -> Iterator[Listed]:
    """The bucket's current objects under `prefix`, in key order, after `start_after`."""
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, **({"StartAfter": start_after} if start_after else {})}
    for page in client.get_paginator("list_objects_v2").paginate(**args):
        for obj in page.get("Contents", []):
            yield Listed(obj["Key"], int(obj["Size"]))


def report_row(bucket: str, report: RecordLine) -> list[str]:
    """One completion-report row, as S3 Batch Operations writes them (Amazon S3 User Guide, "Examples:
    S3 Batch Operations completion reports"): bucket, URL-encoded key, version id, succeeded|failed,
    the HTTP status of the invocation (200), the result code of a failed task, the result string."""
    code, text = batchops.result_of(report)
    succeeded = code == batchops.SUCCEEDED
    return [bucket, quote(report["key"], safe="/"), report.get("version") or "",
            "succeeded" if succeeded else "failed", "200", "" if succeeded else code, text]


def done_keys(report: Path, after: str) -> set[str]:
    """Keys the report already lists beyond the checkpoint's position (a resumed run skips them)."""
    from urllib.parse import unquote

    with report.open(newline="", encoding="utf-8") as rows:
        return {key for key in (unquote(row[1]) for row in csv.reader(rows) if len(row) == 7) if key > after}


@dataclass
class Checkpoint:
    """The listing position below which every object is done, saved atomically beside the report."""

    path: Path
    bucket: str
    prefix: str
    after: str = ""

    @classmethod
    def load(cls, path: Path, bucket: str, prefix: str) -> Checkpoint | None:
        if not path.exists():
            return None
        saved = json.loads(path.read_text())
        if (saved.get("bucket"), saved.get("prefix")) != (bucket, prefix):
            raise ScrubError(f"{path} belongs to a backfill of s3://{saved.get('bucket')}/{saved.get('prefix', '')}; "
                             "use another --report or remove it")
        return cls(path, bucket, prefix, str(saved.get("after", "")))

    def save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"bucket": self.bucket, "prefix": self.prefix, "after": self.after}))
        os.replace(temporary, self.path)


@dataclass
class Progress:
    """Counts, rate and ETA; a line on `out` at most every _PROGRESS_EVERY seconds."""

    total: int
    total_bytes: int
    out: TextIO
    done: int = 0
    done_bytes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    shown: float = 0.0

    def add(self, outcome: str, size: int) -> None:
        self.done += 1
        self.done_bytes += size
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if time.monotonic() - self.shown >= _PROGRESS_EVERY:
            self.show()

    def show(self) -> None:
        self.shown = time.monotonic()
        elapsed = max(self.shown - self.started, 1e-6)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0.0
        percent = 100 * self.done / self.total if self.total else 100.0
        print(f"{self.done}/{self.total} objects {percent:.0f}%  {rate:.1f} objects/s  "
              f"{self.done_bytes / elapsed / 1e6:.1f} MB/s  ETA {_clock(eta)}", file=self.out, flush=True)

    def summary(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        return f"{self.done} objects in {_clock(time.monotonic() - self.started)} ({counts or 'nothing to do'})"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class Backfill:
    """One run over one bucket/prefix: lists, routes, processes with bounded concurrency, reports."""

    def __init__(self, client: S3Client, pipelines: dict[str, Process], report: Path, concurrency: int) -> None:
        self.client, self.pipelines, self.report, self.concurrency = client, pipelines, report, concurrency

    def run(self, bucket: str, prefix: str, out: TextIO = sys.stderr) -> Progress:
        checkpoint_path = self.report.with_name(self.report.name + ".checkpoint.json")
        checkpoint = Checkpoint.load(checkpoint_path, bucket, prefix)
        resumed = checkpoint is not None and self.report.exists()
        if checkpoint is None or not resumed:  # without its report, a checkpoint proves nothing
            checkpoint = Checkpoint(checkpoint_path, bucket, prefix)
        skip = done_keys(self.report, checkpoint.after) if resumed else set()
        progress = self._counted(bucket, prefix, checkpoint.after, skip, out)
        if resumed:
            print(f"resuming after {checkpoint.after!r} ({len(skip)} more already done)", file=out)
        checkpoint.save()
        with self.report.open("a" if resumed else "w", newline="", encoding="utf-8") as report:
            self._process_all(bucket, prefix, checkpoint, skip, csv.writer(report), report, progress)
        checkpoint.path.unlink()
        progress.show()
        return progress

    def _counted(self, bucket: str, prefix: str, after: str, skip: set[str], out: TextIO) -> Progress:
        """A listing pass first (cheap next to stripping), so that progress has a total and an ETA."""
        total = total_bytes = 0
        for listed in listing(self.client, bucket, prefix, after):
            if listed.key not in skip and function_for(listed.key):
                total, total_bytes = total + 1, total_bytes + listed.size
        return Progress(total, total_bytes, out)

    def _process_all(self, bucket: str, prefix: str, checkpoint: Checkpoint, skip: set[str],
                     writer: Any, report: TextIO, progress: Progress) -> None:
        """Submit in listing order, at most `concurrency` in flight; record results as they finish. The
        checkpoint advances over the longest prefix of the listing whose objects are recorded."""
        order: deque[tuple[str, Future | None]] = deque()  # listing order; None: nothing to process
        in_flight: set[Future] = set()
        recorded: set[Future] = set()
        saved = time.monotonic()
        with ThreadPoolExecutor(self.concurrency) as pool:
            try:
                for listed in listing(self.client, bucket, prefix, checkpoint.after):
                    kind = None if listed.key in skip else function_for(listed.key)
                    future = pool.submit(self._one, kind, bucket, listed) if kind else None
                    order.append((listed.key, future))
                    if future:
                        in_flight.add(future)
                    while len(in_flight) >= self.concurrency:
                        in_flight = self._drain(in_flight, recorded, writer, report, progress)
                    if time.monotonic() - saved >= _CHECKPOINT_EVERY:
                        self._advance(order, recorded, checkpoint)
                        saved = time.monotonic()
            except BaseException:  # Ctrl+C, or the listing failed: what runs finishes, nothing new starts
                for future in in_flight:
                    future.cancel()
                raise
            finally:  # every object submitted and not cancelled is recorded
                while in_flight:
                    in_flight = self._drain(in_flight, recorded, writer, report, progress)
                self._advance(order, recorded, checkpoint)

    def _one(self, kind: str, bucket: str, listed: Listed) -> tuple[RecordLine, int]:
        """Through `kind`'s pipeline; what the catch-all hands over (a video without a suffix) goes on
        through the video pipeline here, as the video function would receive it."""
        record = ObjectRecord(bucket, listed.key)
        report = self.pipelines[kind](record)
        if report["outcome"] == "handed-over":
            report = self.pipelines[VIDEO](record)
        return report, listed.size

    @staticmethod
    def _drain(in_flight: set[Future], recorded: set[Future], writer: Any, report: TextIO,
               progress: Progress) -> set[Future]:
        """Wait for at least one object and append every finished one to the report."""
        finished, pending = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            if future.cancelled():
                continue
            result, size = future.result()
            writer.writerow(report_row(result["bucket"], result))
            report.flush()
            recorded.add(future)
            progress.add(result["outcome"], size)
        return pending

    @staticmethod
    def _advance(order: deque[tuple[str, Future | None]], recorded: set[Future], checkpoint: Checkpoint) -> None:
        while order and (order[0][1] is None or order[0][1] in recorded):
            key, future = order.popleft()
            recorded.discard(future)
            checkpoint.after = key
        checkpoint.save()


def pipelines() -> dict[str, Process]:
    """Both functions' pipelines, built as each Lambda builds its own (settings from the environment),
    except that the catch-all's hand-over of what is not an image stays in this process (`_one`)."""
    from images.handler import build as build_image
    from video.handler import build as build_video

    image = build_image()
    if image.router:
        image.router = replace(image.router, hand_over=lambda source: f"{VIDEO} (in this process)")
    return {IMAGE: image.process, VIDEO: build_video().process}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="", help="only keys under this prefix")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2, help="objects at once (default: cores)")
    parser.add_argument("--report", type=Path, help="completion report CSV (default: backfill-BUCKET.csv)")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    report = args.report or Path(f"backfill-{args.bucket}.csv")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        progress = Backfill(s3io.make_client(), pipelines(), report, args.concurrency).run(args.bucket, args.prefix)
    except KeyboardInterrupt:
        print(f"interrupted: the same command resumes (checkpoint beside {report})", file=sys.stderr)
        return 130
    except (ScrubError, ClientError, BotoCoreError) as exc:  # a bad bucket, no credentials, S3 unreachable
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    print(f"done: {progress.summary()}; report: {report}", file=sys.stderr)
    failed = sum(n for outcome, n in progress.outcomes.items() if outcome in ("failed", "misrouted"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
