"""Pipeline settings from environment variables, validated with clear messages when a function builds its
pipeline: on its first invocation (and again on the next one, if that build failed).

    GUARD                    tag (default) | metadata | prefix: how a stripped object is recognised
    SOURCE_PREFIX            prefix mode: where uploads land (required, non-empty unless DEST_BUCKET differs)
    DEST_PREFIX              prefix mode: where stripped copies go (required; key otherwise unchanged)
    DEST_BUCKET              prefix mode: bucket for stripped copies (default: the source bucket); with
                             empty prefixes this is the quarantine mode (uploads bucket -> media bucket)
    SOURCE_BUCKETS           comma-separated buckets whose events are processed (default: any)
    DELETE_ORIGINAL_VERSION  false (default) | true: in versioned buckets, delete the pre-strip version
                             (which still holds the GPS) once the stripped one is written
    MAX_IMAGE_MB             largest image stripped in memory (default 100)
    MULTIPART_PART_MB        part size for uploading stripped videos (default 16, at least 5)
    TMP_DIR                  where videos are staged (default: the system temp dir, /tmp on Lambda)
    HANDOFF_FUNCTION         the function that gets objects with no known suffix whose content is not
                             this function's (the template sets it on the image function: the video one)
    TIME_RESERVE_S           a record is not started with less than this (plus the longest record so far)
                             left in the invocation: it is reported failed and retried (default 10)

S3 endpoints come from boto3's own variables (AWS_ENDPOINT_URL_S3, ...); AWS_MAX_ATTEMPTS (default 5)
is checked here too.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import InvalidConfig

GUARDS = ("tag", "metadata", "prefix")
MiB = 1024 * 1024
_MIN_PART_MB = 5  # S3's smallest part (all but the last)
_MAX_PART_MB = 5 * 1024  # and its largest


@dataclass(frozen=True)
class Config:
    guard: str = "tag"
    source_prefix: str = ""
    dest_prefix: str = ""
    dest_bucket: str = ""
    delete_original_version: bool = False
    max_image_bytes: int = 100 * MiB
    part_bytes: int = 16 * MiB
    tmp_dir: str = ""
    handoff_function: str = ""
    source_buckets: tuple[str, ...] = ()
    time_reserve_s: float = 10.0

    def __post_init__(self) -> None:
        if self.guard not in GUARDS:
            raise InvalidConfig(f"GUARD must be one of {', '.join(GUARDS)}, not {self.guard!r}")
        if self.guard == "prefix":
            self._check_prefixes()
        elif self.source_prefix or self.dest_prefix or self.dest_bucket:
            raise InvalidConfig("SOURCE_PREFIX, DEST_PREFIX and DEST_BUCKET only apply with GUARD=prefix")
        if not _MIN_PART_MB * MiB <= self.part_bytes <= _MAX_PART_MB * MiB:
            raise InvalidConfig(f"MULTIPART_PART_MB must be at least {_MIN_PART_MB} and at most {_MAX_PART_MB} "
                                "(S3's part sizes)")
        if self.max_image_bytes <= 0:
            raise InvalidConfig("MAX_IMAGE_MB must be positive")
        if self.tmp_dir and not (os.path.isdir(self.tmp_dir) and os.access(self.tmp_dir, os.W_OK)):
            raise InvalidConfig(f"TMP_DIR {self.tmp_dir!r} is not a writable directory")

    def _check_prefixes(self) -> None:
        if not self.dest_prefix and not self.dest_bucket:
            raise InvalidConfig("GUARD=prefix needs DEST_PREFIX (or a different DEST_BUCKET)")
        if not self.dest_bucket or self.dest_bucket in self.source_buckets:
            self.check_destination(self.dest_bucket)

    def check_destination(self, source_bucket: str) -> None:
        """Prefix mode: copies written into the bucket they were read from must not land where uploads
        are read (they would trigger themselves, or replace the upload). Known at cold start only
        without DEST_BUCKET (or with SOURCE_BUCKETS), so the pipeline checks each record's bucket too."""
        if self.dest_bucket not in ("", source_bucket):
            return
        if self.dest_prefix.startswith(self.source_prefix) or self.source_prefix.startswith(self.dest_prefix):
            where = f"DEST_BUCKET {self.dest_bucket!r} is the source bucket and " if self.dest_bucket else ""
            raise InvalidConfig(f"{where}DEST_PREFIX {self.dest_prefix!r} and SOURCE_PREFIX {self.source_prefix!r} "
                                "overlap in the same bucket: stripped copies would trigger themselves")

    @property
    def in_place(self) -> bool:
        return self.guard != "prefix"

    @property
    def staging_dir(self) -> str:
        import tempfile  # only the video function stages files; the image CLI imports this module too

        return self.tmp_dir or tempfile.gettempdir()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        return cls(
            guard=(env.get("GUARD") or "tag").strip().lower(),
            source_prefix=env.get("SOURCE_PREFIX", ""),
            dest_prefix=env.get("DEST_PREFIX", ""),
            dest_bucket=env.get("DEST_BUCKET", ""),
            delete_original_version=env_bool("DELETE_ORIGINAL_VERSION", False, env),
            max_image_bytes=_megabytes(env, "MAX_IMAGE_MB", 100),
            part_bytes=_megabytes(env, "MULTIPART_PART_MB", 16),
            tmp_dir=env.get("TMP_DIR", ""),
            handoff_function=env.get("HANDOFF_FUNCTION", "").strip(),
            source_buckets=tuple(b.strip() for b in env.get("SOURCE_BUCKETS", "").split(",") if b.strip()),
            time_reserve_s=positive_number(env, "TIME_RESERVE_S", 10.0),
        )


def env_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    """A true/false setting (1/0, true/false, yes/no, on/off); InvalidConfig names anything else."""
    env = os.environ if env is None else env
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InvalidConfig(f"{name} must be true or false, not {raw!r}")


def positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    """A finite number above zero; InvalidConfig names anything else (nan, inf, -1, abc)."""
    raw = (env.get(name) or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InvalidConfig(f"{name} must be a positive number, not {raw!r}")
    return value


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number above zero; InvalidConfig names anything else."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:
        raise InvalidConfig(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    return int(positive_number(env, name, default) * MiB)
