"""Fixed-length byte patterns found in one pass at memory speed, for the independent byte scan and the
JPEG parser's search for the end of entropy-coded data.

Hyperscan (Intel's multi-pattern matcher; the wheels carry Vectorscan, its BSD-licensed fork) finds a
whole set of patterns in one pass at several GB/s, where bytes.find makes one pass per pattern and `re`
runs at a few hundred MB/s with an alternation.
A pattern's matches come in order (Hyperscan only reorders those of patterns with assertions, and
these have none); different patterns' matches may interleave in any order.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import NamedTuple

import hyperscan

# Hyperscan takes a block's length as 32 bits: longer data is scanned in windows overlapping by a match.
_WINDOW = 2**31


class Pattern(NamedTuple):
    expression: bytes  # Hyperscan syntax
    length: int  # every match is this long, so it starts `length` before Hyperscan's end offset
    once: bool = False  # its first match is enough


def literal(needle: bytes, once: bool = False) -> Pattern:
    # Every byte escaped: the binding passes expressions as C strings, so a literal NUL would end one.
    return Pattern("".join(f"\\x{byte:02x}" for byte in needle).encode(), len(needle), once)


class Matcher:
    """A compiled set of patterns (built on first use and kept: it holds no data), with one scratch
    space per thread (a scan's scratch is in use until it returns; the backfill strips in threads)."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = tuple(patterns)
        self._overlap = max(p.length for p in self.patterns) - 1
        self._threads = threading.local()

    @cached_property
    def _database(self) -> hyperscan.Database:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=[p.expression for p in self.patterns], ids=list(range(len(self.patterns))),
                         elements=len(self.patterns),
                         flags=[hyperscan.HS_FLAG_SINGLEMATCH if p.once else 0 for p in self.patterns])
        return database

    def _scratch(self) -> hyperscan.Scratch:
        if not hasattr(self._threads, "scratch"):
            self._threads.scratch = hyperscan.Scratch(self._database)
        return self._threads.scratch

    def each(self, data: bytes, report: Callable[[int, int], bool], start: int = 0) -> None:
        """Call `report(pattern index, offset)` for every match starting at or after `start`, until it
        returns True."""
        view = memoryview(data)
        for window in range(start, max(len(data), start + 1), _WINDOW):
            if not self._window(view, window, report):
                return

    def _window(self, view: memoryview, window: int, report: Callable[[int, int], bool]) -> bool:
        """Scan the window starting at `window`; False when `report` stopped the scan."""
        end = window + _WINDOW

        def on_match(index: int, _start: int, to: int, _flags: int, _context: object) -> bool:
            at = window + to - self.patterns[index].length
            return at < end and report(index, at)  # a match starting in the overlap is the next window's

        try:
            self._database.scan(view[window:end + self._overlap], on_match,  # type: ignore[type-var]
                                scratch=self._scratch())  # (the stub says str or bytes; any buffer is scanned)
        except hyperscan.ScanTerminated:
            return False
        return True

    def first(self, data: bytes, start: int) -> int | None:
        """Offset of the first match starting at or after `start` (a one-pattern matcher), None if none."""
        found: list[int] = []

        def stop(_index: int, at: int) -> bool:
            found.append(at)
            return True

        self.each(data, stop, start)
        return found[0] if found else None
