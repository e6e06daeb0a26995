"""Every created object reaches a function that decides by content: EventBridge rules from the one routing
table (suffixes ignoring case, plus a catch-all for every other key), checked with an independent
pattern engine (moto's EventBridge matcher) and in the deployed template; then, against the local S3
server, keys no suffix filter would route (`photo.Jpg`, `IMG_0001.Heic`, `a.jfif`, `x.jpg.`,
extension-less) are stripped, a video without a suffix is handed over to the video function, and
what is not media is left untouched and unmarked."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from moto.events.models import EventPattern

from devtools.s3events import eventbridge_event, uploaded
from devtools.samples import heic_photo, jpeg_photo
from images import handler as image_handler
from images.registry import recognises, strip
from pipelinekit import handler, logged, object_leaks, tags
from samtemplate import FUNCTIONS, parsed, transformed
from shared import s3io
from shared.config import Config
from shared.contentroute import ContentRouter, handover_event, lambda_hand_over
from shared.guard import GUARD_TAG, Location
from shared.pipeline import Pipeline
from shared.routing import CATCH_ALL, IMAGE, UNROUTED, VIDEO, eventbridge_patterns
from shared.staging import InMemory
from video import handler as video_handler

UNUSUAL_IMAGE_KEYS = ["photo.Jpg", "IMG_0001.Heic", "a.jfif", "x.jpg.", "uploads/5f0c2a9e41b7"]


def matching_rules(key: str, bucket: str = "media") -> set[str]:
    event = eventbridge_event(bucket, key)
    return {name for name, pattern in eventbridge_patterns(bucket).items()
            if EventPattern.load(json.dumps(pattern)).matches_event(event)}


@pytest.mark.parametrize("key, rules", [
    ("a.jpg", {IMAGE}), ("B.PNG", {IMAGE}), ("clip.mov", {VIDEO}), ("CLIP.MP4", {VIDEO}),
    ("photo.Jpg", {IMAGE, UNROUTED}), ("IMG_0001.Heic", {IMAGE, UNROUTED}), ("clip.Mp4", {VIDEO, UNROUTED}),
    ("a.jfif", {IMAGE}), ("x.jpg.", {UNROUTED}), ("uploads/5f0c2a9e41b7", {UNROUTED}), ("notes.txt", {UNROUTED}),
])
def test_every_key_matches_a_rule(key, rules):
    """Mixed case matches its kind's rule and the (case-sensitive) catch-all: the guard makes that harmless."""
    assert matching_rules(key) == rules


def test_other_buckets_match_nothing():
    assert not any(EventPattern.load(json.dumps(p)).matches_event(eventbridge_event("other", "a.jpg"))
                   for p in eventbridge_patterns("media").values())


@pytest.fixture(scope="module")
def deployed() -> dict:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return transformed(parsed())


def test_the_template_deploys_the_routing_tables_rules(deployed):
    assert deployed["MediaBucket"]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rules = {}
    for resource in deployed.values():
        if resource["Type"] == "AWS::Events::Rule":
            (target,) = resource["Properties"]["Targets"]
            rules[json.dumps(resource["Properties"]["EventPattern"], sort_keys=True)] = target["Arn"]["Fn::GetAtt"][0]
    expected = {name: pattern for name, pattern in eventbridge_patterns("BUCKET").items()}
    for pattern in expected.values():
        pattern["detail"]["bucket"]["name"] = [{"Ref": "BucketName"}]
    owners = {IMAGE: FUNCTIONS[IMAGE], VIDEO: FUNCTIONS[VIDEO], UNROUTED: FUNCTIONS[CATCH_ALL]}
    assert rules == {json.dumps(pattern, sort_keys=True): owners[name] for name, pattern in expected.items()}


def test_the_catch_all_function_may_hand_over_to_the_video_function(deployed):
    image = deployed["ImageFunction"]["Properties"]
    assert image["Environment"]["Variables"]["HANDOFF_FUNCTION"] == {"Ref": "VideoFunction"}
    statements = [s for policy in deployed["ImageFunctionRole"]["Properties"]["Policies"]
                  for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "lambda:InvokeFunction"]
    assert [s["Resource"] for s in statements] == [{"Fn::GetAtt": ["VideoFunction", "Arn"]}]
    assert "HANDOFF_FUNCTION" not in deployed["VideoFunction"]["Properties"]["Environment"]["Variables"]






