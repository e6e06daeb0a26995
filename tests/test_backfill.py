"""The local backfill (`python -m shared.backfill`) against the local S3 server (SeaweedFS, conftest.py):
a bucket filled with a few hundred generated media objects of every routed image format and two video
containers, some without a suffix, plus non-media; exiftool (devtools/judge.py) judges the result."""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from devtools import samples
from devtools.judge import leaks_in_tags
from shared.backfill import Backfill, pipelines
from shared.routing import has_suffix

pytestmark = pytest.mark.slow

COPIES = 198  # of each image sample: 5 formats x 198 + 8 clips + 4 without a suffix = 1,002 media objects
NON_MEDIA = {"docs/readme.txt": b"hello", "data/blob": b"no suffix, not media", "docs/photo.jpg.json": b"{}",
             "raw/IMG_0001.NEF": b"II*\x00 a raw file the functions do not handle", "empty/blob": b""}
# No suffix: the catch-all function reads their first bytes, finds no media and leaves them alone.
UNROUTED = [key for key in NON_MEDIA if not has_suffix(key)]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    """Keys (awkward ones among them) -> dirty bytes, for every routed format."""
    images = {".jpg": samples.jpeg_photo((160, 120)), ".png": samples.png_photo((120, 90)),
              ".webp": samples.webp_photo((120, 90)), ".gif": samples.gif_animation(3, (60, 45)),
              ".heic": samples.heic_photo((128, 96))}
    clips = {}
    for container in ("mp4", "mov"):
        path = tmp_path_factory.mktemp("clips") / f"clip.{container}"
        samples.video_clip(str(path), container, seconds=0.4)
        clips[f".{container}"] = path.read_bytes()
    objects = {f"uploads/{i:03d} café+1 %{suffix.upper() if i % 2 else suffix}": data
               for suffix, data in images.items() for i in range(COPIES)}
    objects |= {f"videos/clip {i}{suffix}": data for suffix, data in clips.items() for i in range(4)}
    objects |= {f"camera/IMG_{i}": images[".jpg"] for i in range(2)}
    objects |= {f"camera/VID_{i}": clips[".mp4"] for i in range(2)}
    return objects


def fill(s3, bucket: str, media: dict[str, bytes]) -> None:
    for key, data in {**media, **NON_MEDIA}.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)


def snapshot(s3, bucket: str) -> dict[str, tuple[str, str | None]]:
    """key -> (ETag, VersionId) of every current object."""
    listed = [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page["Contents"]]
    return {o["Key"]: (o["ETag"], s3.head_object(Bucket=bucket, Key=o["Key"]).get("VersionId")) for o in listed}


def leaking(s3, bucket: str, keys: list[str], directory: Path) -> dict[str, dict]:
    """key -> the tags exiftool still finds that give something away (one exiftool run for all)."""
    directory.mkdir()
    names = {}
    for i, key in enumerate(keys):
        (directory / str(i)).write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        names[str(directory / str(i))] = key
    done = subprocess.run(["exiftool", "-j", "-G1", "-a", "-u", "-ee3", *names],
                          capture_output=True, text=True, check=False, timeout=300)
    found = {names[tags.pop("SourceFile")]: leaks_in_tags(tags) for tags in json.loads(done.stdout)}
    assert set(found) == set(keys)
    return {key: leaks for key, leaks in found.items() if leaks}


def rows(report: Path) -> list[list[str]]:
    with report.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_backfill_strips_every_media_object_once_and_a_second_run_changes_nothing(
        s3, versioned_bucket, media, tmp_path):
    bucket = versioned_bucket
    fill(s3, bucket, media)
    assert len(leaking(s3, bucket, list(media), tmp_path / "before")) == len(media)
    before = snapshot(s3, bucket)
    report = tmp_path / "report.csv"

    first = Backfill(s3, pipelines(), report, concurrency=2).run(bucket, "")

    assert first.outcomes == {"stripped": len(media), "not-media": len(UNROUTED)}
    assert first.total == len(media) + len(UNROUTED)
    assert leaking(s3, bucket, list(media), tmp_path / "after") == {}
    after = snapshot(s3, bucket)
    assert {key: after[key] for key in NON_MEDIA} == {key: before[key] for key in NON_MEDIA}
    for key in NON_MEDIA:
        assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == []
    written = {unquote(row[1]): row for row in rows(report)}
    assert sorted(written) == sorted([*media, *UNROUTED])
    assert {tuple(written[key][:1] + written[key][3:]) for key in media} == {
        (bucket, "succeeded", "200", "", "stripped")}
    assert all(written[key][2] == before[key][1] for key in media)  # the version that was read
    assert all(written[key][3:6] == ["failed", "200", "PermanentFailure"] for key in UNROUTED)
    assert not report.with_name("report.csv.checkpoint.json").exists()

    second = Backfill(s3, pipelines(), report, concurrency=2).run(bucket, "")

    assert second.outcomes == {"skipped-guard": len(media), "not-media": len(UNROUTED)}
    assert snapshot(s3, bucket) == after
    assert {unquote(row[1]): row[6] for row in rows(report) if row[3] == "succeeded"} == dict.fromkeys(
        media, "skipped-guard")


