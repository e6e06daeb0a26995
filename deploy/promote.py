"""Promote an already-pushed image by digest: put the exact manifest under another tag, no rebuild.

    python -m deploy.promote --repository mediascrub-image --from-tag 3f2c1ab-arm64 --to-tag prod-arm64
    python -m deploy.promote --repository mediascrub-image --from-digest sha256:... --to-tag prod-arm64

Within one registry (account + region) ECR retags without moving any layer: `batch_get_image`
returns the manifest and its media type, `put_image` stores the same bytes under the new tag, so the
digest, and what Lambda runs, cannot change. The digest is printed; deploy with REPOSITORY@DIGEST.

Another repository, account or region needs the layers copied too: `python -m deploy.oci promote`
copies by digest with skopeo, without rebuilding or pulling a mutable tag (see docs/deploy.md).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError

# Every manifest type a Lambda image can have; asking for all keeps ECR from converting it.
MANIFEST_MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
]


class PromotionError(Exception):
    """The source image is missing, or the target tag holds another image and cannot be moved."""


@dataclass(frozen=True)
class Promoted:
    repository: str
    tag: str
    digest: str


def promote(ecr, repository: str, to_tag: str, *, from_tag: str | None = None,
            from_digest: str | None = None, registry_id: str | None = None) -> Promoted:
    """Tag the image named by from_tag or from_digest as to_tag in the same repository."""
    if (from_tag is None) == (from_digest is None):
        raise ValueError("give exactly one of from_tag and from_digest")
    source = {"imageTag": from_tag} if from_tag is not None else {"imageDigest": from_digest}
    registry = {"registryId": registry_id} if registry_id else {}
    found = ecr.batch_get_image(repositoryName=repository, imageIds=[source],
                                acceptedMediaTypes=MANIFEST_MEDIA_TYPES, **registry)
    if not found["images"]:
        reason = found["failures"][0].get("failureReason", "not found") if found["failures"] else "not found"
        raise PromotionError(f"{repository}: {from_tag or from_digest}: {reason}")
    image = found["images"][0]
    digest = image["imageId"]["imageDigest"]
    put = {"imageManifest": image["imageManifest"], "imageTag": to_tag, "imageDigest": digest}
    if image.get("imageManifestMediaType"):
        put["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(repositoryName=repository, **put, **registry)
    except ecr.exceptions.ImageAlreadyExistsException:
        pass  # to_tag already names this very digest: promoting twice is a no-op
    except ecr.exceptions.ImageTagAlreadyExistsException:
        raise PromotionError(f"{repository}:{to_tag} is an immutable tag on another image") from None
    _check_tag(ecr, repository, to_tag, digest, registry)
    return Promoted(repository, to_tag, digest)


def _check_tag(ecr, repository: str, tag: str, digest: str, registry: dict) -> None:
    """Fail loudly when the tag did not end up on the digest (an immutable tag held by another image)."""
    found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}],
                                acceptedMediaTypes=MANIFEST_MEDIA_TYPES, **registry)
    actual = [image["imageId"]["imageDigest"] for image in found["images"]]
    if actual != [digest]:
        raise PromotionError(f"{repository}:{tag} names {actual or 'nothing'}, not {digest}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository", required=True, help="ECR repository name")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-tag")
    source.add_argument("--from-digest", help="sha256:...")
    parser.add_argument("--to-tag", required=True)
    parser.add_argument("--registry-id", help="account id of the registry (default: the caller's)")
    parser.add_argument("--region", help="default: the AWS configuration's")
    args = parser.parse_args(argv)
    ecr = boto3.client("ecr", region_name=args.region)
    try:
        done = promote(ecr, args.repository, args.to_tag, from_tag=args.from_tag,
                       from_digest=args.from_digest, registry_id=args.registry_id)
    except (PromotionError, BotoCoreError, ClientError) as exc:
        print(f"promote: {exc}", file=sys.stderr)
        return 1
    print(f"{done.repository}:{done.tag} -> {done.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
