"""Each handler run the way its container runs it: `python -m awslambdaric <handler>` (the runtime
client both images use) against a Lambda Runtime API served by devtools/runtime_api.py.

The real Runtime API (Lambda, or the Runtime Interface Emulator in `docker run`) cannot run here:
the emulator is a GitHub binary no registry serves, so the tests serve the API themselves, and
stand in for the emulator's invocation endpoint to test `make invoke-*` (deploy/invoke.py).
The S3 endpoint points at a closed port: none of these invocations may touch S3.
"""
from __future__ import annotations

import http.client
import http.server
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dockerfiles import REPO, Dockerfile

from deploy.invoke import main as invoke_main
from devtools.runtime_api import API, RuntimeApi, run_handler
from devtools.s3events import s3_event, s3_record
from shared.events import deliveries

TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "media"}
OFFLINE_ENV = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
TINY_HANDLERS = '''
import os

def echo(event, context):
    print("echo", context.aws_request_id, flush=True)
    return {"event": event, "function": context.function_name,
            "time_left": context.get_remaining_time_in_millis() > 0}

def fail_on_boom(event, context):
    if event.get("boom"):
        raise ValueError("boom requested")
    return "fine"
'''


@pytest.fixture
def tiny(tmp_path) -> dict:
    (tmp_path / "tiny_handlers.py").write_text(TINY_HANDLERS)
    return {"cwd": tmp_path, "env": {"PYTHONPATH": str(tmp_path)}}


def _cmd_handler(dockerfile: str) -> str:
    return Dockerfile.read(dockerfile).one("CMD").words()[0]


def test_results_come_back_in_order_with_the_context(tiny):
    run = run_handler("tiny_handlers.echo", [{"n": 1}, {"n": 2}], **tiny)
    assert not run.pending and run.init_error is None
    assert [o.ok for o in run.outcomes] == [True, True]
    assert [o.body["event"] for o in run.outcomes] == [{"n": 1}, {"n": 2}]
    assert all(o.body["time_left"] and o.body["function"] == "tiny_handlers" for o in run.outcomes)
    for outcome in run.outcomes:  # each invocation logs under its own request id
        assert f"echo {outcome.request_id}" in run.logs


def test_an_error_is_reported_and_the_runtime_serves_the_next_event(tiny):
    run = run_handler("tiny_handlers.fail_on_boom", [{"boom": True}, {}], **tiny)
    failed, fine = run.outcomes
    assert not failed.ok and failed.error_type == "ValueError"
    assert failed.body["errorMessage"] == "boom requested"
    assert "[ERROR] ValueError: boom requested" in run.logs
    assert fine.ok and fine.body == "fine"


@pytest.mark.parametrize("handler, error_type", [
    ("no_such_module.handler", "Runtime.ImportModuleError"),
    ("tiny_handlers.no_such_function", "Runtime.HandlerNotFound"),
])
def test_a_handler_that_cannot_load_reports_an_init_error(tiny, handler, error_type):
    run = run_handler(handler, [{}], **tiny)
    assert run.outcomes == [] and run.pending
    assert run.init_error.error_type == error_type
    assert error_type in run.logs


def test_every_reply_is_http_1_1_with_a_content_length():
    with RuntimeApi() as api:
        request_id = api.submit({"hello": "world"})
        connection = http.client.HTTPConnection(api.address, timeout=10)
        exchanges = [("GET", f"{API}/invocation/next", None, 200),
                     ("POST", f"{API}/invocation/{request_id}/response", b'{"ok": true}', 202),
                     ("GET", "/nowhere", None, 404)]
        for method, path, body, status in exchanges:  # one kept-alive connection, as the client uses
            connection.request(method, path, body)
            reply = connection.getresponse()
            payload = reply.read()
            assert (reply.status, reply.version) == (status, 11)
            assert int(reply.headers["Content-Length"]) == len(payload)
        assert api.outcome(request_id, timeout=1).body == {"ok": True}


