"""template.yaml (SAM): lint-clean, notifications equal to the routing table, least-privilege IAM.

The permissions are checked on what SAM really deploys: the template is transformed offline by
SAM's own translator, and its conditions are resolved for the parameters each test deploys with.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

from dockerfiles import REPO, Dockerfile
from shared.routing import IMAGE, VIDEO, notification_config

FUNCTIONS = {IMAGE: "ImageFunction", VIDEO: "VideoFunction"}
REQUIRED = {"BucketName": "media-bucket", "ImageFunctionImageUri": "repo/image@sha256:00",
            "VideoFunctionImageUri": "repo/video@sha256:00"}
REWRITE = {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
           "s3:PutObject", "s3:PutObjectTagging"}


def _tool(name: str) -> str:
    """A tool from this venv, from .venv-sam (the SAM CLI's own, see the Makefile), or from PATH."""
    found = shutil.which(name, path=f"{Path(sys.executable).parent}:{REPO / '.venv-sam' / 'bin'}") or shutil.which(name)
    assert found, f"{name} missing: install the test extras (cfn-lint, aws-sam-cli)"
    return found


@pytest.fixture(scope="module", autouse=True)
def region():
    """SAM's translator needs a region for the ARNs it builds; nothing is contacted."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield


@pytest.fixture(scope="module")
def template() -> dict:
    parsed, problems = decode(str(REPO / "template.yaml"))
    assert not problems, problems
    return parsed


def _transformed(template: dict, **parameters: str) -> dict:
    """The CloudFormation SAM deploys, with Fn::If / AWS::NoValue resolved for these parameters."""
    class NoManagedPolicies:  # the functions use inline policies only; SAM adds the basic role by ARN
        def load(self) -> dict:
            return {"AWSLambdaBasicExecutionRole":
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}

    values = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    values.update(REQUIRED, **parameters)
    cloudformation = transform(json.loads(json.dumps(template)), dict(values), NoManagedPolicies())
    conditions: dict[str, bool] = {}
    for name, expression in cloudformation.get("Conditions", {}).items():
        conditions[name] = _condition(expression, values, conditions)
    return _resolve(cloudformation["Resources"], conditions)


def _condition(expression: dict, values: dict, conditions: dict) -> bool:
    (function, args), = expression.items()
    if function == "Fn::Equals":
        left, right = (values[a["Ref"]] if isinstance(a, dict) else a for a in args)
        return str(left) == str(right)
    if function == "Fn::And":
        return all(_condition(a, values, conditions) for a in args)
    if function == "Fn::Not":
        return not _condition(args[0], values, conditions)
    assert function == "Condition", function
    return conditions[args]


def _resolve(node, conditions: dict):
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return _resolve(when_true if conditions[name] else when_false, conditions)
        resolved = {key: _resolve(value, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [_resolve(item, conditions) for item in node if _resolve(item, conditions) != {"Ref": "AWS::NoValue"}]
    return node


def _allowed(resources: dict, kind: str) -> dict[str, list]:
    """action -> resources granted to the function's role, across its inline policies."""
    allowed: dict[str, list] = {}
    for policy in resources[f"{FUNCTIONS[kind]}Role"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                allowed.setdefault(action, []).append(statement["Resource"])
    return allowed


def test_cfn_lint_is_clean():
    done = subprocess.run([_tool("cfn-lint"), "template.yaml"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_validate_lint_is_clean():
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run([_tool("sam"), "validate", "--lint", "--template-file", "template.yaml",
                           "--region", "us-east-1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_notifications_are_the_routing_table(template):
    """Each function's S3 events: exactly the suffix rules the routing table emits for its kind."""
    expected = {(rule["LambdaFunctionArn"], event, json.dumps(rule["Filter"]["Key"]["FilterRules"]))
                for rule in notification_config(FUNCTIONS)["LambdaFunctionConfigurations"]
                for event in rule["Events"]}
    actual = set()
    for function in FUNCTIONS.values():
        for name, event in template["Resources"][function]["Properties"]["Events"].items():
            assert event["Type"] == "S3" and event["Properties"]["Bucket"] == {"Ref": "MediaBucket"}, name
            rules = json.dumps(event["Properties"]["Filter"]["S3Key"]["Rules"])
            actual.add((function, event["Properties"]["Events"], rules))
    assert actual == expected


def test_the_deployed_bucket_notifies_each_function_for_its_suffixes(template):
    resources = _transformed(template)
    deployed = resources["MediaBucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    by_function = {(c["Function"]["Fn::GetAtt"][0], c["Filter"]["S3Key"]["Rules"][0]["Value"]) for c in deployed}
    expected = {(rule["LambdaFunctionArn"], rule["Filter"]["Key"]["FilterRules"][0]["Value"])
                for rule in notification_config(FUNCTIONS)["LambdaFunctionConfigurations"]}
    assert by_function == expected
    assert len(deployed) == len(expected)


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
        s3_actions = {action for action in allowed if action.startswith("s3:")}
        multipart = {"s3:AbortMultipartUpload"} if kind == VIDEO else set()
        assert s3_actions == REWRITE | multipart
        assert all(resource == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}]
                   for action, resource in allowed.items() if action.startswith("s3:"))
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
