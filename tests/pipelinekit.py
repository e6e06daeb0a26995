"""Helpers for the S3 pipeline tests: generated dirty uploads, exiftool's view of GPS, reading objects
back, fresh buckets and handlers built as a new Lambda container builds them."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest

from devtools import samples
from devtools.judge import leaks_in_file
from shared import settings
from shared.config import Config
from shared.events import ObjectRecord, deliveries
from shared.pipeline import LazyHandler, Pipeline
from shared.routing import IMAGE
from shared.staging import InMemory

_bucket_numbers = itertools.count()


def new_bucket(client, versioned: bool = False) -> str:
    name = f"test-{os.getpid()}-{next(_bucket_numbers)}"
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name



DIRTY_JPEG = samples.jpeg_photo((320, 240))  # GPS, camera, serial, times, maker note, thumbnail, XMP
DIRTY_PNG = samples.png_photo((160, 120))  # text chunks, XMP, tIME and an eXIf chunk with GPS
CORRUPT_JPEG = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00broken" + bytes(64)


def gps_tags(data: bytes) -> list[str]:
    """GPS/location tags exiftool (the independent judge) finds in `data`, telemetry included."""
    done = subprocess.run(["exiftool", "-j", "-a", "-G1", "-ee3", "-"], input=data, capture_output=True, check=True)
    (tags,) = json.loads(done.stdout)
    return [name for name in tags if "GPS" in name or "Location" in name]


def body(s3, bucket: str, key: str, **pin) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **pin)["Body"].read()


def tags(s3, bucket: str, key: str, **pin) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **pin)["TagSet"]}




def handler(module, monkeypatch: pytest.MonkeyPatch, **env: str) -> LazyHandler:
    """A fresh (cold) handler of `module` with `env` set, as a new Lambda container would start."""
    for name in settings.NAMES:  # a test's handler sees only the settings it sets
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return LazyHandler(module.build)


def image_pipeline(s3, strip=None, **settings) -> Pipeline:
    """The image pipeline with an optional wrapper around the real stripper (to act mid-strip)."""
    from images.registry import strip as real_strip

    config = Config(**settings)
    run = (lambda data: strip(real_strip(data))) if strip else real_strip
    return Pipeline(IMAGE, config, s3, InMemory(run, config.max_image_bytes))


def the_record(event: dict) -> ObjectRecord:
    (delivery,) = deliveries(event)
    (record,) = delivery.records
    return record


def json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def logged(capsys) -> list[dict]:
    """The per-record log lines (not the invocation's embedded-metric-format line)."""
    return [line for line in json_lines(capsys) if "_aws" not in line]




def object_leaks(s3, bucket: str, key: str, tmp_path: Path, suffix: str = ".bin", **pin) -> dict:
    """What the leak judge finds in the object `key` (its version, with VersionId=...)."""
    path = tmp_path / f"judged{suffix}"
    path.write_bytes(body(s3, bucket, key, **pin))
    return leaks_in_file(str(path))


def lose_first_response(client, operation: str) -> list[int]:
    """Make `client` lose S3's first successful answer to `operation`: S3 applied it, the answer never
    arrived, botocore sends it again. Returns the list that records the attempt that was lost."""
    lost: list[int] = []

    def lose(response, attempts, **_):
        if response and response[0].status_code == 200 and not lost:
            lost.append(attempts)
            return 0  # retry at once
        return None

    client.meta.events.register_first(f"needs-retry.s3.{operation}", lose)
    return lost