@pytest.mark.parametrize("dockerfile", ["Dockerfile.image", "Dockerfile.video"])
def test_the_real_handlers_answer_through_the_runtime_client(dockerfile):
    handler = _cmd_handler(dockerfile)
    kind = "video" if "video" in dockerfile else "image"
    other_kinds_key = "holiday photos/clip+1.mp4" if kind == "image" else "holiday photos/IMG 1+2.JPG"
    run = run_handler(handler, [TEST_EVENT, s3_event(s3_record("media", other_kinds_key))], env=OFFLINE_ENV, cwd=REPO)

    ignored, misrouted = run.outcomes
    assert ignored.ok and ignored.body == {"outcomes": {}}
    assert misrouted.ok and misrouted.body == {"outcomes": {"misrouted": 1}}
    log_lines = [json.loads(line) for line in run.logs.splitlines() if line.startswith("{")]
    assert [(line["outcome"], line["key"], line["function"]) for line in log_lines] == \
        [("misrouted", other_kinds_key, kind)]


@pytest.mark.parametrize("dockerfile", ["Dockerfile.image", "Dockerfile.video"])
def test_a_bad_setting_fails_the_invocation_with_one_clear_line(dockerfile):
    run = run_handler(_cmd_handler(dockerfile), [TEST_EVENT], env={**OFFLINE_ENV, "GUARD": "sometimes"}, cwd=REPO)
    (failed,) = run.outcomes
    assert not failed.ok and failed.error_type == "InvalidConfig"
    assert "GUARD" in failed.body["errorMessage"] and "sometimes" in failed.body["errorMessage"]
    assert "[ERROR] InvalidConfig" in run.logs


def _entry_script_env(bin_dir: Path) -> dict[str, str]:
    """PATH as in the image: `python3` is the interpreter with the runtime client installed."""
    return {**OFFLINE_ENV, "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_video_entry_script_runs_the_runtime_client_when_lambda_provides_the_api(tmp_path):
    entry_point = ["sh", str(REPO / "docker" / "lambda-entry.sh")]
    run = run_handler(_cmd_handler("Dockerfile.video"), [TEST_EVENT], env=_entry_script_env(tmp_path),
                      cwd=REPO, entry_point=entry_point)
    assert [o.body for o in run.outcomes] == [{"outcomes": {}}]


def test_video_entry_script_starts_the_emulator_elsewhere(tmp_path):
    """Without AWS_LAMBDA_RUNTIME_API (docker run) the emulator must wrap the runtime client."""
    calls = tmp_path / "rie-calls"
    stub = tmp_path / "aws-lambda-rie"
    stub.write_text(f'#!/bin/sh\necho "$@" > {calls}\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in _entry_script_env(tmp_path).items() if k != "AWS_LAMBDA_RUNTIME_API"}
    done = subprocess.run(["sh", str(REPO / "docker" / "lambda-entry.sh"), "video.handler.lambda_handler"],
                          env=env, timeout=30, check=False)
    assert done.returncode == 0
    assert calls.read_text().split() == ["--runtime-interface-emulator-address", "0.0.0.0:8080",
                                        "--runtime-api-address", "127.0.0.1:9001", "python3", "-m", "awslambdaric", "video.handler.lambda_handler"]


def test_command_line_prints_the_answer_and_fails_on_a_function_error(tiny, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"boom": True}))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}
    command = [sys.executable, "-m", "devtools.runtime_api", "--timeout", "60"]

    echoed = subprocess.run([*command, "tiny_handlers.echo", str(event)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=90, check=False)
    assert echoed.returncode == 0, echoed.stderr
    assert json.loads(echoed.stdout)["event"] == {"boom": True}
    assert "echo " in echoed.stderr  # the runtime's logs

    failed = subprocess.run([*command, "tiny_handlers.fail_on_boom", "-"], input=event.read_text(),
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "ValueError"


class _Emulator(http.server.BaseHTTPRequestHandler):
    """Answers like the emulator's invocation endpoint: the function's JSON, whatever happened."""

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"received": event, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_invoke_posts_an_s3_event_the_handlers_decode(capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Emulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/2015-03-31/functions/function/invocations"
    try:
        assert invoke_main(["--bucket", "media", "--key", "a b+c/ü 100%.jpg", "--url", url, "--timeout", "10"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    answer = json.loads(capsys.readouterr().out)
    assert answer["path"] == "/2015-03-31/functions/function/invocations"
    (delivery,) = deliveries(answer["received"])
    assert [(r.bucket, r.key) for r in delivery.records] == [("media", "a b+c/ü 100%.jpg")]


def test_invoke_without_a_running_container_says_so(capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    assert invoke_main(["--bucket", "b", "--key", "k.jpg", "--url", url, "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("invoke: no answer") and "make run-image" in err
