"""Plain data passed between the format modules, the registry and the callers, and the format modules'
one interface (FormatModule)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from shared.config import env_bool
from shared.errors import InputTooLarge, ScrubError

if TYPE_CHECKING:
    from images.reencode import PillowFormat

# Metadata classes reported by `inspect` and in results. "icc" and "orientation" are kept by default.
CLASSES = (
    "gps", "camera", "timestamps", "makernotes", "thumbnails", "xmp", "iptc",
    "comments", "icc", "orientation", "trailer", "other",
)
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's decompression-bomb error threshold (2x its warning)


class Span:
    """A byte range of a file, compared by content without copying it: `image_data` lists these, so the
    lossless check compares input and output in place (a copy of a multi-megabyte scan costs more than
    the comparison, and doubles the peak memory)."""

    __slots__ = ("data", "end", "start")

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.start, self.end = data, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def view(self) -> memoryview:
        return memoryview(self.data)[self.start:self.end]

    def __eq__(self, other: object) -> bool:
        """Same bytes as another span or a bytes object (a part one side rebuilt, the other kept)."""
        if isinstance(other, Span):
            other = other.view()
        elif not isinstance(other, bytes):
            return NotImplemented
        return len(self) == len(other) and self.data.startswith(other, self.start)

    __hash__ = None  # type: ignore[assignment]  # compared by content, never a dict key

    def __repr__(self) -> str:
        return f"Span({self.start}:{self.end})"


@dataclass(frozen=True)
class Options:
    """How to strip. `from_env` reads the same settings the Lambda reads."""

    orientation: str = "keep"  # "keep": minimal EXIF with Orientation only; "bake": rotate pixels (re-encode)
    keep_icc: bool = True
    keep_heif_thumbnails: bool = False
    allow_reencode: bool = True  # fallback when the lossless path cannot handle a valid file
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.orientation not in ("keep", "bake"):
            raise ScrubError(f"ORIENTATION must be 'keep' or 'bake', not {self.orientation!r}")
        if self.max_pixels <= 0:
            raise ScrubError("MAX_PIXELS must be a positive integer")

    @classmethod
    def from_env(cls) -> Options:
        try:
            max_pixels = int(os.environ.get("MAX_PIXELS") or DEFAULT_MAX_PIXELS)
        except ValueError:
            raise ScrubError(f"MAX_PIXELS must be an integer, not {os.environ['MAX_PIXELS']!r}") from None
        return cls(
            orientation=(os.environ.get("ORIENTATION") or "keep").lower(),
            keep_icc=env_bool("KEEP_ICC", True),
            keep_heif_thumbnails=env_bool("KEEP_HEIF_THUMBNAILS", False),
            allow_reencode=env_bool("ALLOW_REENCODE", True),
            max_pixels=max_pixels,
        )


def check_pixels(width: int, height: int, max_pixels: int | None, what: str = "image") -> None:
    """Refuse declared dimensions beyond the limit before anything is decoded (decompression bombs)."""
    if max_pixels is not None and width * height > max_pixels:
        raise InputTooLarge(f"declared {what} {width}x{height} pixels is over the {max_pixels}-pixel limit")


@dataclass(frozen=True)
class Finding:
    """One piece of metadata: its class, a short human description, and whether strip removes it."""

    cls: str
    detail: str
    removed: bool = True


@dataclass
class StripResult:
    data: bytes
    format: str
    lossless: bool
    removed: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def removed_classes(self) -> list[str]:
        return sorted(self.removed)


def group(findings: list[Finding], removed: bool | None = None) -> dict[str, list[str]]:
    """Findings grouped by class (the JSON shape of inspect and of results); optionally one action only."""
    out: dict[str, list[str]] = {}
    for f in findings:
        if removed is None or f.removed == removed:
            out.setdefault(f.cls, []).append(f.detail)
    return out


Parsed = TypeVar("Parsed")  # each module's own parsed form


class FormatModule(Protocol[Parsed]):
    """What every format module (images/jpeg.py, png.py, webp.py, gif.py, heif.py) implements, and all
    the registry uses of it. The registry picks one by content (`sniff`), parses the input once and the
    output once, and passes the parsed form (which carries the bytes it came from) down; mypy checks
    each module against this (images/registry.py)."""

    NAME: str
    PILLOW: PillowFormat  # how the re-encode fallback's output is decoded to check it

    def sniff(self, head: bytes) -> bool: ...  # the first bytes are this format
    def parse(self, data: bytes, options: Options) -> Parsed: ...  # MalformedInput/InputTooLarge on a bad file
    def inspect(self, parsed: Parsed, options: Options) -> list[Finding]: ...  # metadata found, and its fate
    def strip(self, parsed: Parsed, options: Options) -> bytes: ...  # lossless; LosslessUnsupported if it cannot
    def image_data(self, parsed: Parsed, options: Options) -> Sequence[bytes | Span]: ...  # must survive unchanged
    def reencode(self, data: bytes, options: Options) -> bytes: ...  # the fallback, through Pillow
