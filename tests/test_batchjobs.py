"""`make backfill` / `make backfill-status` (deploy/batchjobs.py).

The bucket side (listing, routing, the manifests uploaded) runs against the local S3 server (SeaweedFS).
moto has no S3 Control jobs, so the CreateJob requests are built by a real boto3 `s3control` client,
which validates them against the API model, and caught by botocore's `before-send` hook just before
they would leave: the test checks the HTTP request against the documented CreateJob shape
(POST /v20180820/jobs, x-amz-account-id, the XML elements) and answers with the documented response.
`status` runs against botocore's Stubber (which checks each request against the model). S3 Inventory
configurations are not implemented by SeaweedFS: that path runs on moto's server mode.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from deploy import batchjobs
from shared.routing import IMAGE, VIDEO

ACCOUNT = "123456789012"
ARNS = {IMAGE: f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mediascrub-image",
        VIDEO: f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mediascrub-video",
        "role": f"arn:aws:iam::{ACCOUNT}:role/mediascrub-BatchOperationsRole-ABC"}
NS = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
OBJECTS = {"a b/photo 1.jpg": b"\xff\xd8\xff\xe0 any bytes", "x+y.PNG": b"png", "clips/c.mp4": b"mp4",
           "clips/d.MOV": b"mov", "camera/IMG_1": b"\xff\xd8\xff\xe1 a JPEG without a suffix",
           "camera/VID_1": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "camera/blob": b"text without a suffix",
           "notes.txt": b"text", "raw.NEF": b"II*\x00"}


class _Body:
    def __init__(self, text: str) -> None:
        self.data = text.encode()

    def stream(self, **_):
        yield self.data


@pytest.fixture
def s3control():
    """A real s3control client whose CreateJob requests are caught before they leave this machine."""
    client = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.sent = []

    def answer(request, **_):
        client.sent.append(request)
        job_id = str(uuid.uuid4())
        return AWSResponse(request.url, 200, {}, _Body(f'<?xml version="1.0" encoding="UTF-8"?>'
                                                       f"<CreateJobResult><JobId>{job_id}</JobId></CreateJobResult>"))

    client.meta.events.register("before-send.s3-control.CreateJob", answer)
    return client


def text(element: ElementTree.Element, path: str) -> str | None:
    found = element.find("/".join(NS + part for part in path.split("/")))
    return None if found is None else found.text


def manifest_rows(s3, bucket: str, location: str) -> list[list[str]]:
    key = location.split(":::", 1)[1].split("/", 1)[1]
    return list(csv.reader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))


def test_create_uploads_one_manifest_per_function_and_requests_jobs_awaiting_confirmation(s3, bucket, s3control):
    for key, data in OBJECTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    out = io.StringIO()

    jobs = batchjobs.create(s3, s3control, ACCOUNT, bucket, "", ARNS, out)

    assert set(jobs) == {IMAGE, VIDEO} and len(s3control.sent) == 2
    # Keys without a suffix go to the catch-all (image) function, which decides by content and hands
    # videos over to the video function.
    expected = {IMAGE: ["a%20b/photo%201.jpg", "camera/IMG_1", "camera/VID_1", "camera/blob", "x%2By.PNG"],
                VIDEO: ["clips/c.mp4", "clips/d.MOV"]}
    for kind, request in zip((IMAGE, VIDEO), s3control.sent, strict=True):
        url = urlsplit(request.url)
        assert request.method == "POST" and url.path == "/v20180820/jobs"
        assert url.hostname == f"{ACCOUNT}.s3-control.us-east-1.amazonaws.com"
        assert request.headers["x-amz-account-id"] == ACCOUNT.encode()
        body = ElementTree.fromstring(request.body)
        assert body.tag == NS + "CreateJobRequest"
        assert text(body, "ConfirmationRequired") == "true" and text(body, "RoleArn") == ARNS["role"]
        assert text(body, "Operation/LambdaInvoke/FunctionArn") == ARNS[kind]
        assert text(body, "Operation/LambdaInvoke/InvocationSchemaVersion") == "2.0"
        assert text(body, "Report/Bucket") == f"arn:aws:s3:::{bucket}"
        assert text(body, "Report/Format") == "Report_CSV_20180820" and text(body, "Report/Enabled") == "true"
        assert text(body, "Report/ReportScope") == "AllTasks"
        assert text(body, "Report/Prefix").startswith(batchjobs.REPORT_PREFIX)
        assert text(body, "Manifest/Spec/Format") == "S3BatchOperations_CSV_20180820"
        assert [f.text for f in body.find(f"{NS}Manifest/{NS}Spec/{NS}Fields")] == ["Bucket", "Key"]
        location = text(body, "Manifest/Location/ObjectArn")
        assert location.startswith(f"arn:aws:s3:::{bucket}/{batchjobs.MANIFEST_PREFIX}")
        manifest_key = location.split("/", 1)[1]
        uploaded = s3.head_object(Bucket=bucket, Key=manifest_key)
        assert text(body, "Manifest/Location/ETag") == uploaded["ETag"].strip('"')
        assert uploaded["ServerSideEncryption"] == "AES256"  # readable by the role, which has no KMS grant
        assert int(text(body, "Priority")) > 0 and text(body, "ClientRequestToken")
        assert manifest_rows(s3, bucket, location) == [[bucket, key] for key in expected[kind]]
    printed = out.getvalue()
    assert all(job_id in printed for job_id in jobs.values()) and "estimated cost: $" in printed
    assert "update-job-status" in printed


def test_the_template_role_covers_exactly_the_manifest_and_report_prefixes():
    template = (batchjobs.Path(__file__).resolve().parents[1] / "template.yaml").read_text()
    assert f"${{BucketName}}/{batchjobs.MANIFEST_PREFIX}*" in template
    assert f"${{BucketName}}/{batchjobs.REPORT_PREFIX}*" in template


def inventory_report(client, destination: str, bucket: str, date: str, rows: list[list[str]]) -> None:
    """An S3 Inventory CSV report as S3 writes it: data file (gzip, no header) and manifest.json."""
    base = f"inventory/{bucket}/daily/{date}/"
    data = io.StringIO()
    csv.writer(data, quoting=csv.QUOTE_ALL).writerows(rows)
    data_key = f"inventory/{bucket}/daily/data/{date}.csv.gz"
    client.put_object(Bucket=destination, Key=data_key, Body=gzip.compress(data.getvalue().encode()))
    manifest = {"sourceBucket": bucket, "destinationBucket": f"arn:aws:s3:::{destination}", "version": "2016-11-30",
                "fileFormat": "CSV", "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
                "files": [{"key": data_key, "size": 1, "MD5checksum": "0"}]}
    client.put_object(Bucket=destination, Key=f"{base}manifest.json", Body=json.dumps(manifest).encode())


def test_the_newest_inventory_report_is_the_listing_when_there_is_one_on_moto(moto_s3, tmp_path):
    client, bucket = moto_s3
    destination = f"{bucket}-inventory"
    client.create_bucket(Bucket=destination)
    client.put_bucket_inventory_configuration(Bucket=bucket, Id="daily", InventoryConfiguration={
        "Id": "daily", "IsEnabled": True, "IncludedObjectVersions": "All", "Schedule": {"Frequency": "Daily"},
        "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{destination}", "Format": "CSV",
                                                "Prefix": "inventory"}}})
    inventory_report(client, destination, bucket, "2026-11-23T01-00Z",
                     [[bucket, "ancient.jpg", "", "true", "false", "1"]])
    inventory_report(client, destination, bucket, "2026-11-24T01-00Z", [
        [bucket, "old%20photo.jpg", "v3", "true", "false", "100"],
        [bucket, "old%20photo.jpg", "v2", "false", "false", "90"],
        [bucket, "deleted.png", "v9", "true", "true", "0"], [bucket, "clips/a%2Bb.mp4", "", "true", "false", "5"],
        [bucket, "new+photo.gif", "", "true", "false", "7"],
        [bucket, "notes.txt", "", "true", "false", "4"]])

    source, manifests = batchjobs.manifests(client, bucket, "", tmp_path)

    assert source == "S3 Inventory 'daily' of 2026-11-24T01-00Z"
    assert manifests[IMAGE].path.read_text().splitlines() == [f"{bucket},old%20photo.jpg", f"{bucket},new%20photo.gif"]
    assert manifests[VIDEO].path.read_text().splitlines() == [f"{bucket},clips/a%2Bb.mp4"]
    assert (manifests[IMAGE].objects, manifests[IMAGE].size) == (2, 107)


def test_status_shows_progress_and_sums_up_the_completion_report(s3, bucket):
    client = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    job_id, prefix = str(uuid.uuid4()), f"{batchjobs.REPORT_PREFIX}run1"
    results = f"{prefix}/job-{job_id}/results/abc.csv"
    s3.put_object(Bucket=bucket, Key=results, Body=(
        f'{bucket},a.jpg,,succeeded,200,,stripped\n{bucket},b.jpg,,succeeded,200,,stripped\n'
        f'{bucket},c.jpg,,succeeded,200,,already-clean\n'
        f'{bucket},d.jpg,,failed,200,PermanentFailure,"malformed input: truncated"\n').encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/job-{job_id}/manifest.json", Body=json.dumps({
        "Format": "Report_CSV_20180820", "ReportCreationDate": "2026-11-25T10:00:00.000Z",
        "Results": [{"TaskExecutionStatus": "succeeded", "Bucket": bucket, "MD5Checksum": "0", "Key": results}],
        "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"}).encode())
    description = f"{batchjobs.DESCRIPTION} image s3://{bucket}"
    with Stubber(client) as stub:
        stub.add_response("list_jobs", {"Jobs": [{"JobId": job_id, "Description": description},
                                                 {"JobId": str(uuid.uuid4()), "Description": "someone else's"}]},
                          {"AccountId": ACCOUNT})
        stub.add_response("describe_job", {"Job": {
            "JobId": job_id, "Description": description, "Status": "Complete",
            "ProgressSummary": {"TotalNumberOfTasks": 4, "NumberOfTasksSucceeded": 3, "NumberOfTasksFailed": 1},
            "Report": {"Bucket": f"arn:aws:s3:::{bucket}", "Format": "Report_CSV_20180820", "Enabled": True,
                       "Prefix": prefix, "ReportScope": "AllTasks"}}}, {"AccountId": ACCOUNT, "JobId": job_id})
        out = io.StringIO()
        assert batchjobs.status(s3, client, ACCOUNT, bucket, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{job_id} {description}: Complete, 3 succeeded, 1 failed of 4"
    assert [line.split() for line in lines[1:]] == [
        ["1", "failed", "PermanentFailure", "malformed", "input"], ["1", "succeeded", "already-clean"],
        ["2", "succeeded", "stripped"]]


def test_estimated_cost_adds_job_object_and_lambda_fees(tmp_path):
    photos = batchjobs.Manifest(tmp_path / "i", objects=1_000_000, size=3 * 10**12)
    clips = batchjobs.Manifest(tmp_path / "v", objects=1000, size=10**11)
    lambda_seconds = 1_000_000 * batchjobs.GB_SECONDS_PER_PHOTO + 10**5 * batchjobs.GB_SECONDS_PER_VIDEO_MB
    assert batchjobs.estimated_cost({IMAGE: photos, VIDEO: clips}) == pytest.approx(
        2 * 0.25 + 1_001_000 * (1.00 + 0.20) / 1e6 + lambda_seconds * batchjobs.PRICE_PER_GB_SECOND)
    nothing = batchjobs.Manifest(tmp_path / "n")
    assert batchjobs.estimated_cost({IMAGE: nothing, VIDEO: nothing}) == 0
