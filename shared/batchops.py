"""S3 Batch Operations ("Invoke AWS Lambda function" jobs): the invocation event and the response.

Shapes, from AWS's documentation (Amazon S3 User Guide, "Invoke AWS Lambda function",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html, and the Lambda
Developer Guide, https://docs.aws.amazon.com/lambda/latest/dg/services-s3-batch.html; the schema
version is the job's `LambdaInvoke.InvocationSchemaVersion`,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_LambdaInvokeOperation.html):

    request   {"invocationSchemaVersion": "1.0" | "2.0", "invocationId": ..., "job": {"id": ...,
               "userArguments": {...} (2.0 only)}, "tasks": [{"taskId": ..., "s3Key": ...,
               "s3VersionId": ... | null, "s3BucketArn": "arn:aws:s3:::B" (1.0) | "s3Bucket": "B" (2.0)}]}
    response  {"invocationSchemaVersion": (echoed), "treatMissingKeysAs": ..., "invocationId": (echoed),
               "results": [{"taskId": ..., "resultCode": "Succeeded" | "TemporaryFailure" |
               "PermanentFailure", "resultString": ...}]}

Keys come as they stand in the manifest, URL-encoded (a CSV manifest requires it); they are decoded
with `unquote_plus`, as for S3 notifications (`%2B` is a plus, `+` and `%20` a space).

Batch Operations retries TemporaryFailure tasks and records the others in the completion report, where
`resultString` is the task's ResultMessage: it names the outcome and, for a failure, the one-line
reason, never any metadata. `userArguments` are accepted and not used: every setting comes from the
function's environment, so a job cannot weaken the function.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from shared.events import ObjectRecord
from shared.logs import RecordLine, log_record

SUCCEEDED, TEMPORARY, PERMANENT = "Succeeded", "TemporaryFailure", "PermanentFailure"
# A task missing from `results` can only be a bug here: report it, never count it as stripped.
TREAT_MISSING_KEYS_AS = PERMANENT
# handed-over: the catch-all passed a video without a suffix to the video function, which strips it (its
# own failures go to its on-failure destination, like any event's).
_DONE = ("stripped", "already-clean", "skipped-guard", "superseded", "handed-over")
_MAX_RESULT_STRING = 1024  # keeps one report row readable; the full reason is in the function's log
_ARN_PREFIX = "arn:aws:s3:::"


@dataclass(frozen=True)
class Task:
    """One task: its id, and the object it names (None with the reason when the task is unreadable)."""

    task_id: str
    record: ObjectRecord | None
    error: str = ""


def is_invocation(event: object) -> bool:
    """Whether `event` is a Batch Operations invocation (and not an S3/SQS/SNS/EventBridge event)."""
    return isinstance(event, dict) and "invocationSchemaVersion" in event and "tasks" in event


def respond(event: dict, process: Callable[[ObjectRecord], RecordLine]) -> dict:
    """Run `process` on every task's object and answer in Batch Operations' response shape."""
    tasks, job = event.get("tasks"), event.get("job")
    job_id = str(job.get("id", "")) if isinstance(job, dict) else ""
    results = [_result(_task(task, job_id), process) for task in (tasks if isinstance(tasks, list) else [])]
    return {"invocationSchemaVersion": event.get("invocationSchemaVersion"),
            "treatMissingKeysAs": TREAT_MISSING_KEYS_AS,
            "invocationId": event.get("invocationId"),
            "results": results}


def result_of(report: RecordLine) -> tuple[str, str]:
    """(resultCode, resultString) for one pipeline report."""
    outcome = report["outcome"]
    if outcome in _DONE:
        return SUCCEEDED, outcome
    reason = report.get("reason", "")
    if outcome in ("misrouted", "not-media"):
        return PERMANENT, _short(f"unsupported: {reason}")
    return (TEMPORARY if report.get("retryable") else PERMANENT), _short(reason)


def _task(task: object, job_id: str) -> Task:
    if not isinstance(task, dict):
        return Task("", None, f"task is a {type(task).__name__}, not a JSON object")
    task_id = str(task.get("taskId") or "")
    key, version = task.get("s3Key"), task.get("s3VersionId")
    bucket = _bucket(task)
    if not isinstance(key, str) or not key or not bucket:
        return Task(task_id, None, "task names no s3Key and s3Bucket (or s3BucketArn)")
    if version is not None and not isinstance(version, str):
        return Task(task_id, None, "task's s3VersionId is not a string")
    record = ObjectRecord(bucket=bucket, key=unquote_plus(key), version_id=version or None,
                          event_name=f"BatchOperations:{job_id}")
    return Task(task_id, record)


def _bucket(task: dict) -> str:
    """Schema 2.0 names the bucket; 1.0 gives its ARN (arn:aws:s3:::name)."""
    bucket = task.get("s3Bucket")
    if isinstance(bucket, str) and bucket:
        return bucket
    arn = task.get("s3BucketArn")
    if isinstance(arn, str) and arn.startswith(_ARN_PREFIX):
        return arn[len(_ARN_PREFIX):]
    return ""


def _result(task: Task, process: Callable[[ObjectRecord], RecordLine]) -> dict:
    if task.record is None:
        code, text = PERMANENT, f"unreadable task: {task.error}"
        log_record({"outcome": "failed", "reason": text, "task_id": task.task_id})
    else:
        code, text = result_of(process(task.record))
    return {"taskId": task.task_id, "resultCode": code, "resultString": text}


def _short(text: str) -> str:
    return text if len(text) <= _MAX_RESULT_STRING else text[:_MAX_RESULT_STRING - 1] + "…"
