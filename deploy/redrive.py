"""Replay the events that failed after Lambda's retries, from the on-failure queue (make redrive).

    python -m deploy.redrive --queue-url URL [--max N] [--dry-run]

Each message is the record Lambda's on-failure destination wrote: the function that failed
(`requestContext.functionArn`), why (`responsePayload.errorMessage`) and the original event
(`requestPayload`). The event is invoked again on that function, asynchronously (so its retries and
this queue apply again), and the message is deleted once Lambda accepted it. A message that is no such
record stays in the queue and is named. One line per message; fix the cause first (docs/pipeline.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from shared.events import deliveries

Invoke = Callable[[str, dict], None]  # (function ARN, event)
_INVISIBLE_S = 120  # a message kept back stays out of this run's way


def redrive(sqs: Any, queue_url: str, invoke: Invoke, limit: int, dry_run: bool = False) -> tuple[int, int]:
    """Replay up to `limit` messages; returns (replayed, kept in the queue)."""
    replayed = kept = 0
    while replayed + kept < limit:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - replayed - kept),
                                    WaitTimeSeconds=1, VisibilityTimeout=_INVISIBLE_S).get("Messages", [])
        if not batch:
            break
        for message in batch:
            if _replay(message, invoke, dry_run):
                replayed += 1
                if not dry_run:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                kept += 1
    return replayed, kept


def _replay(message: dict, invoke: Invoke, dry_run: bool) -> bool:
    try:
        record = json.loads(message["Body"])
        function, event = record["requestContext"]["functionArn"], record["requestPayload"]
    except (ValueError, KeyError, TypeError):
        print(f"kept {message['MessageId']}: not an on-failure record of a Lambda invocation")
        return False
    error = (record.get("responsePayload") or {}).get("errorMessage", "?")
    keys = [r.key for d in deliveries(event) for r in d.records]
    print(f"{'would replay' if dry_run else 'replayed'} {message['MessageId']} on {function}: {keys} "
          f"(failed with: {error})")
    if not dry_run:
        invoke(function, event)
    return True


def lambda_invoke(client: Any) -> Invoke:
    def invoke(function: str, event: dict) -> None:
        client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
    return invoke


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="the stack's FailedEventsQueueUrl output")
    parser.add_argument("--max", type=int, default=1000, help="messages to replay at most (default %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    args = parser.parse_args(argv)
    import boto3

    replayed, kept = redrive(boto3.client("sqs"), args.queue_url, lambda_invoke(boto3.client("lambda")),
                             args.max, args.dry_run)
    print(f"{replayed} {'to replay' if args.dry_run else 'replayed'}, {kept} kept in the queue")
    return 1 if kept else 0


if __name__ == "__main__":
    sys.exit(main())
