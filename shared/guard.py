"""The loop guard: whether an object was already stripped, and where (and how marked) the result goes.

    tag       skip objects tagged ExifStripped=True; the rewrite carries the tag (merged with the others)
    metadata  skip objects with x-amz-meta-exif-stripped: true; the rewrite carries it
    prefix    read under SOURCE_PREFIX, write under DEST_PREFIX (optionally in DEST_BUCKET)

Every write also carries x-amz-meta-exif-stripped-from naming what it was stripped from (the source
version, or its ETag in an unversioned bucket). A marker without it was not set by this pipeline (an
upload that arrives already tagged or flagged), so it is not trusted and the object is stripped anyway;
and a write whose response was lost is recognised as the pipeline's own by it.

Pure decisions on names, tags and metadata: no S3 calls here.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from shared.config import Config
from shared.errors import ScrubError
from shared.logs import RecordLine

GUARD_TAG = "ExifStripped"
GUARD_TAG_VALUE = "True"
GUARD_METADATA = "exif-stripped"  # sent as x-amz-meta-exif-stripped
GUARD_METADATA_VALUE = "true"
STRIPPED_FROM = "exif-stripped-from"  # sent as x-amz-meta-exif-stripped-from: the source version (or ETag)
MAX_TAGS = 10  # S3's per-object limit


@dataclass(frozen=True)
class Location:
    bucket: str
    key: str


# S3 event names of records that create no object (deletions, restores, tag or ACL changes, ...).
_NOT_CREATED = ("ObjectRemoved:", "ObjectRestore:", "ObjectTagging:", "ObjectAcl:", "LifecycleExpiration:",
                "LifecycleTransition", "IntelligentTiering", "Replication:")


def not_an_upload(config: Config, bucket: str, event_name: str) -> RecordLine | None:
    """The outcome of a record that names no new object, or one in a bucket outside SOURCE_BUCKETS."""
    if event_name.startswith(_NOT_CREATED):
        return {"outcome": "ignored", "reason": f"event {event_name} creates no object"}
    if config.source_buckets and bucket not in config.source_buckets:
        return {"outcome": "misrouted", "reason": f"bucket {bucket!r} is not in SOURCE_BUCKETS"}
    return None


def out_of_scope(config: Config, bucket: str, key: str) -> str | None:
    """Why a key is not an upload this function should strip (prefix mode), or None; InvalidConfig when
    the copies would land in this bucket where uploads are read."""
    if config.in_place:
        return None
    if config.dest_bucket in ("", bucket):
        config.check_destination(bucket)
        if key.startswith(config.dest_prefix):
            return f"key is under DEST_PREFIX {config.dest_prefix!r} (a stripped copy)"
    if not key.startswith(config.source_prefix):
        return f"key is outside SOURCE_PREFIX {config.source_prefix!r}"
    return None


def already_stripped(config: Config, tags: dict[str, str], metadata: dict[str, str]) -> bool:
    """Marked by this pipeline's own write: the guard's marker together with the source it names."""
    if not metadata.get(STRIPPED_FROM):
        return False
    if config.guard == "tag":
        return tags.get(GUARD_TAG) == GUARD_TAG_VALUE
    if config.guard == "metadata":
        return metadata.get(GUARD_METADATA, "").lower() == GUARD_METADATA_VALUE
    return False  # prefix mode: scope alone decides


def source_identity(version_id: str | None, etag: str) -> str:
    """What a write names as its source: the version read, or (unversioned bucket) its ETag."""
    return version_id or etag.strip('"')


def destination(config: Config, source: Location) -> Location:
    if config.in_place:
        return source
    relative = source.key[len(config.source_prefix):]
    return Location(config.dest_bucket or source.bucket, config.dest_prefix + relative)


def tags_to_write(config: Config, tags: dict[str, str]) -> dict[str, str]:
    """The object's tags plus, in tag mode, the guard tag; a clear error when S3's limit leaves no room."""
    if config.guard != "tag":
        return dict(tags)
    merged = {**tags, GUARD_TAG: GUARD_TAG_VALUE}
    if len(merged) > MAX_TAGS:
        raise ScrubError(f"object already has {len(tags)} tags (S3 allows {MAX_TAGS}): "
                         f"no room for the {GUARD_TAG}={GUARD_TAG_VALUE} loop-guard tag; "
                         "remove a tag or use GUARD=metadata")
    return merged


def metadata_to_write(config: Config, metadata: dict[str, str], stripped_from: str) -> dict[str, str]:
    """The object's metadata, the source it was stripped from and, in metadata mode, the guard's flag."""
    marked = {**metadata, STRIPPED_FROM: stripped_from}
    if config.guard != "metadata":
        return marked
    return {**marked, GUARD_METADATA: GUARD_METADATA_VALUE}


def tagging_header(tags: dict[str, str]) -> str:
    """The `Tagging=` request value (URL query encoding) for PutObject / CreateMultipartUpload."""
    return urlencode(tags)
