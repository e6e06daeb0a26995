"""A small stand-in for the AWS Lambda Runtime API, to run a handler the way its container does.

The containers start `python -m awslambdaric <handler>`, which polls the Runtime API named by
AWS_LAMBDA_RUNTIME_API. This module serves that API on 127.0.0.1 (next invocation, response,
error, init error) so a handler runs through the real runtime client without Docker or the
Runtime Interface Emulator. The client needs HTTP/1.1 and a Content-Length on every reply.

    python -m devtools.runtime_api images.handler.lambda_handler event.json   (or - for stdin)

prints the handler's result (or its error) as JSON on stdout; the runtime's logs go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

API = "/2018-06-01/runtime"
INVOCATION_TIMEOUT_S = 900  # Lambda's maximum; the deadline each invocation announces
_POLL_S = 0.1


@dataclass
class Outcome:
    """What the runtime reported for one invocation, or for its start-up (init error)."""

    request_id: str
    ok: bool
    body: Any
    error_type: str | None = None


@dataclass
class HandlerRun:
    """Every outcome of one `run_handler` call, in event order, and everything the runtime logged."""

    outcomes: list[Outcome]
    init_error: Outcome | None
    logs: str
    pending: list[str]  # request ids left unanswered


class RuntimeApi:
    """Serves queued events to one runtime client and collects what it posts back."""

    def __init__(self) -> None:
        self._events: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._outcomes: dict[str, Outcome] = {}
        self._reported = threading.Condition()
        self.init_error: Outcome | None = None
        self._server = _QuietServer(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """host:port, the value for AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._events.put(None)  # releases a client blocked on /next
        self._server.shutdown()
        self._server.server_close()

    def submit(self, event: Any) -> str:
        """Queue one event (JSON-serialisable, or raw bytes) and return its request id."""
        request_id = str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        self._events.put((request_id, body))
        return request_id

    def outcome(self, request_id: str, timeout: float) -> Outcome | None:
        """The outcome of request_id once posted (None after timeout or an init error)."""
        with self._reported:
            self._reported.wait_for(
                lambda: request_id in self._outcomes or self.init_error is not None, timeout)
            return self._outcomes.get(request_id)

    def next_event(self) -> tuple[str, bytes] | None:
        return self._events.get()

    def report(self, outcome: Outcome, init: bool = False) -> None:
        with self._reported:
            if init:
                self.init_error = outcome
            else:
                self._outcomes[outcome.request_id] = outcome
            self._reported.notify_all()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime stopped mid-request drops its connection; anything else is a bug here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_class(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open

        def do_GET(self) -> None:
            if self.path != f"{API}/invocation/next":
                return self._reply(404, {"errorMessage": f"unknown path {self.path}"})
            item = api.next_event()
            if item is None:
                return self._reply(410, {"errorMessage": "runtime API is shutting down"})
            request_id, body = item
            deadline_ms = int((time.time() + INVOCATION_TIMEOUT_S) * 1000)
            self._reply(200, body, {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn":
                    "arn:aws:lambda:us-east-1:000000000000:function:local",
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
            })

        def do_POST(self) -> None:
            body = self._json_body()
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") \
                or (body.get("errorType") if isinstance(body, dict) else None)
            parts = self.path.removeprefix(f"{API}/").split("/")
            if parts == ["init", "error"]:
                api.report(Outcome("init", False, body, error_type), init=True)
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                ok = parts[2] == "response"
                api.report(Outcome(parts[1], ok, body, None if ok else error_type))
            else:
                return self._reply(404, {"errorMessage": f"unknown path {self.path}"})
            self._reply(202, {"status": "OK"})

        def _json_body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode(errors="replace")

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the runtime's own logs are what matters."""

    return Handler


def run_handler(handler: str, events: list[Any], *, env: dict[str, str] | None = None,
                cwd: Path | None = None, timeout: float = 120.0,
                entry_point: list[str] | None = None) -> HandlerRun:
    """Invoke handler once per event through `python -m awslambdaric`, as the containers do.

    entry_point replaces that command (the handler is its last argument), e.g. an image's entry script.
    The runtime process gets os.environ plus env, and is stopped once every event was answered,
    the handler failed to load, or timeout seconds passed (then HandlerRun.pending is not empty).
    """
    with RuntimeApi() as api:
        process_env = {**os.environ, **(env or {}), "AWS_LAMBDA_RUNTIME_API": api.address}
        process_env.setdefault("AWS_LAMBDA_FUNCTION_NAME", handler.split(".")[0])
        process = subprocess.Popen(
            [*(entry_point or [sys.executable, "-m", "awslambdaric"]), handler], cwd=cwd, env=process_env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        logs: list[bytes] = []
        reader = threading.Thread(target=lambda: logs.extend(process.stdout), daemon=True)
        reader.start()
        request_ids = [api.submit(event) for event in events]
        outcomes, pending = _collect(api, process, request_ids, time.monotonic() + timeout)
        _stop(process)  # the runtime loops forever, waiting for the next event
        reader.join(timeout=5)
    return HandlerRun(outcomes, api.init_error, b"".join(logs).decode(errors="replace"), pending)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _collect(api: RuntimeApi, process: subprocess.Popen, request_ids: list[str],
             deadline: float) -> tuple[list[Outcome], list[str]]:
    outcomes: list[Outcome] = []
    for index, request_id in enumerate(request_ids):
        outcome = None
        while outcome is None and api.init_error is None and process.poll() is None \
                and time.monotonic() < deadline:
            outcome = api.outcome(request_id, _POLL_S)
        if outcome is None:
            return outcomes, request_ids[index:]
        outcomes.append(outcome)
    return outcomes, []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.runtime_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("handler", help="module.function, e.g. images.handler.lambda_handler")
    parser.add_argument("event", help="JSON file with the event, or - for standard input")
    parser.add_argument("--timeout", type=float, default=INVOCATION_TIMEOUT_S, help="seconds (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        event = json.loads(sys.stdin.read() if args.event == "-" else Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2
    run = run_handler(args.handler, [event], timeout=args.timeout)
    sys.stderr.write(run.logs)
    result = run.init_error or (run.outcomes[0] if run.outcomes else None)
    if result is None:
        print(f"error: no answer from {args.handler} within {args.timeout:g} s", file=sys.stderr)
        return 2
    print(json.dumps(result.body, indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
