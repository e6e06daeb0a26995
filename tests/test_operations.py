"""Operations: every bad setting gives the one-line error, a full TMP_DIR is the environment's failure,
a killed run's staging left-overs are removed, the invocation's remaining time is respected, and the
headers S3 website redirects and Object Lock depend on survive the rewrite (local S3 server)."""
from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devtools.s3events import batch_event, batch_task, s3_event, s3_record, sqs_event, uploaded
from devtools.samples import jpeg_photo
from images import handler as image_handler
from pipelinekit import handler, image_pipeline, logged
from shared.config import Config
from shared.errors import InvalidConfig, MalformedInput
from shared.pipeline import InvocationFailed, Pipeline
from shared.routing import VIDEO
from shared.staging import OnDisk
from shared.timebudget import current_deadline
from video import handler as video_handler
from video.strip import strip_file

DIRTY = jpeg_photo((96, 64))




@pytest.mark.parametrize("name, value", [
    ("MAX_IMAGE_MB", "nan"), ("MAX_IMAGE_MB", "inf"), ("MAX_IMAGE_MB", "-1"), ("MAX_IMAGE_MB", "ten"),
    ("MULTIPART_PART_MB", "nan"), ("MULTIPART_PART_MB", "4"), ("MULTIPART_PART_MB", "9000"),
    ("AWS_MAX_ATTEMPTS", "abc"), ("AWS_MAX_ATTEMPTS", "0"), ("AWS_MAX_ATTEMPTS", "2.5"), ("AWS_MAX_ATTEMPTS", "-3"),
    ("TIME_RESERVE_S", "nan"), ("TMP_DIR", "/nonexistent/staging"), ("GUARD", "tags"),
    ("DELETE_ORIGINAL_VERSION", "maybe"),
])
def test_every_bad_setting_fails_the_cold_start_with_one_line(monkeypatch, name, value):
    scrub = handler(image_handler, monkeypatch, **{name: value})
    with pytest.raises(InvalidConfig) as refused:
        scrub({"Records": []})
    message = str(refused.value)
    assert message.startswith("invalid configuration: ") and name in message and "\n" not in message


@pytest.mark.slow
def test_a_full_tmp_dir_is_an_environment_failure(s3, bucket, tmp_path, gps_video, capsys):
    head = uploaded(s3, bucket, "full.mp4", gps_video)

    def into_a_full_disk(src: Path, dst: Path):
        dst.symlink_to("/dev/full")  # every write answers ENOSPC, as on a full ephemeral storage
        return strip_file(src, dst)

    pipeline = Pipeline(VIDEO, Config(), s3, OnDisk(into_a_full_disk, str(tmp_path)))
    with pytest.raises(InvocationFailed):
        pipeline.handle(s3_event(s3_record(bucket, "full.mp4", head)))
    (line,) = logged(capsys)
    assert line["reason"].startswith("environment failure: no space left in ")
    assert s3.get_object(Bucket=bucket, Key="full.mp4")["Body"].read() == gps_video
    assert list(tmp_path.iterdir()) == []


def test_staging_left_overs_of_a_killed_run_are_removed_at_start(monkeypatch, tmp_path, s3_env):
    killed = [tmp_path / f"mediascrub-staging-{pid}-k1ll3d" for pid in (os.getpid(), _ended_pid())]
    for leftover in killed:
        leftover.mkdir()
        (leftover / "original.mp4").write_bytes(b"\0" * 1024)
    running = tmp_path / f"mediascrub-staging-{os.getppid()}-busy"  # another live process's: left alone
    running.mkdir()
    unrelated = tmp_path / "mediascrub-demo-1234"
    unrelated.mkdir()
    assert handler(video_handler, monkeypatch, TMP_DIR=str(tmp_path))({"Records": []}) == {"outcomes": {}}
    assert sorted(tmp_path.iterdir()) == sorted([running, unrelated])


