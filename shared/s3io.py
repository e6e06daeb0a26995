"""S3 reads and writes, each pinned to the exact object that was read.

Reads use the event's version (or, in unversioned buckets, IfMatch on its ETag). Writes are one
PutObject, or one multipart upload whose CompleteMultipartUpload carries the precondition, with
IfMatch = the ETag that was read, the tags, every header, and a SHA-256 checksum. An aborted
multipart upload leaves nothing behind. Retries (503 SlowDown, 500s, timeouts, dropped connections)
are botocore's standard retry mode; 409 conditional-write conflicts are retried here.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import positive_int
from shared.errors import ScrubError
from shared.guard import Location, tagging_header

if TYPE_CHECKING:  # the client's types, for mypy only (botocore makes it at run time)
    from mypy_boto3_s3 import S3Client

# Headers that belong to the object and must survive the rewrite (HeadObject name == PutObject name).
PRESERVED_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding",
                     "ContentLanguage", "Expires", "StorageClass", "ServerSideEncryption",
                     "SSEKMSKeyId", "BucketKeyEnabled", "WebsiteRedirectLocation",
                     "ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")
_CONFLICT_ATTEMPTS = 4
_COPY_CHUNK = 1024 * 1024


def make_client(read_timeout: float = 60, connect_timeout: float = 10) -> S3Client:
    """An S3 client with botocore's standard retry mode; the endpoint comes from AWS_ENDPOINT_URL(_S3).

    Made with botocore directly: boto3's import (resources, s3transfer) would add about 100 ms to every
    cold start, and nothing here uses what it adds."""
    import botocore.session
    from botocore.config import Config as BotoConfig

    attempts = positive_int(os.environ, "AWS_MAX_ATTEMPTS", 5)
    return botocore.session.get_session().create_client("s3", config=BotoConfig(  # type: ignore[return-value]
        retries={"mode": "standard", "total_max_attempts": attempts},  # AWS_MAX_ATTEMPTS counts the first try
        read_timeout=read_timeout, connect_timeout=connect_timeout))


@dataclass
class SourceObject:
    """What was read: identity (version, ETag), size, and everything a rewrite must carry over."""

    location: Location
    etag: str
    version_id: str | None
    size: int
    headers: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tag_count: int = 0  # as HeadObject reported it (0 when it sent none)

    def pin(self) -> dict[str, Any]:
        """Request arguments that address exactly this object (its version, or its ETag)."""
        return _pin(self.version_id, self.etag)


def _pin(version_id: str | None, etag: str | None) -> dict[str, Any]:
    """A version, else an ETag to match, else nothing: how far a request can pin what it reads."""
    if version_id:
        return {"VersionId": version_id}
    return {"IfMatch": etag} if etag else {}


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def is_precondition_failed(exc: BaseException) -> bool:
    return error_code(exc) == "PreconditionFailed" or http_status(exc) == 412


def is_gone(exc: BaseException) -> bool:
    return error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404")


_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException",
                    "RequestTimeout", "RequestTimeoutException", "ServiceUnavailable", "InternalError"}


def is_transient(exc: BaseException) -> bool:
    """Throttling, a timeout, a 5xx or a dropped connection (botocore's retries already used up), here or
    as the cause of a typed error: the same request may well succeed later."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    error: BaseException | None = exc
    while error is not None:
        if isinstance(error, BotoConnectionError | HTTPClientError | TimeoutError | ConnectionError):
            return True
        if error_code(error) in _TRANSIENT_CODES or http_status(error) in (429, 500, 502, 503, 504):
            return True
        error = error.__cause__
    return False


def head(client: S3Client, location: Location, version_id: str | None, etag: str | None,
         trust_tag_count: bool = False) -> SourceObject:
    """HeadObject of the event's object (its version, else its ETag if given), and its tags.

    HeadObject answers how many tags the object has (x-amz-tagging-count), but only when there is at
    least one, only to a caller allowed to read them, and only where the server sends the count at
    all. So the absence of a count proves nothing until this caller has seen one and read the tags it
    counted: with `trust_tag_count`, tags are asked for only when a count is reported."""
    meta: Mapping[str, Any] = client.head_object(Bucket=location.bucket, Key=location.key, **_pin(version_id, etag))
    source = SourceObject(
        location=location, etag=meta["ETag"], version_id=_real_version(meta.get("VersionId")),
        size=int(meta["ContentLength"]), metadata=dict(meta.get("Metadata") or {}),
        headers={name: meta[name] for name in PRESERVED_HEADERS if meta.get(name) is not None},
        tag_count=int(meta.get("TagCount") or 0),
    )
    if source.tag_count or not trust_tag_count:
        tagging = client.get_object_tagging(Bucket=location.bucket, Key=location.key, **_version(source))
        source.tags = {t["Key"]: t["Value"] for t in tagging.get("TagSet", [])}
    return source


def _real_version(version_id: str | None) -> str | None:
    """Unversioned buckets answer no version, or the literal "null" (versioning suspended)."""
    return version_id if version_id and version_id != "null" else None


def _version(source: SourceObject) -> dict[str, Any]:
    return {"VersionId": source.version_id} if source.version_id else {}


def _body(client: S3Client, source: SourceObject, **extra: Any) -> Any:
    """The body stream of exactly the object read (GetObject pinned to its version or ETag)."""
    return client.get_object(Bucket=source.location.bucket, Key=source.location.key, **source.pin(), **extra)["Body"]


def read_bytes(client: S3Client, source: SourceObject) -> bytes:
    return _body(client, source).read()


def read_head(client: S3Client, source: SourceObject, length: int) -> bytes:
    """The first `length` bytes of exactly the object read (a ranged GET)."""
    return _body(client, source, Range=f"bytes=0-{length - 1}").read()


def read_to_file(client: S3Client, source: SourceObject, path: Path) -> None:
    with open(path, "wb") as out:
        shutil.copyfileobj(_body(client, source), out, _COPY_CHUNK)


@dataclass(frozen=True)
class WriteSpec:
    """Where the stripped object goes and what it carries (headers, metadata, tags, precondition)."""

    target: Location
    headers: dict[str, Any]
    metadata: dict[str, str]
    tags: dict[str, str]
    if_match: str | None  # the ETag read (rewrite in place); None writes a new key (prefix mode)

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {"Bucket": self.target.bucket, "Key": self.target.key,
                                "Metadata": self.metadata, **self.headers}
        if self.tags:
            args["Tagging"] = tagging_header(self.tags)
        return args

    def precondition(self) -> dict[str, Any]:
        return {"IfMatch": self.if_match} if self.if_match else {}


def write(client: S3Client, spec: WriteSpec, body: bytes | Path, part_bytes: int) -> Mapping[str, Any]:
    """Write `body` (bytes, or a file: multipart when larger than one part); retries 409 conflicts."""
    attempt = 1
    while True:
        try:
            if isinstance(body, Path) and body.stat().st_size > part_bytes:
                return _multipart(client, spec, body, part_bytes)
            return _put(client, spec, body)
        except Exception as exc:
            if http_status(exc) != 409 or attempt == _CONFLICT_ATTEMPTS:
                raise
            attempt += 1


def _put(client: S3Client, spec: WriteSpec, body: bytes | Path) -> Mapping[str, Any]:
    with open(body, "rb") if isinstance(body, Path) else nullcontext(body) as payload:
        return client.put_object(Body=payload, ChecksumAlgorithm="SHA256", **spec.arguments(), **spec.precondition())


def _multipart(client: S3Client, spec: WriteSpec, path: Path, part_bytes: int) -> Mapping[str, Any]:
    args = spec.arguments()
    upload = client.create_multipart_upload(ChecksumAlgorithm="SHA256", **args)
    ids: dict[str, Any] = {"Bucket": args["Bucket"], "Key": args["Key"], "UploadId": upload["UploadId"]}
    try:
        with open(path, "rb") as f:
            parts = [_upload_part(client, ids, number, chunk)
                     for number, chunk in enumerate(iter(lambda: f.read(part_bytes), b""), start=1)]
        return client.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts}, **spec.precondition())
    except BaseException as exc:
        _abort(client, ids, exc)
        raise


