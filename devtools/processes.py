"""Ending the local servers the tools start (the S3 server, the Lambda emulator)."""
from __future__ import annotations

import subprocess


def end(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace_seconds`; always reaped."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
