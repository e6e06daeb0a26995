"""`make demo`: the main job, end to end, on this machine, with a before/after report.

Starts the local S3 server (SeaweedFS `weed mini` on 127.0.0.1), creates a versioned bucket, uploads
sample media with real-looking sensitive metadata (generated here, or your own with FILES=...), and
sends each upload through the path production uses: an S3 event record built as S3 builds it,
routed by the suffix table, handled by the image or video Lambda running as in its container: the
Lambda runtime interface client (`python -m awslambdaric`) under AWS's Runtime Interface Emulator
(`aws-lambda-rie` from the pinned SAM CLI wheel, run on this machine). Then the same events again, to
show the loop guard skip them. Before any of that, the bucket is pre-filled under before-mediascrub/
with a few hundred copies of the samples, uploaded with no events, as if they had been there before
mediascrub was deployed; afterwards `python -m shared.backfill` strips them (docs/backfill.md). Prints
a table, writes an HTML report, and exits non-zero if any file still leaks or failed. Nothing is left
running.

    python -m devtools.demo [--files A B ...] [--bucket NAME] [--report demo-report.html]

With --bucket, the bucket is a real one (your AWS credentials and region from the environment):
no local server is started, the uploads go under the prefix mediascrub-demo/, and there is no backfill.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from devtools.report import FileReport, compare, inspect, text_table, write_html
from devtools.s3events import s3_event, s3_record
from shared.errors import ScrubError
from shared.routing import IMAGE, VIDEO, kind_of

HANDLERS = {IMAGE: "images.handler.lambda_handler", VIDEO: "video.handler.lambda_handler"}
LOCAL_BUCKET = "mediascrub-demo"
BACKFILL_PREFIX = "before-mediascrub/"
BACKFILL_COPIES = {IMAGE: 40, VIDEO: 3}  # of each sample: a few hundred objects, most of them photos
SAMPLE_NAMES = ("holiday photo.jpg", "screenshot.png", "sticker.webp", "party.gif", "IMG_0001.heic",
                "clip.mp4", "clip.mov")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_samples(directory: Path) -> list[Path]:
    """The demo's own sample uploads, each with real-looking sensitive metadata."""
    from devtools import samples

    makers = {
        "holiday photo.jpg": lambda p: p.write_bytes(samples.jpeg_photo((1600, 1200), orientation=6)),
        "screenshot.png": lambda p: p.write_bytes(samples.png_photo()),
        "sticker.webp": lambda p: p.write_bytes(samples.webp_photo()),
        "party.gif": lambda p: p.write_bytes(samples.gif_animation()),
        "IMG_0001.heic": lambda p: p.write_bytes(samples.heic_photo()),
        "clip.mp4": lambda p: samples.video_clip(str(p), "mp4"),
        "clip.mov": lambda p: samples.video_clip(str(p), "mov"),
    }
    paths = []
    for name in SAMPLE_NAMES:
        say(f"  generating {name}")
        makers[name](directory / name)
        paths.append(directory / name)
    return paths


def _records_from_logs(logs: str) -> dict[str, dict]:
    """The handler's one-JSON-line-per-record reports, by key (the last one wins)."""
    records = {}
    for line in logs.splitlines():
        if line.startswith("{") and '"outcome"' in line:
            with contextlib.suppress(ValueError):
                fields = json.loads(line)
                records[fields.get("key", "")] = fields
    return records


def invoke(kind: str, events: list[dict], env: dict[str, str]) -> dict[str, dict]:
    """Invoke one function's handler under the emulator once per event; its per-record reports by key."""
    from devtools.emulator import EmulatorError, on_host

    try:
        with on_host(HANDLERS[kind], env) as emulator:
            for event in events:
                answer = emulator.invoke(event, timeout=600).answer
                if isinstance(answer, dict) and str(answer.get("errorType", "")).startswith(("Runtime.", "HTTP ")):
                    raise SystemExit(f"the {kind} Lambda failed to start: {answer}")
    except EmulatorError as exc:
        raise SystemExit(f"the {kind} Lambda did not run: {exc}") from None
    return _records_from_logs(emulator.logs)


def _invoke_all(events: dict[str, list[dict]], env: dict[str, str]) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for kind, batch in events.items():
        if batch:
            say(f"    {len(batch)} event(s) -> {HANDLERS[kind]} under aws-lambda-rie and awslambdaric")
            results |= invoke(kind, batch, env)
    return results


def upload(client, bucket: str, key: str, path: Path) -> dict:
    client.upload_file(str(path), bucket, key)
    return client.head_object(Bucket=bucket, Key=key)


