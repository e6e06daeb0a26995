"""S3 Batch Operations jobs that backfill a bucket (`make backfill`, `make backfill-status`).

    python -m deploy.batchjobs create --bucket B [--prefix P] [--stack mediascrub] [--account-id ID]
    python -m deploy.batchjobs status --bucket B [--account-id ID]

`create` lists the bucket's current objects (from its newest S3 Inventory report when it has a CSV one,
else a listing), keeps what the functions handle (by suffix; a key without one goes to the catch-all function),
writes one CSV manifest per function (`S3BatchOperations_CSV_20180820`: bucket, URL-encoded key)
under mediascrub-backfill/manifests/, and creates one job per function (LambdaInvoke, invocation
schema 2.0) with the role the template creates, a completion report of all tasks under
mediascrub-backfill/reports/, and confirmation required: nothing runs until the job is confirmed
(console, or `aws s3control update-job-status --requested-job-status Ready`). It prints the job ids
and the estimated cost. `status` shows each backfill job's progress and, once complete, sums its
completion report up by result.

Request shapes: CreateJob, https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html;
manifest and report formats, https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html
and .../batch-ops-examples-reports.html; S3 Inventory's manifest.json,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote_plus

from shared import s3io
from shared.backfill import Listed, listing
from shared.errors import ScrubError
from shared.routing import IMAGE, VIDEO, function_for

MANIFEST_PREFIX = "mediascrub-backfill/manifests/"  # the template's role reads these ...
REPORT_PREFIX = "mediascrub-backfill/reports/"  # ... and writes these, nothing else
DESCRIPTION = "mediascrub backfill"
STACK_OUTPUTS = {IMAGE: "ImageFunctionArn", VIDEO: "VideoFunctionArn", "role": "BatchOperationsRoleArn"}

# Prices (us-east-1, USD): S3 Batch Operations per job and per object; Lambda per request and per
# GB-second (arm64, the template's default architecture).
PRICE_PER_JOB = 0.25
PRICE_PER_OBJECT = 1.00 / 1_000_000
PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND = 0.0000133334
# Lambda GB-seconds, from the backfill rows of docs/benchmarks.md (`make bench`): 8.9 photos per
# GB-second for the image function; 7.1 MB per GB-second for the video function (a clip costs by size),
# both on one core (concurrency 1).
GB_SECONDS_PER_PHOTO = 1 / 8.9
GB_SECONDS_PER_VIDEO_MB = 1 / 7.1


@dataclass
class Manifest:
    """One function's manifest: a CSV file written as the listing goes (bounded memory)."""

    path: Path
    objects: int = 0
    size: int = 0


def manifests(client: Any, bucket: str, prefix: str, directory: Path) -> tuple[str, dict[str, Manifest]]:
    """(where the listing came from, one manifest per function in `directory`) for the current objects
    under `prefix`."""
    source, objects = inventory(client, bucket, prefix) or ("a listing of current objects",
                                                             listing(client, bucket, prefix))
    by_kind = {kind: Manifest(directory / f"{kind}.csv") for kind in (IMAGE, VIDEO)}
    with ExitStack() as files:
        writers = {kind: csv.writer(files.enter_context(m.path.open("w", newline="", encoding="utf-8")))
                   for kind, m in by_kind.items()}
        for listed in objects:
            kind = function_for(listed.key)
            if kind:
                writers[kind].writerow([bucket, quote(listed.key, safe="/")])
                by_kind[kind].objects += 1
                by_kind[kind].size += listed.size
    return source, by_kind



def inventory(client: Any, bucket: str, prefix: str) -> tuple[str, Iterator[Listed]] | None:
    """The objects of the newest report of the bucket's CSV S3 Inventory, or None without one."""
    try:
        configs = client.list_bucket_inventory_configurations(Bucket=bucket).get("InventoryConfigurationList", [])
    except Exception as exc:
        if s3io.is_transient(exc):
            raise
        return None  # no inventory here (or not allowed to see it): a listing will do
    for config in configs:
        destination = config["Destination"]["S3BucketDestination"]
        if config.get("IsEnabled") and destination.get("Format") == "CSV":
            found = _newest_manifest(client, destination, bucket, config["Id"])
            if found:
                return f"S3 Inventory {config['Id']!r} of {found[0]}", _inventory_rows(client, found[1], prefix)
    return None


