"""One structured JSON log line per record, on stdout (Lambda sends it to CloudWatch Logs, where
Logs Insights queries the fields directly)."""
from __future__ import annotations

import json
import sys

_LEVELS = {"failed": "ERROR", "misrouted": "WARNING"}


def log_record(fields: dict) -> None:
    """Write `fields` (which include `outcome`) as one JSON line, with a level matching the outcome
    (a re-encode, `lossless: false`, is a WARNING: the fallback is never silent)."""
    level = _LEVELS.get(fields.get("outcome", ""), "WARNING" if fields.get("lossless") is False else "INFO")
    line = json.dumps({"level": level, **fields}, ensure_ascii=False, default=str)
    sys.stdout.write(line + "\n")  # one write: lines from concurrent records (the backfill) never interleave
    sys.stdout.flush()
