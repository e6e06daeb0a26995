"""Both handlers driven by S3 Batch Operations invocations (schema 1.0 and 2.0) against the local S3 server
(SeaweedFS, started by conftest.py), with the real strippers, and exiftool (devtools/judge.py) as the judge.

Throttling and timeouts are injected through botocore's `before-send` hook on the handler's own client,
for the one object named, with botocore's retries set to a single attempt (AWS_MAX_ATTEMPTS=1)."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from devtools import samples
from devtools.judge import leaks_in_file
from devtools.s3events import batch_event, batch_task, uploaded
from images import handler as image_handler
from pipelinekit import tags
from shared import batchops
from shared.pipeline import LazyHandler
from video import handler as video_handler

pytestmark = pytest.mark.slow

DIRTY_JPEG = samples.jpeg_photo((160, 120))
KEYS = ["my holiday photo.jpg", "1+1=2.JPG", "café/Ünïcødé 東京.jpeg", "100% real.jpg", "a%2Bb+c.jpg"]
SECRETS = ("ACME", "Spy Cam", "SN-123456", "MAKERNOTE", "48.85", "2024:05:01")


def cold_handler(module, monkeypatch: pytest.MonkeyPatch, **env: str) -> LazyHandler:
    for name in ("GUARD", "SOURCE_PREFIX", "DEST_PREFIX", "DEST_BUCKET", "DELETE_ORIGINAL_VERSION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return LazyHandler(module.build)


def leaks_in_object(s3, bucket: str, key: str, tmp_path: Path) -> dict:
    path = tmp_path / uuid.uuid4().hex
    path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return leaks_in_file(str(path))


def outcomes(response: dict) -> list[tuple[str, str]]:
    return [(r["resultCode"], r["resultString"].split(":")[0]) for r in response["results"]]


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_awkward_keys_in_both_schemas(s3, schema, versioned, monkeypatch, tmp_path, request):
    bucket = request.getfixturevalue("versioned_bucket" if versioned else "bucket")
    heads = {key: uploaded(s3, bucket, key, DIRTY_JPEG) for key in KEYS}
    assert leaks_in_object(s3, bucket, KEYS[0], tmp_path)
    encode = quote if schema == "2.0" else quote_plus  # a space as %20 or, form-style, as +
    tasks = [batch_task(bucket, key, heads[key].get("VersionId"), schema, encode) for key in KEYS]
    event = batch_event(*tasks, schema=schema, user_arguments={"note": "ignored"})

    response = cold_handler(image_handler, monkeypatch)(event)

    assert response["invocationSchemaVersion"] == schema and response["invocationId"] == event["invocationId"]
    assert response["treatMissingKeysAs"] == "PermanentFailure"
    assert [r["taskId"] for r in response["results"]] == [t["taskId"] for t in tasks]
    assert outcomes(response) == [("Succeeded", "stripped")] * len(KEYS)
    for key in KEYS:
        assert leaks_in_object(s3, bucket, key, tmp_path) == {}
        assert tags(s3, bucket, key) == {"ExifStripped": "True"}


def respond(status: int, code: str) -> AWSResponse:
    class Body:
        def stream(self, **_):
            yield f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()

    return AWSResponse("http://injected", status, {"Content-Type": "application/xml"}, Body())


def test_every_result_code_for_its_cause_in_one_mixed_batch(s3, bucket, monkeypatch):
    """Each failure is reported for its own task and never stops the tasks after it."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    clean = image_handler.build().stager.strip(DIRTY_JPEG).data
    objects = {"throttled.jpg": DIRTY_JPEG, "slow.jpg": DIRTY_JPEG, "corrupt.jpg": DIRTY_JPEG[:300],
               "notes.jpg": b"just some text, not an image", "movie.mp4": b"\x00\x00\x00\x18ftypisom",
               "good.jpg": DIRTY_JPEG, "clean.jpg": clean, "done.jpg": DIRTY_JPEG}
    for key, data in objects.items():
        marked = {"Tagging": "ExifStripped=True", "Metadata": {"exif-stripped-from": "v1"}}  # as the pipeline marks
        uploaded(s3, bucket, key, data, **(marked if key == "done.jpg" else {}))
    tasks = [batch_task(bucket, key) for key in [*objects, "gone.jpg"]]
    tasks.insert(2, {"taskId": "broken", "s3Bucket": bucket})
    handler = cold_handler(image_handler, monkeypatch)
    handler.pipeline = image_handler.build()

    def faults(request, **_):
        if "throttled.jpg" in request.url:
            return respond(503, "SlowDown")
        if "slow.jpg" in request.url:
            raise ReadTimeoutError(endpoint_url=request.url)
        return None

    handler.pipeline.client.meta.events.register("before-send.s3.HeadObject", faults)
    response = handler(batch_event(*tasks))

    assert outcomes(response) == [
        ("TemporaryFailure", "S3 SlowDown"), ("TemporaryFailure", "ReadTimeoutError"),
        ("PermanentFailure", "unreadable task"), ("PermanentFailure", "malformed input"),
        ("PermanentFailure", "unsupported format"), ("PermanentFailure", "unsupported"),
        ("Succeeded", "stripped"), ("Succeeded", "already-clean"), ("Succeeded", "skipped-guard"),
        ("Succeeded", "superseded")]
    assert all(secret not in r["resultString"] for r in response["results"] for secret in SECRETS)
    assert s3.get_object(Bucket=bucket, Key="corrupt.jpg")["Body"].read() == DIRTY_JPEG[:300]
    assert tags(s3, bucket, "good.jpg") == {"ExifStripped": "True"}