def _newest_manifest(client: Any, destination: dict, bucket: str, config_id: str) -> tuple[str, dict] | None:
    """(date, manifest.json) of the newest report, under DEST-PREFIX/SOURCE-BUCKET/CONFIG-ID/DATE/."""
    target = destination["Bucket"].split(":::")[-1]
    base = "/".join(p for p in (destination.get("Prefix", "").strip("/"), bucket, config_id) if p) + "/"
    dates = [p["Prefix"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=target, Prefix=base, Delimiter="/") for p in page.get("CommonPrefixes", [])]
    for date in sorted(dates, reverse=True):
        try:
            body = client.get_object(Bucket=target, Key=f"{date}manifest.json")["Body"].read()
        except Exception as exc:
            if s3io.is_gone(exc):
                continue  # a report still being written has no manifest.json yet
            raise
        return date[len(base):].rstrip("/"), {**json.loads(body), "destination": target}
    return None


def _inventory_rows(client: Any, manifest: dict, prefix: str) -> Iterator[Listed]:
    columns = [c.strip() for c in manifest["fileSchema"].split(",")]
    for data in manifest["files"]:
        raw = client.get_object(Bucket=manifest["destination"], Key=data["key"])["Body"].read()
        for row in csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))):
            fields = dict(zip(columns, row, strict=False))
            key = unquote_plus(fields["Key"])  # URL-encoded: a space may come as + (a plus as %2B)
            if key.startswith(prefix) and fields.get("IsLatest", "true") == "true" \
                    and fields.get("IsDeleteMarker", "false") != "true":
                yield Listed(key, int(fields.get("Size") or 0))


def job_request(account_id: str, bucket: str, kind: str, function_arn: str, role_arn: str,
                manifest_key: str, manifest_etag: str, run_id: str) -> dict:
    """The CreateJob request of one function's job: LambdaInvoke (schema 2.0), report of every task,
    confirmation required."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return {
        "AccountId": account_id,
        "ConfirmationRequired": True,
        "Operation": {"LambdaInvoke": {"FunctionArn": function_arn, "InvocationSchemaVersion": "2.0"}},
        "Report": {"Bucket": bucket_arn, "Format": "Report_CSV_20180820", "Enabled": True,
                   "Prefix": f"{REPORT_PREFIX}{run_id}", "ReportScope": "AllTasks"},
        "ClientRequestToken": f"{run_id}-{kind}",
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": f"{bucket_arn}/{manifest_key}", "ETag": manifest_etag.strip('"')}},
        "Description": f"{DESCRIPTION} {kind} s3://{bucket}"[:256],
        "Priority": 10,
        "RoleArn": role_arn,
    }


def estimated_cost(manifests: dict[str, Manifest]) -> float:
    """USD: the jobs' fees, one invocation per object, and its GB-seconds."""
    jobs = sum(1 for m in manifests.values() if m.objects)
    objects = sum(m.objects for m in manifests.values())
    gb_seconds = (manifests[IMAGE].objects * GB_SECONDS_PER_PHOTO
                  + manifests[VIDEO].size / 1e6 * GB_SECONDS_PER_VIDEO_MB)
    return (jobs * PRICE_PER_JOB + objects * (PRICE_PER_OBJECT + PRICE_PER_REQUEST)
            + gb_seconds * PRICE_PER_GB_SECOND)


def create(s3: Any, s3control: Any, account_id: str, bucket: str, prefix: str, arns: dict[str, str],
           out: IO[str] = sys.stdout) -> dict[str, str]:
    """Write and upload the manifests, create the jobs (confirmation required); returns kind -> job id."""
    run_id = uuid.uuid4().hex[:12]
    jobs = {}
    with tempfile.TemporaryDirectory(prefix="mediascrub-backfill-") as work:
        source, by_kind = manifests(s3, bucket, prefix, Path(work))
        print(f"s3://{bucket}/{prefix}: {source}", file=out)
        for kind, manifest in by_kind.items():
            if not manifest.objects:
                print(f"{kind}: nothing to do", file=out)
                continue
            key = f"{MANIFEST_PREFIX}{run_id}/{kind}.csv"
            with manifest.path.open("rb") as body:  # SSE-S3 even in an SSE-KMS bucket: the role has no KMS
                etag = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv",
                                     ServerSideEncryption="AES256")["ETag"]
            request = job_request(account_id, bucket, kind, arns[kind], arns["role"], key, etag, run_id)
            jobs[kind] = s3control.create_job(**request)["JobId"]
            print(f"{kind}: job {jobs[kind]}: {manifest.objects} objects, {manifest.size / 1e9:.2f} GB "
                  f"(manifest s3://{bucket}/{key})", file=out)
    cost = estimated_cost(by_kind)
    print(f"estimated cost: ${cost:.2f} (Batch Operations ${PRICE_PER_JOB}/job + ${PRICE_PER_OBJECT * 1e6:.2f} per "
          "million objects; Lambda requests and GB-seconds from docs/benchmarks.md)", file=out)
    if jobs:
        print("the jobs wait for confirmation: aws s3control update-job-status --account-id "
              f"{account_id} --requested-job-status Ready --job-id JOB_ID", file=out)
    return jobs


