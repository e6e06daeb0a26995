"""Typed errors. Each carries a one-line reason meant for a person (CLI line, log line)."""
from __future__ import annotations


class ScrubError(Exception):
    """Base of every error mediascrub raises on purpose; str() is the one-line reason."""

    kind = "error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


class UnsupportedFormat(ScrubError):
    """The content is not a format this stripper handles (whatever its extension says)."""

    kind = "unsupported format"


class MalformedInput(ScrubError):
    """Truncated, corrupt or structurally impossible input."""

    kind = "malformed input"


class InputTooLarge(ScrubError):
    """Declared dimensions, byte size or structure count beyond a configured limit."""

    kind = "input too large"


class LosslessUnsupported(ScrubError):
    """A valid file whose structure the lossless editor cannot rewrite safely (re-encode candidate)."""

    kind = "lossless path unsupported"


class VerificationFailed(ScrubError):
    """The stripped output failed a check; nothing is written."""

    kind = "verification failed"


class InvalidConfig(ScrubError):
    """An environment variable is missing or invalid: the function cannot start."""

    kind = "invalid configuration"


class EnvironmentFailure(ScrubError):
    """The function's environment failed it (no space left in TMP_DIR, ...), not the input."""

    kind = "environment failure"