@pytest.mark.slow
@pytest.mark.parametrize("key", UNUSUAL_IMAGE_KEYS)
def test_keys_no_suffix_filter_routes_are_stripped(s3, bucket, monkeypatch, capsys, tmp_path, key):
    data = heic_photo((96, 64)) if key.lower().endswith(".heic") else jpeg_photo((96, 64))
    head = uploaded(s3, bucket, key, data)
    assert object_leaks(s3, bucket, key, tmp_path, ".bin")
    assert handler(image_handler, monkeypatch)(eventbridge_event(bucket, key, head)) == {"outcomes": {"stripped": 1}}
    assert object_leaks(s3, bucket, key, tmp_path, ".bin") == {}
    assert tags(s3, bucket, key) == {GUARD_TAG: "True"}
    (line,) = logged(capsys)
    assert line["format"] == ("heif" if key.lower().endswith(".heic") else "jpeg")


@pytest.mark.slow
def test_a_video_without_a_suffix_is_handed_over_and_stripped(s3, bucket, monkeypatch, capsys, tmp_path, gps_video):
    key = "uploads/7d41c0"
    head = uploaded(s3, bucket, key, gps_video)
    video_function = handler(video_handler, monkeypatch)
    handed: list[dict] = []

    def hand_over(source) -> str:  # stands in for Lambda's asynchronous Invoke: the event is what it would carry
        handed.append(handover_event(source))
        return "video-function"

    image_function = Pipeline(IMAGE, Config(), s3, InMemory(strip, Config().max_image_bytes),
                              ContentRouter(recognises, hand_over))
    assert image_function.handle(eventbridge_event(bucket, key, head)) == {"outcomes": {"handed-over": 1}}
    before = object_leaks(s3, bucket, key, tmp_path, ".mp4")
    assert any("GPS" in tag or "Location" in tag for tag in before)  # untouched so far
    (event,) = handed
    assert video_function(json.loads(json.dumps(event))) == {"outcomes": {"stripped": 1}}
    # The judge also names the AAC track's sample-group box (structure a stream copy keeps): nothing else stays.
    assert set(object_leaks(s3, bucket, key, tmp_path, ".mp4")) <= {"Track2:SampleGroupDescription"}
    assert tags(s3, bucket, key) == {GUARD_TAG: "True"}
    handed_line, stripped_line = logged(capsys)
    assert handed_line["handed_to"] == "video-function" and stripped_line["function"] == VIDEO


@pytest.mark.slow
@pytest.mark.parametrize("module", [image_handler, video_handler], ids=["image", "video"])
def test_what_is_not_media_stays_untouched_and_unmarked(s3, bucket, monkeypatch, capsys, module):
    key = "uploads/notes"
    text = b"Meet me at 48.8584 N, 2.2945 E\n" * 10
    head = uploaded(s3, bucket, key, text, Tagging="owner=me")
    assert handler(module, monkeypatch)(eventbridge_event(bucket, key, head)) == {"outcomes": {"not-media": 1}}
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == text
    assert tags(s3, bucket, key) == {"owner": "me"}  # no marker: behind the read gate it stays unreadable
    (line,) = logged(capsys)
    assert line["level"] == "WARNING" and "not a format" in line["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["photos/", "uploads/empty"])
def test_empty_objects_and_folder_markers_are_not_media(s3, bucket, monkeypatch, capsys, key):
    head = uploaded(s3, bucket, key, b"")
    assert handler(image_handler, monkeypatch)(eventbridge_event(bucket, key, head)) == {"outcomes": {"not-media": 1}}
    assert "empty object" in logged(capsys)[0]["reason"]


def test_the_hand_over_is_an_asynchronous_invoke_of_the_other_function(monkeypatch):
    """boto3's real Lambda client against a local endpoint that records what Lambda would receive."""
    received: list[tuple[str, dict, dict]] = []

    class LambdaEndpoint(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), LambdaEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{server.server_port}")
        for name, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        source = s3io.SourceObject(Location("media", "uploads/a b+c"), '"abc123"', "v1", 42)
        assert lambda_hand_over("mediascrub-video")(source) == "mediascrub-video"
    finally:
        server.shutdown()
    ((path, headers, event),) = received
    assert path == "/2015-03-31/functions/mediascrub-video/invocations"
    assert headers["X-Amz-Invocation-Type"] == "Event"
    (record,) = event["Records"]
    assert record["s3"]["object"] == {"key": "uploads/a+b%2Bc", "eTag": "abc123", "size": 42, "versionId": "v1"}