def run_demo(files: list[Path], client, bucket: str, prefix: str, env: dict[str, str], workdir: Path) -> list[FileReport]:
    """Upload, strip through the Lambdas twice, download and measure; one report per file."""
    reports, events = [], {IMAGE: [], VIDEO: []}
    for path in files:
        key = prefix + path.name
        kind = kind_of(key)
        report = FileReport(path.name, kind or "?")
        reports.append(report)
        if kind is None:
            report.outcome, report.reason = "misrouted", "suffix routes to no function"
            continue
        try:
            report.found_before = inspect(path, kind).get("removes", {})
        except ScrubError as exc:  # the Lambda will refuse it too: the report shows its reason
            report.reason = str(exc)
        say(f"  uploading s3://{bucket}/{key}")
        events[kind].append(s3_event(s3_record(bucket, key, upload(client, bucket, key, path))))
    say("  first pass: the upload events")
    results = _invoke_all(events, env)
    # What S3 sends next: an event for the Lambda's own write, which the loop guard must skip.
    rewritten = {IMAGE: [], VIDEO: []}
    for key, fields in results.items():
        if fields.get("outcome") == "stripped":
            head = client.head_object(Bucket=bucket, Key=key)
            rewritten[fields["function"]].append(s3_event(s3_record(bucket, key, head)))
    say("  second pass: the events for the Lambdas' own writes")
    second = _invoke_all(rewritten, env)
    for report in reports:
        report.second_pass = second.get(prefix + report.name, {}).get("outcome", "-")
    for path, report in zip(files, reports):
        fields = results.get(prefix + report.name, {})
        report.outcome = fields.get("outcome", report.outcome)
        report.reason = fields.get("reason", report.reason)
        report.format, report.lossless = fields.get("format", "?"), fields.get("lossless")
        report.seconds = fields.get("duration_ms", 0) / 1000
        if report.outcome in ("stripped", "already-clean"):
            after = workdir / "after" / report.name
            after.parent.mkdir(exist_ok=True)
            client.download_file(bucket, prefix + report.name, str(after))
            compare(report, path, after)
    return reports


def prefill(client, bucket: str, files: list[Path], copies: dict[str, int]) -> int:
    """Upload copies of `files` under BACKFILL_PREFIX with no events (there before the functions), plus
    a photo without a suffix and a text file; returns how many media objects the backfill should strip."""
    keys = {f"{BACKFILL_PREFIX}{i:03d} {path.name}": path
            for path in files for i in range(copies.get(kind_of(path.name) or "", 0))}
    photo = next((path for path in files if kind_of(path.name) == IMAGE), None)
    if photo:
        keys[f"{BACKFILL_PREFIX}camera/IMG_0001"] = photo
    for key, path in keys.items():
        client.upload_file(str(path), bucket, key)
    client.put_object(Bucket=bucket, Key=f"{BACKFILL_PREFIX}notes.txt", Body=b"not media: left alone")
    return len(keys)


def backfill(bucket: str, env: dict[str, str], workdir: Path) -> tuple[int, Counter]:
    """`python -m shared.backfill` over BACKFILL_PREFIX (progress on stderr); (exit status, outcomes)."""
    report = workdir / "backfill.csv"
    with open(workdir / "backfill.log", "w") as log:  # the pipeline's JSON lines
        done = subprocess.run([sys.executable, "-m", "shared.backfill", "--bucket", bucket, "--prefix",
                               BACKFILL_PREFIX, "--report", str(report)], env={**os.environ, **env},
                              stdout=log, check=False, timeout=1800)
    with report.open(newline="", encoding="utf-8") as rows:
        return done.returncode, Counter(row[6].split(":")[0] for row in csv.reader(rows))


def backfill_done(expected: int, status: int, outcomes: Counter) -> bool:
    """Say what the backfill did; whether it stripped every media object that was there before."""
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    say(f"backfill: {counts} of the {expected} media objects that were in the bucket before; notes.txt left alone")
    return status == 0 and outcomes == {"stripped": expected}


@contextlib.contextmanager
def s3_target(bucket: str | None, workdir: Path):
    """(client, bucket, prefix, env for the Lambdas): a local server, or the user's real bucket."""
    import boto3

    if bucket:
        yield boto3.client("s3"), bucket, "mediascrub-demo/", {}
        return
    from devtools.s3server import S3Server

    say("starting the local S3 server (SeaweedFS weed mini on 127.0.0.1)")
    with S3Server(workdir / "s3") as server:
        env = server.client_env()
        client = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
        client.create_bucket(Bucket=LOCAL_BUCKET)
        client.put_bucket_versioning(Bucket=LOCAL_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client, LOCAL_BUCKET, "uploads/", env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="*", default=[], help="your own files instead of the generated samples")
    parser.add_argument("--bucket", help="a real S3 bucket (uses your AWS credentials); default: a local server")
    parser.add_argument("--report", default="demo-report.html", help="where to write the HTML report")
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="mediascrub-demo-"))
    try:
        files = [Path(f) for f in args.files]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            say(f"error: no such file: {', '.join(missing)}")
            return 2
        if not files:
            say("generating sample uploads with sensitive metadata")
            (workdir / "samples").mkdir()
            files = make_samples(workdir / "samples")
        with s3_target(args.bucket, workdir) as (client, bucket, prefix, env):
            if not args.bucket:
                say(f"pre-filling s3://{bucket}/{BACKFILL_PREFIX}: objects there before mediascrub (no events)")
                expected = prefill(client, bucket, files, BACKFILL_COPIES)
            reports = run_demo(files, client, bucket, prefix, {**env, "GUARD": "tag"}, workdir)
            if not args.bucket:
                say(f"backfill of the {expected} media objects that were there before: python -m shared.backfill")
                status, outcomes = backfill(bucket, {**env, "GUARD": "tag"}, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(text_table(reports))
    backfilled = args.bucket or backfill_done(expected, status, outcomes)
    report_path = Path(args.report).resolve()
    write_html(reports, report_path, "mediascrub demo: before and after")
    failed = [r for r in reports if not r.ok]
    say(f"\n{len(reports) - len(failed)} of {len(reports)} files clean, identical and upright; "
        f"loop guard skipped the second pass; {time.monotonic() - started:.1f} s")
    say(f"HTML report with before/after thumbnails: {report_path}")
    return 1 if failed or not backfilled else 0


if __name__ == "__main__":
    sys.exit(main())
