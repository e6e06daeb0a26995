"""template.yaml: the S3 Batch Operations role of the backfill may invoke the two functions, read the
manifests and write the reports, and nothing else (cfn-lint and `sam validate` of the whole template
run in test_template.py)."""
from __future__ import annotations

import pytest
from cfnlint.decode import decode

from dockerfiles import REPO

MANIFESTS = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/mediascrub-backfill/manifests/*"}
REPORTS = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/mediascrub-backfill/reports/*"}
BUCKET = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"}


@pytest.fixture(scope="module")
def role() -> dict:
    parsed, problems = decode(str(REPO / "template.yaml"))
    assert not problems, problems
    assert parsed["Outputs"]["BatchOperationsRoleArn"]["Value"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}
    return parsed["Resources"]["BatchOperationsRole"]


def test_only_s3_batch_operations_of_this_account_assumes_the_role(role):
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_role_invokes_the_functions_reads_manifests_writes_reports_and_nothing_else(role):
    (policy,) = role["Properties"]["Policies"]
    granted = set()
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        granted |= {(action, str(resource)) for action in actions for resource in resources}
    assert granted == {
        ("lambda:InvokeFunction", str({"Fn::GetAtt": ["ImageFunction", "Arn"]})),
        ("lambda:InvokeFunction", str({"Fn::GetAtt": ["VideoFunction", "Arn"]})),
        ("s3:GetObject", str(MANIFESTS)), ("s3:GetObjectVersion", str(MANIFESTS)),
        ("s3:PutObject", str(REPORTS)), ("s3:GetBucketLocation", str(BUCKET)),
    }
    assert "ManagedPolicyArns" not in role["Properties"]
