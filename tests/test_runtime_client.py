"""Each handler run the way its container runs it: `python -m awslambdaric <handler>` (the runtime
client both images use) under AWS's Runtime Interface Emulator, `aws-lambda-rie` from the pinned SAM
CLI wheel, run on this machine (devtools/emulator.py; tests/test_containers.py runs it in the images).
The S3 endpoint points at a closed port: none of these invocations may touch S3.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.invoke import main as invoke_main
from devtools.emulator import Emulator, free_port, on_host, rie_binary
from devtools.s3events import s3_event, s3_record
from dockerfiles import REPO, Dockerfile
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
    with on_host("tiny_handlers.echo", **tiny) as emulator:
        done = [emulator.invoke({"n": n}, timeout=60) for n in (1, 2)]
    assert [d.answer["event"] for d in done] == [{"n": 1}, {"n": 2}]
    assert all(d.answer["time_left"] and d.answer["function"] == "test_function" for d in done)
    assert done[0].request_id != done[1].request_id
    for invocation in done:  # each invocation logs under its own request id
        assert f"echo {invocation.request_id}" in emulator.logs
    assert emulator.init_duration_ms is not None


def test_an_error_is_reported_and_the_runtime_serves_the_next_event(tiny):
    with on_host("tiny_handlers.fail_on_boom", **tiny) as emulator:
        failed, fine = emulator.invoke({"boom": True}, timeout=60), emulator.invoke({}, timeout=60)
    assert failed.failed and failed.answer["errorType"] == "ValueError"
    assert failed.answer["errorMessage"] == "boom requested"
    assert "[ERROR] ValueError: boom requested" in emulator.logs
    assert not fine.failed and fine.answer == "fine"


@pytest.mark.parametrize("handler, error_type", [
    ("no_such_module.handler", "Runtime.ImportModuleError"),
    ("tiny_handlers.no_such_function", "Runtime.HandlerNotFound"),
])
def test_a_handler_that_cannot_load_reports_an_init_error(tiny, handler, error_type):
    with on_host(handler, **tiny) as emulator:
        done = emulator.invoke({}, timeout=60)
    assert done.failed  # the emulator answers 502: the runtime exited during its init
    assert f"[ERROR] {error_type}" in emulator.logs


@pytest.mark.parametrize("dockerfile", ["Dockerfile.image", "Dockerfile.video"])
def test_the_real_handlers_answer_through_the_runtime_client(dockerfile):
    handler = _cmd_handler(dockerfile)
    kind = "video" if "video" in dockerfile else "image"
    other_kinds_key = "holiday photos/clip+1.mp4" if kind == "image" else "holiday photos/IMG 1+2.JPG"
    with on_host(handler, OFFLINE_ENV, cwd=REPO) as emulator:
        ignored = emulator.invoke(TEST_EVENT, timeout=120)
        misrouted = emulator.invoke(s3_event(s3_record("media", other_kinds_key)), timeout=120)
    assert ignored.answer == {"outcomes": {}}
    assert misrouted.answer == {"outcomes": {"misrouted": 1}}
    log_lines = [json.loads(line) for line in emulator.logs.splitlines() if line.startswith("{") and "_aws" not in line]
    assert [(line["outcome"], line["key"], line["function"]) for line in log_lines] == \
        [("misrouted", other_kinds_key, kind)]


@pytest.mark.parametrize("dockerfile", ["Dockerfile.image", "Dockerfile.video"])
def test_a_bad_setting_fails_the_invocation_with_one_clear_line(dockerfile):
    with on_host(_cmd_handler(dockerfile), {**OFFLINE_ENV, "GUARD": "sometimes"}, cwd=REPO) as emulator:
        failed = emulator.invoke(TEST_EVENT, timeout=120)
    assert failed.failed and failed.answer["errorType"] == "InvalidConfig"
    assert "GUARD" in failed.answer["errorMessage"] and "sometimes" in failed.answer["errorMessage"]
    assert "[ERROR] InvalidConfig" in emulator.logs


ENTRY_SCRIPT = REPO / "docker" / "lambda-entry.sh"


def _stub(directory: Path, name: str, calls: Path) -> None:
    """An executable `name` that records its arguments in `calls`."""
    stub = directory / name
    stub.write_text(f'#!/bin/sh\necho "$@" > {calls}\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)


def test_entry_script_runs_the_runtime_client_when_lambda_provides_the_api(tmp_path):
    calls = tmp_path / "python3-calls"
    _stub(tmp_path, "python3", calls)
    env = {"PATH": f"{tmp_path}{os.pathsep}/usr/bin:/bin", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}
    done = subprocess.run(["sh", str(ENTRY_SCRIPT), "video.handler.lambda_handler"], env=env, timeout=30, check=False)
    assert done.returncode == 0
    assert calls.read_text().split() == ["-m", "awslambdaric", "video.handler.lambda_handler"]


def test_entry_script_starts_the_emulator_elsewhere(tmp_path):
    """Without AWS_LAMBDA_RUNTIME_API (docker run) the emulator must wrap the runtime client."""
    calls = tmp_path / "rie-calls"
    _stub(tmp_path, "aws-lambda-rie", calls)
    done = subprocess.run(["sh", str(ENTRY_SCRIPT), "video.handler.lambda_handler"],
                          env={"PATH": f"{tmp_path}{os.pathsep}/usr/bin:/bin"}, timeout=30, check=False)
    assert done.returncode == 0
    assert calls.read_text().split() == ["--runtime-interface-emulator-address", "0.0.0.0:8080",
                                         "--runtime-api-address", "127.0.0.1:9001", "python3", "-m", "awslambdaric",
                                         "video.handler.lambda_handler"]


def test_entry_script_serves_invocations_with_the_real_emulator(tmp_path):
    """The image's entry point on this machine: the real emulator and this interpreter as python3."""
    (tmp_path / "aws-lambda-rie").symlink_to(rie_binary())
    (tmp_path / "python3").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (tmp_path / "python3").chmod(0o755)
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
           "RIE_ADDRESS": f"127.0.0.1:{port}", "RIE_RUNTIME_API_ADDRESS": f"127.0.0.1:{free_port()}"}
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    with Emulator(["sh", str(ENTRY_SCRIPT), _cmd_handler("Dockerfile.image")], env, port, cwd=REPO) as emulator:
        assert emulator.invoke(TEST_EVENT, timeout=120).answer == {"outcomes": {}}


def test_invoke_posts_an_s3_event_the_handlers_decode(tiny, capsys):
    """`make invoke-*` (deploy/invoke.py) against the real emulator, running a handler that echoes the event."""
    with on_host("tiny_handlers.echo", **tiny) as emulator:
        assert invoke_main(["--bucket", "media", "--key", "a b+c/ü 100%.jpg", "--url", emulator.url,
                            "--timeout", "60"]) == 0
    answer = json.loads(capsys.readouterr().out)
    (delivery,) = deliveries(answer["event"])
    assert [(r.bucket, r.key) for r in delivery.records] == [("media", "a b+c/ü 100%.jpg")]


def test_invoke_without_a_running_container_says_so(capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    assert invoke_main(["--bucket", "b", "--key", "k.jpg", "--url", url, "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("invoke: no answer") and "make run-image" in err
