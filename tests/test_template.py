"""template.yaml (SAM): lint-clean, least-privilege IAM (the EventBridge routing: tests/test_routing_content.py).

The permissions are checked on what SAM really deploys: the template is transformed offline by
SAM's own translator, and its conditions are resolved for the parameters each test deploys with.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from dockerfiles import REPO, Dockerfile
from samtemplate import FUNCTIONS
from samtemplate import allowed as _allowed
from samtemplate import tool as _tool
from samtemplate import transformed as _transformed
from shared.routing import IMAGE, VIDEO

REWRITE = {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
           "s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"}


pytestmark = pytest.mark.usefixtures("sam_region")


def test_cfn_lint_is_clean():
    done = subprocess.run([_tool("cfn-lint"), "template.yaml"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_validate_lint_is_clean():
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run([_tool("sam"), "validate", "--lint", "--template-file", "template.yaml",
                           "--region", "us-east-1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_function_commands_are_the_dockerfiles_handlers(template):
    for kind, function in FUNCTIONS.items():
        properties = template["Resources"][function]["Properties"]
        dockerfile = Dockerfile.read(f"Dockerfile.{kind}")
        assert properties["PackageType"] == "Image"
        assert properties["ImageConfig"]["Command"] == dockerfile.one("CMD").words()


def test_default_permissions_are_read_and_rewrite_only(template):
    resources = _transformed(template)
    for kind in FUNCTIONS:
        allowed = _allowed(resources, kind)
        s3_actions = {action for action in allowed if action.startswith("s3:")} - {"s3:ListBucket"}
        multipart = {"s3:AbortMultipartUpload"} if kind == VIDEO else set()
        assert s3_actions == REWRITE | multipart
        assert all(allowed[action] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}] for action in s3_actions)
        assert allowed["s3:ListBucket"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"}]
        assert not any(action.startswith("kms:") for action in allowed)
        assert allowed["sqs:SendMessage"] == [{"Fn::GetAtt": ["FailedEvents", "Arn"]}]


@pytest.mark.parametrize("versioning, delete, granted", [
    ("true", "true", True), ("true", "false", False), ("false", "true", False)])
def test_delete_object_version_only_when_enabled(template, versioning, delete, granted):
    resources = _transformed(template, Versioning=versioning, DeleteOriginalVersion=delete)
    for kind, function in FUNCTIONS.items():
        assert ("s3:DeleteObjectVersion" in _allowed(resources, kind)) == granted
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["DELETE_ORIGINAL_VERSION"] == ("true" if granted else "false")


def test_kms_only_when_a_key_is_used(template):
    key = "arn:aws:kms:us-east-1:123456789012:key/abcd"
    resources = _transformed(template, KmsKeyArn=key)
    for kind in FUNCTIONS:
        allowed = _allowed(resources, kind)
        assert allowed["kms:Decrypt"] == allowed["kms:GenerateDataKey"] == [{"Ref": "KmsKeyArn"}]
    encryption = resources["MediaBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_sizing_failure_destination_and_concurrency(template):
    resources = _transformed(template)
    image, video = (resources[FUNCTIONS[kind]]["Properties"] for kind in (IMAGE, VIDEO))
    assert video["EphemeralStorage"]["Size"] > image["EphemeralStorage"]["Size"]  # videos are staged in /tmp
    assert video["Timeout"] > image["Timeout"]
    for kind, properties in ((IMAGE, image), (VIDEO, video)):
        assert properties["ReservedConcurrentExecutions"] == {"Ref": f"{kind.title()}ReservedConcurrency"}
        invoke_config = resources[f"{FUNCTIONS[kind]}EventInvokeConfig"]["Properties"]
        assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailedEvents", "Arn"]}
    assert template["Parameters"]["Architecture"]["AllowedValues"] == ["arm64", "x86_64"]
