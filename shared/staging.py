"""Getting an object's bytes to the stripper: in memory (images) or through a temporary directory (video).

A stager reads exactly the object that was headed (its version or ETag), runs the stripper, and
yields the stripped body with the result; temporary files are gone when the `with` block ends, and
what a killed run left behind (a timeout) is removed when the next one starts.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from shared import s3io
from shared.config import MiB
from shared.errors import EnvironmentFailure, InputTooLarge, ScrubError

if TYPE_CHECKING:  # the client's types, for mypy only (botocore makes it at run time)
    from mypy_boto3_s3 import S3Client

# Room for the original and the stripped copy, plus slack for ffmpeg's own temporary data.
_DISK_FACTOR = 2
_DISK_SLACK = 16 * MiB
_PREFIX = "mediascrub-staging-"  # then the staging process's pid: mediascrub-staging-PID-XXXXXXXX
_NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device", also in ffmpeg's messages


class StripOutcome(Protocol):
    """What both strippers report (images.model.StripResult, video.strip.VideoResult): one result schema
    for both functions' log lines."""

    @property
    def format(self) -> str: ...
    @property
    def removed(self) -> dict[str, list[str]]: ...  # metadata class -> what was found; empty: already clean
    @property
    def lossless(self) -> bool: ...
    @property
    def notes(self) -> list[str]: ...


class StrippedBytes(StripOutcome, Protocol):
    """The image stripper's result: the stripped bytes too."""

    @property
    def data(self) -> bytes: ...


@dataclass
class Staged:
    """A stripper's result and the bodies to write."""

    result: StripOutcome
    stripped: bytes | Path
    original: bytes | Path
    size_after: int


class Stager(Protocol):
    def staged(self, client: S3Client, source: s3io.SourceObject) -> AbstractContextManager[Staged]: ...


@dataclass
class InMemory:
    """Images: the whole object in memory, up to `max_bytes`."""

    strip: Callable[[bytes], StrippedBytes]
    max_bytes: int

    @contextmanager
    def staged(self, client: S3Client, source: s3io.SourceObject) -> Iterator[Staged]:
        if source.size > self.max_bytes:
            raise InputTooLarge(f"object is {source.size} bytes, over MAX_IMAGE_MB ({self.max_bytes} bytes)")
        data = s3io.read_bytes(client, source)
        result = self.strip(data)
        yield Staged(result, result.data, data, len(result.data))


@dataclass
class OnDisk:
    """Video: downloaded to `directory` (the function's ephemeral storage) and stripped file to file."""

    strip_file: Callable[[Path, Path], StripOutcome]
    directory: str

    def __post_init__(self) -> None:
        remove_leftovers(self.directory)

    @contextmanager
    def staged(self, client: S3Client, source: s3io.SourceObject) -> Iterator[Staged]:
        needed = source.size * _DISK_FACTOR + _DISK_SLACK
        free = s3io.free_bytes(self.directory)
        if needed > free:
            raise InputTooLarge(f"object is {source.size / MiB:.0f} MiB; stripping needs {needed / MiB:.0f} MiB "
                                f"of temporary storage but {self.directory} has {free / MiB:.0f} MiB free "
                                "(raise the function's ephemeral storage)")
        suffix = PurePosixPath(source.location.key).suffix.lower()  # ffmpeg picks the muxer by extension
        with tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{os.getpid()}-", dir=self.directory) as work:
            original, stripped = Path(work) / f"original{suffix}", Path(work) / f"stripped{suffix}"
            try:
                s3io.read_to_file(client, source, original)
                result = self.strip_file(original, stripped)
            except (OSError, ScrubError) as exc:
                raise _no_space(exc, self.directory) or exc
            yield Staged(result, stripped, original, stripped.stat().st_size)


def _no_space(exc: OSError | ScrubError, directory: str) -> EnvironmentFailure | None:
    """A full TMP_DIR, whether Python or ffmpeg met it, is the environment's failure, not the input's."""
    full = exc.errno == errno.ENOSPC if isinstance(exc, OSError) else _NO_SPACE in exc.reason
    if not full:
        return None
    return EnvironmentFailure(f"no space left in {directory} while staging: raise the function's ephemeral "
                              "storage (or free TMP_DIR)")


def remove_leftovers(directory: str) -> None:
    """Remove the staging directories of runs that were killed (a timeout) before cleaning up: those of
    processes that no longer run, and this process's own (a restarted runtime may get the pid of the one
    that was killed; nothing is staged yet when the pipeline is built). Never those of another running
    process: a CLI run or a test session may share the directory (TMP_DIR, /tmp)."""
    for leftover in Path(directory).glob(f"{_PREFIX}*"):
        owner = leftover.name[len(_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and (int(owner) == os.getpid() or not _running(int(owner))):
            shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True
