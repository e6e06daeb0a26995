"""The few ECR calls `make push` needs, with boto3 (so no AWS CLI is required).

    python -m deploy.registry uri                  ACCOUNT.dkr.ecr.REGION.amazonaws.com
    python -m deploy.registry password             for `docker login --username AWS --password-stdin`
    python -m deploy.registry ensure-repo NAME     create the repository if missing (scan on push)
    python -m deploy.registry digest NAME TAG      REPOSITORY_URI@sha256:... (what to deploy)
"""
from __future__ import annotations

import argparse
import base64
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def registry_uri(ecr) -> str:
    endpoint = ecr.get_authorization_token()["authorizationData"][0]["proxyEndpoint"]
    return endpoint.removeprefix("https://")


def login_password(ecr) -> str:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().partition(":")[2]  # the token is "AWS:<password>"


def ensure_repository(ecr, name: str) -> str:
    """The repository's URI, creating it first when it does not exist."""
    try:
        found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        found = ecr.create_repository(repositoryName=name,
                                      imageScanningConfiguration={"scanOnPush": True})["repository"]
    return found["repositoryUri"]


def digest_uri(ecr, name: str, tag: str) -> str:
    """REPOSITORY_URI@DIGEST for a pushed tag: the immutable name to deploy."""
    repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    image = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    return f"{repository['repositoryUri']}@{image['imageDigest']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.registry", description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", help="default: the AWS configuration's")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("uri")
    sub.add_parser("password")
    sub.add_parser("ensure-repo").add_argument("name")
    digest = sub.add_parser("digest")
    digest.add_argument("name")
    digest.add_argument("tag")
    args = parser.parse_args(argv)
    try:
        ecr = boto3.client("ecr", region_name=args.region)
        commands = {
            "uri": lambda: registry_uri(ecr),
            "password": lambda: login_password(ecr),
            "ensure-repo": lambda: ensure_repository(ecr, args.name),
            "digest": lambda: digest_uri(ecr, args.name, args.tag),
        }
        print(commands[args.command]())
    except (BotoCoreError, ClientError) as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
