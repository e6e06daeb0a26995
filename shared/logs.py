"""One structured JSON log line per record, on stdout (Lambda sends it to CloudWatch Logs, where
Logs Insights queries the fields directly), and one metrics line per invocation in CloudWatch's
embedded metric format, which CloudWatch turns into metrics with no API call: namespace `mediascrub`,
dimension `function`, one count per outcome and `reencoded`."""
from __future__ import annotations

import json
import sys
import time

_LEVELS = {"failed": "ERROR", "misrouted": "WARNING", "not-media": "WARNING"}


def log_record(fields: dict) -> None:
    """Write `fields` (which include `outcome`) as one JSON line, with a level matching the outcome
    (a re-encode, `lossless: false`, is a WARNING: the fallback is never silent)."""
    level = _LEVELS.get(fields.get("outcome", ""), "WARNING" if fields.get("lossless") is False else "INFO")
    line = json.dumps({"level": level, **fields}, ensure_ascii=False, default=str)
    _write(line)


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write: lines from concurrent records (the backfill) never interleave
    sys.stdout.flush()


METRICS_NAMESPACE = "mediascrub"


def log_metrics(function: str, counts: dict[str, int]) -> None:
    """One line of CloudWatch embedded metric format: each of `counts` as a Count metric of `function`."""
    names = sorted(counts)
    line = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": METRICS_NAMESPACE, "Dimensions": [["function"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in names]}]},
        "function": function, **{name: counts[name] for name in names}}
    _write(json.dumps(line))
