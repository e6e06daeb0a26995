"""Run a handler the way Lambda runs it, under AWS's Runtime Interface Emulator, and invoke it.

    on_host(handler, env)                      aws-lambda-rie from the pinned SAM CLI wheel (.venv-sam)
                                               running `python -m awslambdaric HANDLER` on this machine
    in_container(engine, image, memory, env)   the built image as Lambda runs it: non-root, read-only
                                               root, a writable /tmp, the function's memory, host network

Both are context managers with the same `invoke(event)`: the function's answer, and the emulator's
REPORT line for it (Duration; Max Memory Used is what the emulator is told the memory size is, not
a measurement). Every port is taken from the free ones, so several emulators can run at once.
"""
from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import yaml

from devtools.processes import end

REPO = Path(__file__).resolve().parents[1]
INVOCATIONS = "/2015-03-31/functions/function/invocations"
_START_TIMEOUT_S = 60
_REPORT = re.compile(r"^REPORT RequestId: (\S+)\s.*?(?<!Init )(?<!Billed )Duration: ([\d.]+) ms"
                     r".*?Max Memory Used: (\d+) MB", re.MULTILINE)
_INIT = re.compile(r"INIT REPORT\(durationMs: ([\d.]+)\)")


class EmulatorError(Exception):
    """The emulator did not start, or gave no answer."""


@dataclass(frozen=True)
class Invocation:
    answer: Any  # the function's JSON answer; an error is {"errorType": ..., "errorMessage": ...}
    request_id: str | None  # from the emulator's REPORT line, as are the two below
    duration_ms: float | None
    max_memory_mb: int | None

    @property
    def failed(self) -> bool:
        return isinstance(self.answer, dict) and "errorType" in self.answer