def status(s3: Any, s3control: Any, account_id: str, bucket: str, out: IO[str] = sys.stdout) -> int:
    """Print each backfill job of `bucket`: status, progress, and (complete) its report summed up."""
    found = 0
    for job in _jobs(s3control, account_id):
        description = job.get("Description", "")
        if description.startswith(DESCRIPTION) and description.endswith(f"s3://{bucket}"):
            found += 1
            _show(s3, s3control.describe_job(AccountId=account_id, JobId=job["JobId"])["Job"], out)
    if not found:
        print(f"no {DESCRIPTION} jobs for s3://{bucket}", file=out)
    return found


def _jobs(s3control: Any, account_id: str) -> Iterator[dict]:
    """Every job of the account (ListJobs pages by NextToken; botocore has no paginator for it)."""
    token: dict[str, str] = {}
    while True:
        page = s3control.list_jobs(AccountId=account_id, **token)
        yield from page.get("Jobs", [])
        if not page.get("NextToken"):
            return
        token = {"NextToken": page["NextToken"]}


def _show(s3: Any, job: dict, out: IO[str]) -> None:
    progress = job.get("ProgressSummary", {})
    print(f"{job['JobId']} {job['Description']}: {job['Status']}, {progress.get('NumberOfTasksSucceeded', 0)} "
          f"succeeded, {progress.get('NumberOfTasksFailed', 0)} failed of {progress.get('TotalNumberOfTasks', '?')}",
          file=out)
    report = job.get("Report", {})
    if job["Status"] == "Complete" and report.get("Enabled"):
        for (status, code, result), count in sorted(report_summary(s3, report, job["JobId"]).items()):
            print(f"  {count:>9}  " + " ".join(word for word in (status, code, result) if word), file=out)


def report_summary(s3: Any, report: dict, job_id: str) -> Counter:
    """(task status, result code, outcome) -> count over the job's completion report."""
    bucket = report["Bucket"].split(":::")[-1]
    base = f"{report.get('Prefix', '').rstrip('/')}/job-{job_id}/manifest.json".lstrip("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=base)["Body"].read())
    counts: Counter = Counter()
    for result in manifest["Results"]:
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode("utf-8")
        for row in csv.reader(io.StringIO(body)):
            if len(row) >= 7:
                counts[(row[3], row[5], row[6].split(":")[0])] += 1
    return counts


def _stack_arns(stack: str) -> dict[str, str]:
    import boto3

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    missing = [name for name in STACK_OUTPUTS.values() if name not in values]
    if missing:
        raise ScrubError(f"stack {stack} has no output {', '.join(missing)} (deploy the current template.yaml)")
    return {what: values[name] for what, name in STACK_OUTPUTS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.batchjobs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("create", "status"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--bucket", required=True)
        cmd.add_argument("--account-id", help="default: the caller's account (STS)")
    sub.choices["create"].add_argument("--prefix", default="")
    sub.choices["create"].add_argument("--stack", default="mediascrub", help="the deployed stack (its outputs)")
    args = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3, s3control = s3io.make_client(), boto3.client("s3control")
        account_id = args.account_id or boto3.client("sts").get_caller_identity()["Account"]
        if args.command == "status":
            status(s3, s3control, account_id, args.bucket)
        else:
            create(s3, s3control, account_id, args.bucket, args.prefix, _stack_arns(args.stack))
    except (ScrubError, ClientError, BotoCoreError) as exc:  # no credentials, no such stack or bucket, ...
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
