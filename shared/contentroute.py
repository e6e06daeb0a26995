"""Objects whose name routes to no function (no suffix, `.bin`, `x.jpg.`): decided by their first bytes.

EventBridge's catch-all rule delivers them to `routing.CATCH_ALL`. That function reads the first
SNIFF_BYTES (a ranged GET pinned to the object it headed) and strips the object itself when its own
format code recognises them; otherwise it hands the object over to the other function (an asynchronous
Lambda invocation with an S3 event naming exactly that version), which checks again with its own
format code. Content that no function strips is `not-media`: logged as such and left untouched, so
behind the read gate it stays unreadable.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from shared import s3io
from shared.logs import RecordLine

if TYPE_CHECKING:  # the client's types, for mypy only (botocore makes it at run time)
    from mypy_boto3_s3 import S3Client

SNIFF_BYTES = 4096  # enough for an ftyp box's brands or Matroska's EBML DocType
HANDOVER_EVENT = "ObjectCreated:HandedOver"


@dataclass(frozen=True)
class ContentRouter:
    recognises: Callable[[bytes], bool]  # the function's own format check on a file's first bytes
    hand_over: Callable[[s3io.SourceObject], str] | None = None  # passes the object on; returns to whom

    def decide(self, client: S3Client, source: s3io.SourceObject, kind: str) -> RecordLine | None:
        """None when this function strips the object; otherwise the record's outcome."""
        if not source.size:  # nothing to read (a range would be refused): a folder marker, an empty upload
            return {"outcome": "not-media", "reason": "empty object (a folder marker?): nothing to strip"}
        if self.recognises(s3io.read_head(client, source, SNIFF_BYTES)):
            return None
        if self.hand_over:
            return {"outcome": "handed-over", "handed_to": self.hand_over(source)}
        return {"outcome": "not-media", "reason": f"the name routes nowhere and the content is not a format the "
                                                  f"{kind} function strips: left untouched (and unreadable behind "
                                                  "the read gate)"}


def handover_event(source: s3io.SourceObject) -> dict:
    """The S3 notification the other function receives: exactly the object read (version, ETag)."""
    obj: dict[str, Any] = {"key": quote_plus(source.location.key, safe="/"), "eTag": source.etag.strip('"'),
                           "size": source.size}
    if source.version_id:
        obj["versionId"] = source.version_id
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": HANDOVER_EVENT,
                         "s3": {"bucket": {"name": source.location.bucket}, "object": obj}}]}


def content_router(recognises: Callable[[bytes], bool], handoff_function: str) -> ContentRouter:
    """The router a handler builds: its format check, and HANDOFF_FUNCTION (if set) for the rest."""
    return ContentRouter(recognises, lambda_hand_over(handoff_function) if handoff_function else None)


def lambda_hand_over(function_name: str) -> Callable[[s3io.SourceObject], str]:
    """Hand objects over to `function_name` by an asynchronous invocation (Lambda's retries and
    on-failure destination then apply there as to any S3 event). The Lambda client is made at the
    first hand-over, not at the cold start: most containers never hand anything over, and making it
    (a second botocore session and API model) added about 45 ms to every cold start."""

    @functools.cache
    def client() -> Any:  # botocore types it as BaseClient
        import botocore.session

        return botocore.session.get_session().create_client("lambda")

    def hand_over(source: s3io.SourceObject) -> str:
        client().invoke(FunctionName=function_name, InvocationType="Event",
                        Payload=json.dumps(handover_event(source)).encode())
        return function_name

    return hand_over
