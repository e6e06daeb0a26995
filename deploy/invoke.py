"""Send a sample S3 "object created" event to a container running the Runtime Interface Emulator.

    python -m deploy.invoke --bucket media --key "holiday photos/IMG_0001.JPG" [--url URL]

prints the function's answer. The key is URL-encoded the way S3 notifications encode it.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

from devtools.s3events import s3_event, s3_record

EMULATOR_URL = "http://localhost:9000/2015-03-31/functions/function/invocations"


def invoke(url: str, event: dict, timeout: float) -> str:
    """POST the event and return the function's answer (the emulator answers 200 even for errors)."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True, help="the object key, not encoded")
    parser.add_argument("--url", default=EMULATOR_URL, help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=900, help="seconds (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        print(invoke(args.url, s3_event(s3_record(args.bucket, args.key)), args.timeout))
    except (urllib.error.URLError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"invoke: no answer from {args.url}: {reason} (is `make run-image` or `make run-video` running?)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
