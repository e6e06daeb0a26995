"""Remember a parser's last few results for the very same bytes object.

The registry asks one module about the same input and output several times (inspect, strip,
verify); parsing once each keeps a multi-megabyte strip in the milliseconds. Entries are matched by
object identity (the cache holds the object, so its id cannot be reused), never by content. Each
thread has its own entries (the local backfill strips several objects at once): a deque iterated by
one thread while another appends to it would raise. The registry calls `forget` when a strip is
done, so a warm Lambda does not hold the last object's input and output until the next one.
"""
from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_EVERY_CACHE: list[threading.local] = []


def forget() -> None:
    """Drop this thread's remembered results (and so the bytes they hold) in every cache."""
    for local in _EVERY_CACHE:
        if hasattr(local, "recent"):
            local.recent.clear()


def by_identity(size: int = 2) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def decorate(parse: Callable[..., T]) -> Callable[..., T]:
        local = threading.local()
        _EVERY_CACHE.append(local)

        @functools.wraps(parse)
        def cached(data: bytes, *args) -> T:
            if not hasattr(local, "recent"):
                local.recent = deque(maxlen=size)
            recent = local.recent
            for seen, seen_args, result in recent:
                if seen is data and seen_args == args:
                    return result
            result = parse(data, *args)
            recent.append((data, args, result))
            return result

        return cached

    return decorate
