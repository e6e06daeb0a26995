"""S3 faults and the features SeaweedFS lacks.

Faults: a dedicated SeaweedFS server (so the session one is never disturbed) is stopped mid-upload or
frozen mid-read; transient errors (503 SlowDown, a dropped connection, a 409 conflict) are injected
through botocore's `before-send` hook, which stands in for the network for that one request only:
the retry that follows goes to the real server.

AWS features SeaweedFS does not implement (SSE-KMS; S3's 10-tag limit) are tested against moto's
server mode, an AWS emulator that has them; the conditional-write race is repeated there too.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

from devtools.s3events import s3_event, s3_record, uploaded
from devtools.s3server import S3Server
from pipelinekit import DIRTY_JPEG, body, gps_tags, image_pipeline, new_bucket, tags, the_record
from shared.config import Config, MiB
from shared.pipeline import Pipeline
from shared.routing import IMAGE, VIDEO
from shared.s3io import make_client
from shared.staging import InMemory, OnDisk

pytestmark = pytest.mark.slow


class _CannedBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


def canned(status: int, code: str) -> AWSResponse:
    xml = f"<Error><Code>{code}</Code><Message>injected by the test</Message></Error>".encode()
    return AWSResponse("http://injected", status, {"Content-Type": "application/xml"}, _CannedBody(xml))


@contextmanager
def before_send(client, operation: str, hook):
    """Run `hook(request)` before each `operation` request is sent (a returned response replaces it)."""
    event = f"before-send.s3.{operation}"
    client.meta.events.register(event, hook)
    try:
        yield
    finally:
        client.meta.events.unregister(event, hook)


def fail_first(calls: list, failure):
    """A hook making the first request fail with `failure` (a response or an exception); later ones pass."""
    def hook(request, **_):
        calls.append(request.url)
        if len(calls) > 1:
            return None
        if isinstance(failure, Exception):
            raise failure
        return failure

    return hook


@pytest.fixture(scope="module")
def fault_server():
    with tempfile.TemporaryDirectory(prefix="mediascrub-s3-faults-") as data, S3Server(Path(data)) as server:
        yield server


@pytest.fixture
def fault_client(fault_server, monkeypatch):
    """A client with short timeouts and two attempts, so a dead server fails the record in seconds."""
    for name, value in fault_server.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    client = make_client(read_timeout=1, connect_timeout=1)
    return client, new_bucket(client)


def test_server_stopped_mid_upload_leaves_the_original(fault_server, fault_client, dirty_video, tmp_path):
    from video.strip import strip_file

    fault_client, faults = fault_client
    head = uploaded(fault_client, faults, "trip.mp4", dirty_video, Tagging="keep=me", ContentType="video/mp4")
    parts = []

    def stop_on_second_part(request, **_):
        parts.append(request.url)
        if len(parts) == 2:
            fault_server.stop()

    pipeline = Pipeline(VIDEO, Config(part_bytes=5 * MiB), fault_client, OnDisk(strip_file, str(tmp_path)))
    try:
        with before_send(fault_client, "UploadPart", stop_on_second_part):
            report = pipeline.process(the_record(s3_event(s3_record(faults, "trip.mp4", head))))
    finally:
        fault_server.start()
    assert report["outcome"] == "failed" and "could not be aborted" in report["reason"]
    after = fault_client.head_object(Bucket=faults, Key="trip.mp4")
    assert after["ETag"] == head["ETag"] and after["ContentType"] == "video/mp4"
    assert body(fault_client, faults, "trip.mp4") == dirty_video
    assert tags(fault_client, faults, "trip.mp4") == {"keep": "me"}
    # What was left unfinished is the upload the report names; nothing replaced the original.
    (pending,) = fault_client.list_multipart_uploads(Bucket=faults)["Uploads"]
    assert pending["UploadId"] in report["reason"]


def test_server_frozen_mid_read_fails_the_record_cleanly(fault_server, fault_client):
    fault_client, faults = fault_client
    head = uploaded(fault_client, faults, "frozen.jpg", DIRTY_JPEG)
    try:
        with before_send(fault_client, "GetObject", lambda **_: fault_server.pause()):
            report = image_pipeline(fault_client).process(
                the_record(s3_event(s3_record(faults, "frozen.jpg", head))))
    finally:
        fault_server.resume()
    assert report["outcome"] == "failed" and "timeout" in report["reason"].lower()
    assert body(fault_client, faults, "frozen.jpg") == DIRTY_JPEG


@pytest.mark.parametrize("operation, failure", [
    ("PutObject", canned(503, "SlowDown")),
    ("PutObject", canned(500, "InternalError")),
    ("PutObject", ConnectionClosedError(endpoint_url="http://injected")),
    ("PutObject", canned(409, "ConditionalRequestConflict")),
    ("GetObject", canned(503, "SlowDown")),
], ids=["slowdown", "500", "dropped-connection", "409-conflict", "slowdown-on-read"])
def test_transient_faults_are_retried(s3, bucket, operation, failure):
    head = uploaded(s3, bucket, "t.jpg", DIRTY_JPEG)
    calls = []
    with before_send(s3, operation, fail_first(calls, failure)):
        result = image_pipeline(s3).handle(s3_event(s3_record(bucket, "t.jpg", head)))
    assert result == {"outcomes": {"stripped": 1}} and len(calls) == 2
    assert gps_tags(body(s3, bucket, "t.jpg")) == []


def test_dropped_connection_mid_multipart_is_retried(s3, bucket, dirty_video, tmp_path):
    from video.strip import strip_file

    head = uploaded(s3, bucket, "drop.mp4", dirty_video)
    calls = []
    pipeline = Pipeline(VIDEO, Config(part_bytes=5 * MiB), s3, OnDisk(strip_file, str(tmp_path)))
    with before_send(s3, "UploadPart", fail_first(calls, ConnectionClosedError(endpoint_url="http://injected"))):
        assert pipeline.handle(s3_event(s3_record(bucket, "drop.mp4", head))) == {"outcomes": {"stripped": 1}}
    assert len(calls) == 3  # part 1 twice, part 2 once
    assert gps_tags(body(s3, bucket, "drop.mp4")) == []


# --- moto (AWS emulator): features SeaweedFS lacks -------------------------------------------------

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_sse_kms_key_is_preserved_on_moto(moto_s3):
    client, name = moto_s3  # SeaweedFS answers SSE-KMS uploads with InternalError
    head = uploaded(client, name, "k.jpg", DIRTY_JPEG, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
    assert image_pipeline(client).handle(s3_event(s3_record(name, "k.jpg", head))) == {"outcomes": {"stripped": 1}}
    after = client.head_object(Bucket=name, Key="k.jpg")
    assert (after["ServerSideEncryption"], after["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
    assert gps_tags(body(client, name, "k.jpg")) == []


def test_ten_tags_on_moto_fail_before_any_write(moto_s3):
    client, name = moto_s3  # SeaweedFS accepts an 11th tag; S3 (and moto) reject it
    head = uploaded(client, name, "full.jpg", DIRTY_JPEG, Tagging="&".join(f"t{i}=x" for i in range(10)))
    report = image_pipeline(client).process(the_record(s3_event(s3_record(name, "full.jpg", head))))
    assert report["outcome"] == "failed" and "no room" in report["reason"]
    assert client.head_object(Bucket=name, Key="full.jpg")["ETag"] == head["ETag"]


def test_race_on_moto_keeps_the_newer_object(moto_s3):
    client, name = moto_s3
    head = uploaded(client, name, "race.jpg", DIRTY_JPEG)
    newer = b"newer upload"

    def replace_meanwhile(data: bytes):
        from images.registry import strip

        client.put_object(Bucket=name, Key="race.jpg", Body=newer)
        return strip(data)

    pipeline = Pipeline(IMAGE, Config(), client, InMemory(replace_meanwhile, MiB))
    assert pipeline.handle(s3_event(s3_record(name, "race.jpg", head))) == {"outcomes": {"superseded": 1}}
    assert body(client, name, "race.jpg") == newer
