"""template.yaml fails closed: the read gate (bucket policy), lifecycle rules, the IAM the pipeline needs,
and the alarms. The local S3 server cannot evaluate `s3:ExistingObjectTag` conditions, so the policy is
checked statement by statement on what SAM deploys; the quarantine alternative is checked in
tests/test_template_quarantine.py and runs end to end in tests/test_quarantine.py."""
from __future__ import annotations

import pytest

from samtemplate import FUNCTIONS, allowed, transformed
from shared.guard import GUARD_TAG, GUARD_TAG_VALUE

BUCKET_ARN = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${MediaBucket}"}
OBJECTS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${MediaBucket}/*"}
FUNCTION_ROLES = [{"Fn::GetAtt": [f"{function}Role", "Arn"]} for function in FUNCTIONS.values()]
ADMIN = "arn:aws:iam::123456789012:role/media-admin"


pytestmark = pytest.mark.usefixtures("sam_region")


def statements(template: dict, **parameters: str) -> dict[str, dict]:
    resources = transformed(template, **parameters)
    policy = resources["MediaBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "MediaBucket"}
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


def test_the_gate_is_on_by_default_and_every_statement_denies_everyone(template):
    found = statements(template)
    assert set(found) == {"DenyInsecureTransport", "DenyReadingUnstrippedObjects", "DenyForgingTheMarker"}
    for statement in found.values():
        assert statement["Effect"] == "Deny" and statement["Principal"] == "*"


def test_unstripped_objects_are_readable_only_by_the_functions(template):
    read = statements(template)["DenyReadingUnstrippedObjects"]
    assert sorted(read["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]  # every version, HeadObject included
    assert read["Resource"] == OBJECTS_ARN
    assert read["Condition"] == {  # both must hold to deny: no marker tag, and not a function role
        "StringNotEquals": {f"s3:ExistingObjectTag/{GUARD_TAG}": GUARD_TAG_VALUE},
        "ArnNotEquals": {"aws:PrincipalArn": FUNCTION_ROLES}}


def test_an_admin_role_may_read_through_the_gate_but_not_set_the_marker(template):
    found = statements(template, AdminRoleArn=ADMIN)
    assert found["DenyReadingUnstrippedObjects"]["Condition"]["ArnNotEquals"] == {
        "aws:PrincipalArn": [*FUNCTION_ROLES, {"Ref": "AdminRoleArn"}]}
    assert found["DenyForgingTheMarker"]["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": FUNCTION_ROLES}


def test_only_the_functions_may_set_the_marker_in_any_request(template):
    forge = statements(template)["DenyForgingTheMarker"]
    # PutObject covers CreateMultipartUpload and CopyObject with a Tagging header.
    assert sorted(forge["Action"]) == ["s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
    assert forge["Resource"] == OBJECTS_ARN
    assert forge["Condition"] == {
        "ForAnyValue:StringEqualsIgnoreCase": {"s3:RequestObjectTagKeys": [GUARD_TAG]},
        "ArnNotEquals": {"aws:PrincipalArn": FUNCTION_ROLES}}


@pytest.mark.parametrize("gate", ["true", "false"])
def test_plain_http_is_refused_whatever_the_gate(template, gate):
    found = statements(template, ReadGate=gate)
    tls = found["DenyInsecureTransport"]
    assert tls["Action"] == "s3:*"
    assert tls["Resource"] == [BUCKET_ARN, OBJECTS_ARN]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert (len(found) == 1) == (gate == "false")


def test_the_gate_refuses_the_metadata_guard(template):
    """A bucket policy cannot test user metadata: deploying the gate with Guard=metadata is refused."""
    rule = template["Rules"]["GateNeedsTagGuard"]
    assert rule["RuleCondition"] == {"Fn::And": [{"Fn::Equals": [{"Ref": "ReadGate"}, "true"]},
                                                 {"Fn::Equals": [{"Ref": "UploadsBucketName"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "Guard"}, "tag"]}
    assert template["Parameters"]["Guard"]["Default"] == "tag"
    assert template["Parameters"]["ReadGate"]["Default"] == "true"


@pytest.mark.parametrize("versioning", ["true", "false"])
def test_lifecycle_aborts_uploads_and_expires_replaced_versions(template, versioning):
    rules = transformed(template, Versioning=versioning, NoncurrentVersionExpirationDays="3")[
        "MediaBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    by_id = {rule["Id"]: rule for rule in rules}
    assert by_id["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    if versioning == "true":
        expire = by_id["expire-replaced-versions"]
        assert expire["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "NoncurrentVersionExpirationDays"}}
    else:
        assert "expire-replaced-versions" not in by_id
    assert all(rule["Status"] == "Enabled" for rule in rules)


def test_functions_may_tag_versions_and_list_the_bucket(template):
    resources = transformed(template)
    for kind in FUNCTIONS:
        granted = allowed(resources, kind)
        assert granted["s3:PutObjectVersionTagging"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}]
        assert granted["s3:ListBucket"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"}]


@pytest.mark.parametrize("topic", ["", "arn:aws:sns:us-east-1:123456789012:ops"])
def test_alarms_on_function_errors_and_on_waiting_failed_events(template, topic):
    resources = transformed(template, AlarmTopicArn=topic)
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    expected = {f"{function}ErrorsAlarm": ("AWS/Lambda", "Errors", "FunctionName", {"Ref": function})
                for function in FUNCTIONS.values()}
    expected["FailedEventsAlarm"] = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                                     {"Fn::GetAtt": ["FailedEvents", "QueueName"]})
    assert set(alarms) == set(expected)
    for name, (namespace, metric, dimension, value) in expected.items():
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric)
        assert alarm["Dimensions"] == [{"Name": dimension, "Value": value}]
        assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm.get("AlarmActions") == ([{"Ref": "AlarmTopicArn"}] if topic else None)
