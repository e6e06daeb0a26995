"""ECR promotion by digest (deploy/promote.py) and the ECR calls of `make push` (deploy/registry.py).

ECR itself cannot run here: these tests use moto's in-process ECR emulator (`mock_aws`), which
stores manifests, tags and media types and answers batch_get_image / put_image like ECR.
"""
from __future__ import annotations

import hashlib
import json

import boto3
import pytest
from moto import mock_aws

from deploy.promote import Promoted, PromotionError, main, promote
from deploy.registry import digest_uri, ensure_repository, login_password, registry_uri
from deploy.registry import main as registry_main

REPO = "mediascrub-image"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _manifest(seed: str) -> str:
    """A single-platform OCI image manifest, as `docker buildx build --provenance=false` pushes it."""
    def blob(kind: str) -> dict:
        digest = "sha256:" + hashlib.sha256(f"{seed}-{kind}".encode()).hexdigest()
        return {"mediaType": f"application/vnd.oci.image.{kind}", "digest": digest, "size": 1234}
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": blob("config.v1+json"),
                       "layers": [blob("layer.v1.tar+gzip"), blob(f"layer.v1.tar+gzip.{seed}")]})


@pytest.fixture
def ecr(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("ecr", region_name="us-east-1")
        client.create_repository(repositoryName=REPO)
        yield client


def _push(ecr, tag: str, seed: str) -> str:
    pushed = ecr.put_image(repositoryName=REPO, imageTag=tag, imageManifest=_manifest(seed),
                           imageManifestMediaType=OCI_MANIFEST)
    return pushed["image"]["imageId"]["imageDigest"]


def _image(ecr, tag: str) -> dict:
    return ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": tag}])["images"][0]


def test_promote_by_tag_puts_the_same_manifest_under_the_new_tag(ecr):
    digest = _push(ecr, "3f2c1ab-arm64", "build-1")
    _push(ecr, "other", "build-2")

    done = promote(ecr, REPO, "prod-arm64", from_tag="3f2c1ab-arm64")

    assert done == Promoted(REPO, "prod-arm64", digest)
    promoted, source = _image(ecr, "prod-arm64"), _image(ecr, "3f2c1ab-arm64")
    assert promoted["imageId"]["imageDigest"] == digest
    assert promoted["imageManifest"] == source["imageManifest"]
    assert promoted["imageManifestMediaType"] == OCI_MANIFEST


def test_promote_by_digest_moves_a_mutable_tag_to_that_digest(ecr):
    old = _push(ecr, "prod-arm64", "build-1")
    new = _push(ecr, "4a5b6c7-arm64", "build-2")
    assert old != new

    promote(ecr, REPO, "prod-arm64", from_digest=new)

    assert _image(ecr, "prod-arm64")["imageId"]["imageDigest"] == new


def test_promoting_twice_is_a_no_op(ecr):
    digest = _push(ecr, "3f2c1ab-arm64", "build-1")
    first = promote(ecr, REPO, "prod-arm64", from_tag="3f2c1ab-arm64")
    again = promote(ecr, REPO, "prod-arm64", from_tag="3f2c1ab-arm64")
    assert first == again == Promoted(REPO, "prod-arm64", digest)


def test_missing_source_is_a_clear_error(ecr):
    with pytest.raises(PromotionError, match="no-such-tag"):
        promote(ecr, REPO, "prod-arm64", from_tag="no-such-tag")
    assert ecr.list_images(repositoryName=REPO)["imageIds"] == []


def test_an_immutable_tag_on_another_image_is_not_moved(ecr):
    ecr.put_image_tag_mutability(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    held = _push(ecr, "prod-arm64", "build-1")
    _push(ecr, "4a5b6c7-arm64", "build-2")

    with pytest.raises(PromotionError, match="prod-arm64"):
        promote(ecr, REPO, "prod-arm64", from_tag="4a5b6c7-arm64")
    assert _image(ecr, "prod-arm64")["imageId"]["imageDigest"] == held


def test_exactly_one_source_is_required(ecr):
    with pytest.raises(ValueError):
        promote(ecr, REPO, "prod", from_tag="a", from_digest="sha256:00")
    with pytest.raises(ValueError):
        promote(ecr, REPO, "prod")


def test_cli_prints_the_digest_and_fails_with_one_line(ecr, capsys):
    digest = _push(ecr, "3f2c1ab-arm64", "build-1")

    assert main(["--repository", REPO, "--from-tag", "3f2c1ab-arm64", "--to-tag", "prod-arm64",
                 "--region", "us-east-1"]) == 0
    assert capsys.readouterr().out.strip() == f"{REPO}:prod-arm64 -> {digest}"

    assert main(["--repository", "no-such-repo", "--from-tag", "x", "--to-tag", "y",
                 "--region", "us-east-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("promote: ") and len(err.strip().splitlines()) == 1


def test_registry_helpers_for_make_push(ecr):
    """`make push` logs in, creates the repositories and prints REPOSITORY@DIGEST with these."""
    assert registry_uri(ecr).endswith(".dkr.ecr.us-east-1.amazonaws.com")
    assert not registry_uri(ecr).startswith("https://")
    assert login_password(ecr) and ":" not in login_password(ecr)

    uri = ensure_repository(ecr, "mediascrub-video")
    assert ensure_repository(ecr, "mediascrub-video") == uri  # the second call finds it
    assert ecr.describe_repositories(repositoryNames=["mediascrub-video"])["repositories"][0][
        "imageScanningConfiguration"] == {"scanOnPush": True}

    digest = _push(ecr, "3f2c1ab-arm64", "build-1")
    assert digest_uri(ecr, REPO, "3f2c1ab-arm64") == f"{ensure_repository(ecr, REPO)}@{digest}"


def test_registry_cli_fails_with_one_line(ecr, capsys):
    assert registry_main(["--region", "us-east-1", "digest", "no-such-repo", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("registry: ") and len(err.strip().splitlines()) == 1