def _ended_pid() -> int:
    """The pid of a process that has ended (and was reaped): it names no running process now."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class LambdaContext:
    """Lambda's context as the runtime passes it; the remaining times are what a clock would report."""

    aws_request_id = "8f5f1c5e-0000-4000-8000-000000000001"

    def __init__(self, *remaining_ms: int) -> None:
        self.remaining = iter(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return next(self.remaining)


@pytest.mark.slow
def test_records_that_cannot_finish_in_time_are_reported_before_the_timeout(s3, bucket, monkeypatch, capsys):
    heads = {key: uploaded(s3, bucket, key, DIRTY) for key in ("a.jpg", "b.jpg", "c.jpg")}
    batch = sqs_event(*(s3_event(s3_record(bucket, key, head)) for key, head in heads.items()))
    scrub = handler(image_handler, monkeypatch, TIME_RESERVE_S="10")
    result = scrub(batch, LambdaContext(60_000, 9_000, 8_000))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert s3.head_object(Bucket=bucket, Key="a.jpg")["ETag"] != heads["a.jpg"]["ETag"]
    for key in ("b.jpg", "c.jpg"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == DIRTY  # not started, retried from the queue
    lines = logged(capsys)
    assert [line["outcome"] for line in lines] == ["stripped", "failed", "failed"]
    assert {line["aws_request_id"] for line in lines} == {LambdaContext.aws_request_id}
    assert lines[1]["reason"].startswith("not started: 9.0 s left in the invocation")


@pytest.mark.slow
def test_website_redirect_is_carried_over(moto_s3):
    """On moto: SeaweedFS does not store x-amz-website-redirect-location."""
    s3, bucket = moto_s3
    head = uploaded(s3, bucket, "r.jpg", DIRTY, WebsiteRedirectLocation="/elsewhere.html")
    assert image_pipeline(s3).handle(s3_event(s3_record(bucket, "r.jpg", head))) == {"outcomes": {"stripped": 1}}
    assert s3.head_object(Bucket=bucket, Key="r.jpg")["WebsiteRedirectLocation"] == "/elsewhere.html"


@pytest.mark.slow
def test_object_lock_retention_and_legal_hold_are_carried_over(s3):
    bucket = f"locked-{os.getpid()}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    head = uploaded(s3, bucket, "l.jpg", DIRTY, ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
                    ObjectLockLegalHoldStatus="ON")
    assert image_pipeline(s3).handle(s3_event(s3_record(bucket, "l.jpg", head))) == {"outcomes": {"stripped": 1}}
    after = s3.head_object(Bucket=bucket, Key="l.jpg")
    assert after["VersionId"] != head["VersionId"]
    assert (after["ObjectLockMode"], after["ObjectLockRetainUntilDate"], after["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")


def test_a_batch_operations_task_is_given_the_invocations_deadline(s3, bucket, monkeypatch, tmp_path):
    """Batch Operations invocations go through the same time budget as events."""
    deadlines = []

    def stripper(src, dst, options=None, deadline=None):
        deadlines.append(deadline)
        raise MalformedInput("stopped here by the test")

    monkeypatch.setattr("video.strip.strip_file", stripper)
    uploaded(s3, bucket, "clip.mp4", b"\0" * 64)
    scrub = handler(video_handler, monkeypatch, TMP_DIR=str(tmp_path))
    started = time.monotonic()
    response = scrub(batch_event(batch_task(bucket, "clip.mp4")), LambdaContext(300_000))
    assert [r["resultCode"] for r in response["results"]] == ["PermanentFailure"]
    (deadline,) = deadlines
    assert started + 300 - 5 - 1 < deadline <= time.monotonic() + 300 - 5


def test_the_video_stripper_is_given_the_invocations_deadline(s3, bucket, monkeypatch, tmp_path):
    """ffmpeg runs are capped by the time Lambda has left (less a margin to report), never by their own
    timeout alone: four runs of up to FFMPEG_TIMEOUT each could outlive the function."""
    deadlines = []

    def stripper(src, dst, options=None, deadline=None):
        deadlines.append(deadline)
        raise MalformedInput("stopped here by the test")

    monkeypatch.setattr("video.strip.strip_file", stripper)
    head = uploaded(s3, bucket, "clip.mp4", b"\0" * 64)
    scrub = handler(video_handler, monkeypatch, TMP_DIR=str(tmp_path))
    started = time.monotonic()
    with pytest.raises(InvocationFailed, match="stopped here by the test"):
        scrub(s3_event(s3_record(bucket, "clip.mp4", head)), LambdaContext(300_000))
    (deadline,) = deadlines
    assert started + 300 - 5 - 1 < deadline <= time.monotonic() + 300 - 5
    assert current_deadline() is None  # outside a record: no deadline (the CLI, a backfill thread)
