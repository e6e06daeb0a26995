"""template.yaml as the tests read it: parsed by cfn-lint, transformed offline by SAM's own translator,
with its conditions resolved for the parameters a test deploys with."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

from dockerfiles import REPO
from shared.routing import IMAGE, VIDEO

FUNCTIONS = {IMAGE: "ImageFunction", VIDEO: "VideoFunction"}
REQUIRED = {"BucketName": "media-bucket", "ImageFunctionImageUri": "repo/image@sha256:00",
            "VideoFunctionImageUri": "repo/video@sha256:00"}


def tool(name: str) -> str:
    """A tool from this venv, from .venv-sam (the SAM CLI's own, see the Makefile), or from PATH."""
    found = shutil.which(name, path=f"{Path(sys.executable).parent}:{REPO / '.venv-sam' / 'bin'}") or shutil.which(name)
    assert found, f"{name} missing: install the test extras (cfn-lint, aws-sam-cli)"
    return found


def parsed() -> dict:
    template, problems = decode(str(REPO / "template.yaml"))
    assert not problems, problems
    return template


def transformed(template: dict, **parameters: str) -> dict:
    """The resources SAM deploys for these parameters: conditional ones only when their condition holds,
    Fn::If / AWS::NoValue resolved.

    Needs AWS_DEFAULT_REGION set (SAM builds ARNs with it; nothing is contacted)."""
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
    deployed = {name: resource for name, resource in cloudformation["Resources"].items()
                if conditions.get(resource.get("Condition"), True)}  # a resource whose condition is false is not
    return _resolve(deployed, conditions)


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


def allowed(resources: dict, kind: str) -> dict[str, list]:
    """action -> resources granted to the function's role, across its inline policies."""
    granted: dict[str, list] = {}
    for policy in resources[f"{FUNCTIONS[kind]}Role"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                granted.setdefault(action, []).append(statement["Resource"])
    return granted