def test_a_version_no_longer_current_is_superseded_not_overwritten(s3, versioned_bucket, monkeypatch):
    old = uploaded(s3, versioned_bucket, "a.jpg", DIRTY_JPEG)
    newer = samples.jpeg_photo((200, 100))
    new = uploaded(s3, versioned_bucket, "a.jpg", newer)
    response = cold_handler(image_handler, monkeypatch)(
        batch_event(batch_task(versioned_bucket, "a.jpg", old["VersionId"])))
    assert outcomes(response) == [("Succeeded", "superseded")]
    current = s3.head_object(Bucket=versioned_bucket, Key="a.jpg")
    assert current["VersionId"] == new["VersionId"] and current["ETag"] == new["ETag"]


def test_video_handler_and_keys_without_a_suffix_routed_by_content(s3, bucket, monkeypatch, tmp_path):
    clip = tmp_path / "clip.mp4"
    samples.video_clip(str(clip), "mp4", seconds=0.5)
    uploaded(s3, bucket, "clips/holiday clip.mp4", clip.read_bytes())
    uploaded(s3, bucket, "clips/VID_0001", clip.read_bytes())
    uploaded(s3, bucket, "photos/IMG_0001", DIRTY_JPEG)
    uploaded(s3, bucket, "photos/README", b"plain text without a suffix")
    assert leaks_in_object(s3, bucket, "clips/VID_0001", tmp_path)

    video = cold_handler(video_handler, monkeypatch)(batch_event(
        batch_task(bucket, "clips/holiday clip.mp4", schema="1.0"), batch_task(bucket, "clips/VID_0001", schema="1.0"),
        batch_task(bucket, "photos/IMG_0001", schema="1.0"), schema="1.0"))
    image = cold_handler(image_handler, monkeypatch)(batch_event(
        batch_task(bucket, "photos/IMG_0001"), batch_task(bucket, "photos/README")))

    assert outcomes(video) == [("Succeeded", "stripped")] * 2 + [("PermanentFailure", "unsupported")]
    assert outcomes(image) == [("Succeeded", "stripped"), ("PermanentFailure", "unsupported")]
    for key in ("clips/holiday clip.mp4", "clips/VID_0001", "photos/IMG_0001"):
        assert leaks_in_object(s3, bucket, key, tmp_path) == {}
    assert s3.get_object(Bucket=bucket, Key="photos/README")["Body"].read() == b"plain text without a suffix"


def test_unreadable_invocations_answer_every_task(capsys):
    event = {"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {"id": "j"},
             "tasks": ["not an object", {"taskId": "t", "s3Key": "k", "s3BucketArn": "not-an-arn"},
                       {"taskId": "v", "s3Key": "k", "s3Bucket": "b", "s3VersionId": 7}]}
    response = batchops.respond(event, lambda record: pytest.fail("nothing to process"))
    assert [r["resultCode"] for r in response["results"]] == ["PermanentFailure"] * 3
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["level"], line["task_id"]) for line in logged] == [("ERROR", ""), ("ERROR", "t"), ("ERROR", "v")]
    assert batchops.is_invocation(event) and not batchops.is_invocation({"Records": []})
    assert batchops.respond({"invocationSchemaVersion": "2.0", "invocationId": "x", "tasks": None},
                            pytest.fail)["results"] == []


def test_the_runtime_client_returns_the_response_as_the_container_does(s3, bucket, s3_env):
    """The image handler under `python -m awslambdaric` (the containers' entry point), run by AWS's Runtime
    Interface Emulator, answers a Batch Operations invocation with its response shape as the result."""
    from devtools.emulator import on_host

    uploaded(s3, bucket, "café photo.jpg", DIRTY_JPEG)
    event = batch_event(batch_task(bucket, "café photo.jpg", schema="1.0"), schema="1.0")
    with on_host("images.handler.lambda_handler", {**s3_env, "GUARD": "tag"}) as emulator:
        outcome = emulator.invoke(event, timeout=120)
    assert not outcome.failed, emulator.logs
    assert outcome.answer == {"invocationSchemaVersion": "1.0", "treatMissingKeysAs": "PermanentFailure",
                            "invocationId": event["invocationId"], "results": [
                                {"taskId": event["tasks"][0]["taskId"], "resultCode": "Succeeded",
                                 "resultString": "stripped"}]}


@pytest.mark.parametrize("key, function", [
    ("x/y.JPG", "image"), ("clip.Mov", "video"), ("camera/IMG_0001", "image"), ("a.b/.hidden", "image"),
    ("notes.txt", None), ("x.jpg.", None)])
def test_keys_without_a_suffix_go_to_the_catch_all_function(key, function):
    """It decides by content (tests/test_routing_content.py); a suffix no function handles is left alone."""
    from shared.routing import function_for

    assert function_for(key) == function