def _abort(client: S3Client, ids: dict, cause: BaseException) -> None:
    """Abort a failed upload: nothing half-written stays behind (and the original was never replaced)."""
    try:
        client.abort_multipart_upload(**ids)
    except Exception as abort_error:  # noqa: BLE001 (any abort failure is reported with the cause)
        raise ScrubError(f"upload failed ({cause}) and multipart upload {ids['UploadId']} could not be "
                         f"aborted ({abort_error}); an AbortIncompleteMultipartUpload lifecycle rule "
                         "removes such leftovers") from cause


def _upload_part(client: S3Client, ids: dict, number: int, chunk: bytes) -> Any:
    response = client.upload_part(**ids, PartNumber=number, Body=chunk, ChecksumAlgorithm="SHA256",
                                  ChecksumSHA256=_sha256_b64(chunk))
    return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": response["ChecksumSHA256"]}


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def add_tags(client: S3Client, source: SourceObject, tags: dict[str, str]) -> None:
    """Replace the tag set of exactly the object read (no precondition exists for tagging)."""
    client.put_object_tagging(Bucket=source.location.bucket, Key=source.location.key, **_version(source),
                              Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})


def still_current(client: S3Client, source: SourceObject) -> bool:
    """Whether the key still holds the object that was read (same ETag)."""
    try:
        client.head_object(Bucket=source.location.bucket, Key=source.location.key, IfMatch=source.etag)
    except Exception as exc:
        if is_precondition_failed(exc) or is_gone(exc):
            return False
        raise
    return True


def head_current(client: S3Client, location: Location) -> Mapping[str, Any] | None:
    """HeadObject of the key's current object; None when there is none."""
    try:
        return client.head_object(Bucket=location.bucket, Key=location.key)
    except Exception as exc:
        if is_gone(exc):
            return None
        raise


def remove_tag(client: S3Client, location: Location, tag: str) -> None:
    """Take one tag off the current object, keeping the others."""
    tag_set = client.get_object_tagging(Bucket=location.bucket, Key=location.key)["TagSet"]
    client.put_object_tagging(Bucket=location.bucket, Key=location.key,
                              Tagging={"TagSet": [t for t in tag_set if t["Key"] != tag]})


def delete_version(client: S3Client, source: SourceObject) -> None:
    """Delete exactly the version read; never the current object of an unversioned key."""
    if source.version_id is None:
        raise ValueError(f"{source.location.key}: no version to delete")
    client.delete_object(Bucket=source.location.bucket, Key=source.location.key, VersionId=source.version_id)


def free_bytes(directory: str) -> int:
    return shutil.disk_usage(directory).free
