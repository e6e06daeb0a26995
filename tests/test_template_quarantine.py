"""template.yaml's quarantine layout (UploadsBucketName): a private uploads bucket only the functions read,
events from it alone, stripped copies written to the media bucket, and settings the code accepts."""
from __future__ import annotations

import pytest

from samtemplate import FUNCTIONS, allowed, parsed, transformed
from shared.config import Config
from shared.routing import VIDEO

UPLOADS = "media-uploads"
MEDIA = "media-bucket"  # samtemplate.REQUIRED's BucketName
FUNCTION_ROLES = [{"Fn::GetAtt": [f"{function}Role", "Arn"]} for function in FUNCTIONS.values()]


@pytest.fixture(scope="module")
def layouts() -> dict[str, dict]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        template = parsed()
        return {"in-place": transformed(template),
                "quarantine": transformed(template, UploadsBucketName=UPLOADS, Versioning="true",
                                          DeleteOriginalVersion="true")}


def test_uploads_land_in_a_bucket_only_the_functions_read(layouts):
    resources = layouts["quarantine"]
    uploads = resources["UploadsBucket"]["Properties"]
    assert uploads["BucketName"] == {"Ref": "UploadsBucketName"}
    assert all(uploads["PublicAccessBlockConfiguration"].values())
    assert uploads["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rules = {rule["Id"]: rule for rule in uploads["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-uploads"]["ExpirationInDays"] == {"Ref": "UploadsExpirationDays"}
    statements = {s["Sid"]: s for s in resources["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]}
    read = statements["DenyReadingUploads"]
    assert (read["Effect"], read["Principal"], sorted(read["Action"])) == \
        ("Deny", "*", ["s3:GetObject", "s3:GetObjectVersion"])
    assert read["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": FUNCTION_ROLES}}  # no tag opens it
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert "UploadsBucket" not in layouts["in-place"]


def test_the_media_bucket_is_not_gated_and_gets_no_events(layouts):
    resources = layouts["quarantine"]
    media_policy = resources["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in media_policy] == ["DenyInsecureTransport"]  # the copies carry no marker tag
    for resource in resources.values():
        if resource["Type"] == "AWS::Events::Rule":
            assert resource["Properties"]["EventPattern"]["detail"]["bucket"]["name"] == [{"Ref": "UploadsBucketName"}]


def test_functions_read_the_uploads_and_write_the_media_bucket_only(layouts):
    resources = layouts["quarantine"]
    for kind in FUNCTIONS:
        granted = allowed(resources, kind)
        for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"):
            assert granted[action] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${UploadsBucketName}/*"}]
        writes = ["s3:PutObject", "s3:PutObjectTagging"] + (["s3:AbortMultipartUpload"] if kind == VIDEO else [])
        for action in writes:
            assert granted[action] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}]
        assert granted["s3:ListBucket"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${UploadsBucketName}"}]
        assert "s3:DeleteObjectVersion" not in granted  # nothing is deleted in quarantine


@pytest.mark.parametrize("layout, expected", [
    ("in-place", {"guard": "tag", "dest_bucket": "", "source_buckets": (MEDIA,)}),
    ("quarantine", {"guard": "prefix", "dest_bucket": MEDIA, "source_buckets": (UPLOADS,)}),
])
def test_the_functions_settings_are_ones_the_code_accepts(layouts, layout, expected):
    values = {"BucketName": MEDIA, "UploadsBucketName": UPLOADS, "Guard": "tag"}
    for function in FUNCTIONS.values():
        variables = layouts[layout][function]["Properties"]["Environment"]["Variables"]
        env = {name: values[value["Ref"]] if isinstance(value, dict) and "Ref" in value else value
               for name, value in variables.items() if name != "HANDOFF_FUNCTION"}
        config = Config.from_env(env)
        assert {name: getattr(config, name) for name in expected} == expected
        assert config.delete_original_version is False