def rie_binary() -> Path:
    """The emulator the pinned SAM CLI ships for this machine (`make setup` installs it in .venv-sam)."""
    machine = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    found = sorted(REPO.glob(f".venv-sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-{machine}"))
    if not found:
        raise EmulatorError("aws-lambda-rie not found in .venv-sam (run `make setup`)")
    return found[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Emulator:
    """One emulator process (or container) serving one function; logs collected as it runs."""

    def __init__(self, command: list[str], env: dict[str, str] | None, port: int,
                 cwd: Path | None = None, container: tuple[str, str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}{INVOCATIONS}"
        self.container = container  # (engine, name) when the emulator runs in a container
        self._command, self._env, self._cwd, self._port = command, env, cwd, port
        self._lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def logs(self) -> str:
        return "".join(self._lines)

    @property
    def init_duration_ms(self) -> float | None:
        """The emulator's INIT REPORT: the runtime client starting and importing the handler module (the
        handler builds its pipeline, settings and S3 client, in its first invocation)."""
        found = _INIT.search(self.logs)
        return float(found.group(1)) if found else None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(self._command, env=self._env, cwd=self._cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._listening():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise EmulatorError(f"emulator did not start: {self.logs.strip()[-2000:] or 'no output'}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        if self.container:
            subprocess.run([self.container[0], "rm", "-f", self.container[1]], capture_output=True, timeout=60,
                           check=False)
        end(self._process, grace_seconds=30)
        if self._reader:
            self._reader.join(timeout=5)

    def invoke(self, event: Any, timeout: float = 900) -> Invocation:
        """POST the event; the answer and the REPORT line the emulator logs for it."""
        reports = len(_REPORT.findall(self.logs))
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:  # the runtime died (e.g. the handler cannot load): no REPORT line
            message = exc.read().decode(errors="replace")
            return Invocation({"errorType": f"HTTP {exc.code}", "errorMessage": message}, None, None, None)
        except OSError as exc:
            raise EmulatorError(f"no answer from {self.url}: {exc}; logs: {self.logs.strip()[-2000:]}") from exc
        deadline = time.monotonic() + 10  # the REPORT line follows the answer
        while len(found := _REPORT.findall(self.logs)) <= reports and time.monotonic() < deadline:
            time.sleep(0.05)
        report = found[reports] if len(found) > reports else None
        answer = json.loads(body) if body else None
        if report is None:
            return Invocation(answer, None, None, None)
        return Invocation(answer, report[0], float(report[1]), int(report[2]))

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self._port)) == 0

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.append(line)


def _rie_flags(port: int) -> list[str]:
    """The invocation endpoint on 127.0.0.1:port and the Runtime API on another free port."""
    return ["--runtime-interface-emulator-address", f"127.0.0.1:{port}",
            "--runtime-api-address", f"127.0.0.1:{free_port()}"]


def on_host(handler: str, env: dict[str, str], cwd: Path = REPO) -> Emulator:
    """aws-lambda-rie on this machine running the handler under this interpreter's awslambdaric.

    The processes get this environment plus env."""
    port = free_port()
    command = [str(rie_binary()), *_rie_flags(port), sys.executable, "-m", "awslambdaric", handler]
    return Emulator(command, {**os.environ, **env}, port, cwd=cwd)


def in_container(engine: str, image: str, memory_mb: int, env: dict[str, str]) -> Emulator:
    """The image's own entry point (emulator + runtime client) as Lambda runs it; S3 etc. on the host."""
    port, name = free_port(), f"mediascrub-emulator-{uuid.uuid4().hex[:12]}"
    flags = _rie_flags(port)
    settings = {**env, "RIE_ADDRESS": flags[1], "RIE_RUNTIME_API_ADDRESS": flags[3],
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
    command = [engine, "run", "--rm", "--name", name, "--init", "--read-only", "--tmpfs", "/tmp",
               "--memory", f"{memory_mb}m", "--network", "host",
               *(arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")), image]
    return Emulator(command, None, port, container=(engine, name))


def container_peak_memory_mb(emulator: Emulator) -> float | None:
    """The container's peak memory so far, from its cgroup (v1 or v2); None where the kernel keeps none."""
    if emulator.container is None:
        return None
    engine, name = emulator.container
    done = subprocess.run([engine, "exec", name, "cat", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        done = subprocess.run([engine, "exec", name, "cat", "/sys/fs/cgroup/memory.peak"],
                              capture_output=True, text=True, timeout=60, check=False)
    return int(done.stdout) / 2**20 if done.returncode == 0 and done.stdout.strip().isdigit() else None


# Settings of the template that name AWS resources, which a local run does not have: the stack's bucket
# (local runs use buckets of their own) and the function the catch-all hands videos to.
_NOT_LOCAL = {"SOURCE_BUCKETS": "", "HANDOFF_FUNCTION": ""}


def template_function(logical_id: str, template: Path = REPO / "template.yaml") -> tuple[int, dict[str, str]]:
    """MemorySize and environment of a function of the SAM template (Globals merged), default parameters,
    for a local run (the settings naming AWS resources left empty)."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, tag, node: {tag: _node_value(loader, node)})
    document = yaml.load(template.read_text(), Loader=Loader)
    defaults = {name: spec.get("Default") for name, spec in document["Parameters"].items()}
    conditions = document.get("Conditions", {})
    function = {**document["Globals"]["Function"], **document["Resources"][logical_id]["Properties"]}
    variables = {**document["Globals"]["Function"]["Environment"]["Variables"],
                 **function.get("Environment", {}).get("Variables", {})}
    return int(function["MemorySize"]), {name: str(_resolve(value, defaults, conditions))
                                         for name, value in variables.items()} | _NOT_LOCAL


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _resolve(value: Any, parameters: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """The few intrinsic functions the template's environment uses, for its default parameters."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (name, argument), = value.items()
    resolve = lambda item: _resolve(item, parameters, conditions)
    if name == "Ref":  # a parameter's default; a resource (the other function) by its logical id
        return parameters.get(argument, argument)
    if name == "Condition":
        return resolve(conditions[argument])
    if name == "If":
        return resolve(argument[1] if resolve(conditions[argument[0]]) else argument[2])
    if name == "Equals":
        return resolve(argument[0]) == resolve(argument[1])
    if name == "And":
        return all(resolve(item) for item in argument)
    if name == "Not":
        return not resolve(argument[0])
    raise ValueError(f"template: {name} is not resolved here")
