"""AWS's own sample events, as the SAM CLI generates them (`sam local generate-event`), kept as JSON
fixtures in tests/events/ so event parsing is tested against AWS's shapes, not only the project's own
event builder (devtools/s3events.py). `python tests/awsevents.py` regenerates them with the pinned SAM CLI
in .venv-sam; tests/test_aws_sample_events.py checks that they are still what it generates."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).resolve().parent / "events"
SAM = REPO / ".venv-sam" / "bin" / "sam"
KEY = "uploads/my holiday+photo.jpg"  # given to the SAM CLI as is: the sample carries it unencoded

# fixture name -> the `sam local generate-event` arguments; "{s3-put}" stands for that fixture's JSON.
SAMPLES = {
    "s3-put": ["s3", "put", "--bucket", "media-bucket", "--key", KEY],
    "sqs-s3-put": ["sqs", "receive-message", "--body", "{s3-put}"],
    "sns-s3-put": ["sns", "notification", "--message", "{s3-put}"],
    "s3-batch-invocation": ["s3", "batch-invocation"],
}


def generate(name: str) -> dict:
    """The event the SAM CLI generates for fixture `name`."""
    # The SAM CLI pastes an argument into its JSON template as is: escape it as JSON string content.
    s3_put = json.dumps(json.dumps(generate("s3-put")))[1:-1] if name != "s3-put" else ""
    args = [arg.replace("{s3-put}", s3_put) for arg in SAMPLES[name]]
    done = subprocess.run([str(SAM), "local", "generate-event", *args], capture_output=True, text=True,
                          check=True, timeout=120, env={**os.environ, "SAM_CLI_TELEMETRY": "0"})
    return dict(json.loads(done.stdout))


def load(name: str) -> dict:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


if __name__ == "__main__":
    for sample in SAMPLES if len(sys.argv) < 2 else sys.argv[1:]:
        (EVENTS / f"{sample}.json").write_text(json.dumps(generate(sample), indent=2) + "\n")
        print(f"wrote tests/events/{sample}.json")
