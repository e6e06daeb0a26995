"""The independent scan (`scan.leftovers`) reports exactly what the straightforward one did: one
search per signature, MPF by its own search (the reference, tests/scanref.py), so any change in findings
fails, on the corpus files (input and stripped output) and on noise with signatures planted at random."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
from images import exif, registry, scan
from images.model import Options
from scanref import reference_leftovers, reference_tiff_blocks
from shared.errors import ScrubError

BOTH = (Options(), Options(keep_icc=False))


def _ifd(endian: str, count: int, kind: int) -> bytes:
    return struct.pack(endian + "HHH", count, 0x0112, kind)


PIECES = st.sampled_from([
    b"xmpmeta", b"ns.adobe.com/x", b"ns.adobe.com/xmpmeta", b"Photoshop 3.0\x00", b"ICC_PROFILE\x00",
    b"MPF\x00", b"MPF\x00II*\x00\x08\x00\x00\x00", b"MPF\x00MM\x00*\x00\x00\x00\x08",
    b"II*\x00", b"MM\x00*", b"II*\x00\x08\x00\x00\x00" + _ifd("<", 3, 3),
    b"MM\x00*\x00\x00\x00\x08" + _ifd(">", 1, 4), b"II*\x00\x08\x00\x00\x00" + _ifd("<", 0, 3),
    b"II*\x00\x04\x00\x00\x00", b"MM\x00*\x00\x00\x00\x08" + _ifd(">", 2000, 3),
    b"II*\x00\x08\x00\x00\x00" + _ifd("<", 1, 99), exif.minimal_tiff(6), exif.minimal_tiff(1),
])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(noise=st.binary(max_size=300), plants=st.lists(st.tuples(st.integers(0, 300), PIECES), max_size=6))
def test_same_findings_as_the_reference_with_planted_signatures(noise: bytes, plants: list) -> None:
    data = noise
    for at, piece in plants:
        at = min(at, len(data))
        data = data[:at] + piece + data[at:]
    for options in BOTH:
        assert scan.leftovers(data, options) == reference_leftovers(data, options)
    assert scan.tiff_blocks(data) == reference_tiff_blocks(data)


def test_the_reference_sees_what_was_planted() -> None:
    """The comparison is not vacuous: the planted cases raise every finding the scan can report."""
    planted = (b"xx" + b"ns.adobe.com/xmpmeta" + b"Photoshop 3.0\x00ICC_PROFILE\x00"
               + b"MPF\x00II*\x00\x08\x00\x00\x00" + _ifd("<", 3, 3))
    expected = ["XMP packet", "XMP namespace", "Photoshop IRB / IPTC", "ICC profile", "MPF index",
                "EXIF/TIFF block other than Orientation"]
    assert reference_leftovers(planted, Options(keep_icc=False)) == expected
    assert scan.leftovers(planted, Options(keep_icc=False)) == expected


def _image(path) -> bool:
    try:
        registry.detect(path.read_bytes()[:64])
    except ScrubError:
        return False
    return path.stat().st_size < 12_000_000


@pytest.mark.parametrize("path", corpus.params(_image))
def test_same_findings_as_the_reference_on_corpus_files(path) -> None:
    data = path.read_bytes()
    outputs = [data]
    try:
        outputs.append(registry.strip(data).data)
    except ScrubError:
        pass  # a file the strip refuses still has its input compared
    for blob in outputs:
        for options in BOTH:
            assert scan.leftovers(blob, options) == reference_leftovers(blob, options)
