"""The JPEG parser finds the end of entropy-coded data (the first 0xFF not followed by a stuffed 0x00,
an RSTn or another 0xFF) with Hyperscan (images/matcher.py) exactly where the regular expression it
replaced found it: from any start, in data dense with those bytes, across the boundaries of the windows
that data longer than Hyperscan's 32-bit block length is scanned in."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from images import jpeg, matcher

_REFERENCE = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_BYTES = st.lists(st.sampled_from([0xFF, 0xFF, 0x00, 0xD0, 0xD7, 0xD8, 0xD9, 0xDA, 0xC4, 0x2A]), max_size=200).map(bytes)


def _reference(data: bytes, start: int) -> int | None:
    match = _REFERENCE.search(data, start)
    return None if match is None else match.start()


@settings(max_examples=500, deadline=None)
@given(data=_BYTES, start=st.integers(0, 200), window=st.integers(1, 40))
def test_the_first_marker_is_where_the_regular_expression_finds_it(data: bytes, start: int, window: int) -> None:
    start = min(start, len(data))
    original = matcher._WINDOW
    matcher._WINDOW = window  # hypothesis runs many examples per test: no function-scoped monkeypatch
    try:
        assert jpeg._MARKER_IN_SCAN.first(data, start) == _reference(data, start)
    finally:
        matcher._WINDOW = original


def test_a_marker_right_after_stuffed_bytes_and_restarts() -> None:
    data = b"\x12\xff\x00\xff\xd3\xff\xff\xff\xd9"
    assert jpeg._MARKER_IN_SCAN.first(data, 0) == 7 == _reference(data, 0)  # fill bytes before EOI
    assert jpeg._MARKER_IN_SCAN.first(data[:8], 0) is None
