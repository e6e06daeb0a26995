"""Getting an object's bytes to the stripper: in memory (images) or through a temporary directory (video).

A stager reads exactly the object that was headed (its version or ETag), runs the stripper, and
yields the stripped body with the result; temporary files are gone when the `with` block ends.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from shared import s3io
from shared.config import MiB
from shared.errors import InputTooLarge

# Room for the original and the stripped copy, plus slack for ffmpeg's own temporary data.
_DISK_FACTOR = 2
_DISK_SLACK = 16 * MiB


@dataclass
class Staged:
    """A stripper result (`removed`, `lossless`, `format`, `notes`) and the bodies to write."""

    result: Any
    stripped: bytes | Path
    original: bytes | Path
    size_after: int


class Stager(Protocol):
    def staged(self, client: Any, source: s3io.SourceObject) -> AbstractContextManager[Staged]: ...


@dataclass
class InMemory:
    """Images: the whole object in memory, up to `max_bytes`."""

    strip: Callable[[bytes], Any]  # -> result with .data
    max_bytes: int

    @contextmanager
    def staged(self, client: Any, source: s3io.SourceObject) -> Iterator[Staged]:
        if source.size > self.max_bytes:
            raise InputTooLarge(f"object is {source.size} bytes, over MAX_IMAGE_MB ({self.max_bytes} bytes)")
        data = s3io.read_bytes(client, source)
        result = self.strip(data)
        yield Staged(result, result.data, data, len(result.data))


@dataclass
class OnDisk:
    """Video: downloaded to `directory` (the function's ephemeral storage) and stripped file to file."""

    strip_file: Callable[[Path, Path], Any]
    directory: str

    @contextmanager
    def staged(self, client: Any, source: s3io.SourceObject) -> Iterator[Staged]:
        needed = source.size * _DISK_FACTOR + _DISK_SLACK
        free = s3io.free_bytes(self.directory)
        if needed > free:
            raise InputTooLarge(f"object is {source.size / MiB:.0f} MiB; stripping needs {needed / MiB:.0f} MiB "
                                f"of temporary storage but {self.directory} has {free / MiB:.0f} MiB free "
                                "(raise the function's ephemeral storage)")
        suffix = PurePosixPath(source.location.key).suffix.lower()  # ffmpeg picks the muxer by extension
        with tempfile.TemporaryDirectory(prefix="mediascrub-", dir=self.directory) as work:
            original, stripped = Path(work) / f"original{suffix}", Path(work) / f"stripped{suffix}"
            s3io.read_to_file(client, source, original)
            result = self.strip_file(original, stripped)
            yield Staged(result, stripped, original, stripped.stat().st_size)
