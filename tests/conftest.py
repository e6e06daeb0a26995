"""Session fixtures for the S3 pipeline tests: one real S3 server (SeaweedFS `weed mini`) per session,
a boto3 client for it, a fresh bucket per test; and moto's server mode for the features SeaweedFS lacks
(SSE-KMS, S3's 10-tag limit). Clients find the servers through boto3's own AWS_ENDPOINT_URL_S3."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from devtools.s3server import S3Server
from pipelinekit import new_bucket
from shared.s3io import make_client


@pytest.fixture(scope="session")
def s3_server():
    """Its data lives in a directory of its own, not under pytest's base temp: pytest removes older base
    temps when another session starts, which would pull the disk from under a running server."""
    with tempfile.TemporaryDirectory(prefix="mediascrub-s3-") as data, S3Server(Path(data)) as server:
        yield server


@pytest.fixture(scope="session")
def s3_env(s3_server: S3Server):
    """The session's environment points boto3 (and so both handlers) at the SeaweedFS server."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in s3_server.client_env().items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        yield s3_server.client_env()


@pytest.fixture(scope="session")
def s3(s3_env):
    return make_client()


@pytest.fixture
def bucket(s3) -> str:
    return new_bucket(s3)


@pytest.fixture
def versioned_bucket(s3) -> str:
    return new_bucket(s3, versioned=True)


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server mode (an AWS emulator) for what SeaweedFS does not implement; say so in each test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_s3(moto_endpoint, monkeypatch: pytest.MonkeyPatch):
    """(client, fresh bucket) on moto; the environment points boto3 at moto for this test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = make_client()
    return client, new_bucket(client)


@pytest.fixture(scope="session")
def dirty_video(tmp_path_factory) -> bytes:
    """A ~7 MB MP4 (two 5 MiB parts) with a GPS location, made by ffmpeg."""
    path = tmp_path_factory.mktemp("video") / "gps.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", "5", "-c:v", "mpeg4", "-q:v", "1",
                    "-c:a", "aac", "-metadata", "location=+48.8584+002.2945/", "-metadata", "make=TestCam",
                    str(path)], check=True)
    data = path.read_bytes()
    assert len(data) > 5 * 1024 * 1024
    return data



@pytest.fixture(scope="session")
def gps_video(tmp_path_factory) -> bytes:
    """A one-second MP4 with location, creation time, device tags, a timecode track and a rotation."""
    from devtools.samples import video_clip

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    video_clip(str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def sam_region():
    """SAM's translator needs a region for the ARNs it builds; nothing is contacted."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield


@pytest.fixture(scope="module")
def template(sam_region) -> dict:
    """template.yaml as cfn-lint reads it."""
    from samtemplate import parsed

    return parsed()


@pytest.fixture(scope="session")
def engine() -> str:
    """The container engine (docker or podman) that answers; skips (or, under MEDIASCRUB_REQUIRE_ENGINE=1,
    fails) without one."""
    from containers import engine_or_skip

    return engine_or_skip()