def backfill_command(bucket: str, report: Path) -> list[str]:
    return [sys.executable, "-m", "shared.backfill", "--bucket", bucket, "--concurrency", "2", "--report", str(report)]


def test_an_interrupted_backfill_resumes_without_reprocessing(s3, bucket, media, tmp_path):
    fill(s3, bucket, media)
    report, log = tmp_path / "report.csv", tmp_path / "log.jsonl"
    with log.open("w") as out:
        run = subprocess.Popen(backfill_command(bucket, report), stdout=out, stderr=subprocess.PIPE, text=True)
        while run.poll() is None and (not report.exists() or len(rows(report)) < 40):
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr and report.with_name("report.csv.checkpoint.json").exists()
    interrupted = len(rows(report))
    assert 40 <= interrupted < len(media)

    with log.open("a") as out:
        resumed = subprocess.run(backfill_command(bucket, report), stdout=out, stderr=subprocess.PIPE, text=True,
                                 check=False, timeout=300)
    failures = [line for line in log.read_text().splitlines() if '"failed"' in line]
    assert resumed.returncode == 0 and not failures, resumed.stderr + "\n".join(failures)
    assert "resuming after" in resumed.stderr and "ETA" in resumed.stderr

    logged = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    processed = [line["key"] for line in logged if line["outcome"] != "handed-over"]  # handed on to the video one
    assert sorted(processed) == sorted([*media, *UNROUTED])  # every object exactly once across both runs
    assert sorted(unquote(row[1]) for row in rows(report)) == sorted([*media, *UNROUTED])
    assert {row[6] for row in rows(report) if unquote(row[1]) in media} == {"stripped"}
    assert leaking(s3, bucket, list(media), tmp_path / "after") == {}


def test_the_demo_backfills_what_was_in_the_bucket_before(tmp_path):
    from devtools import demo

    photo, clip = tmp_path / "holiday photo.jpg", tmp_path / "clip.mp4"
    photo.write_bytes(samples.jpeg_photo((160, 120)))
    samples.video_clip(str(clip), "mp4", seconds=0.4)
    with demo.s3_target(None, tmp_path) as (client, bucket, _, env):
        expected = demo.prefill(client, bucket, [photo, clip], {"image": 5, "video": 1})
        status, outcomes = demo.backfill(bucket, {**env, "GUARD": "tag"}, tmp_path)
        notes = client.get_object(Bucket=bucket, Key=f"{demo.BACKFILL_PREFIX}notes.txt")["Body"].read()
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=demo.BACKFILL_PREFIX)["Contents"]]
        media = [key for key in keys if not key.endswith("notes.txt")]
        found = leaking(client, bucket, media, tmp_path / "after")
    assert expected == 7 == len(media) and "before-mediascrub/camera/IMG_0001" in media
    assert status == 0 and outcomes == {"stripped": expected} and demo.backfill_done(expected, status, outcomes)
    assert found == {} and notes == b"not media: left alone"


def test_a_checkpoint_of_another_backfill_is_refused_in_one_line(s3, bucket, tmp_path):
    report = tmp_path / "report.csv"
    report.write_text("")
    report.with_name("report.csv.checkpoint.json").write_text(json.dumps({"bucket": "other", "prefix": "p/"}))
    done = subprocess.run(backfill_command(bucket, report), capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    expected = f"backfill: error: {report}.checkpoint.json belongs to a backfill of s3://other/p/; use another"
    assert done.stderr.strip().splitlines() == [f"{expected} --report or remove it"]


def test_a_bucket_that_does_not_exist_is_one_line(s3, tmp_path):
    done = subprocess.run(backfill_command("no-such-bucket-here", tmp_path / "r.csv"), capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("backfill: ") and "NoSuchBucket" in line
