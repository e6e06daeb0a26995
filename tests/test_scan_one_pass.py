"""The one-pass scan (`images.scan`, one Hyperscan pass over the whole output) finds every signature
class wherever it lies: at the start, in the middle, at the end, across the boundary of the windows
that data longer than Hyperscan's 32-bit block length is scanned in, in the files of every format, and
from several threads at once. Each finding is compared with the straightforward reference (scanref)."""
from __future__ import annotations

import io
import random
import struct
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devtools import samples
from images import exif, matcher, registry, scan
from images.model import Options
from scanref import reference_leftovers, reference_tiff_blocks

NO_ICC = Options(keep_icc=False)
_IFD_LE = struct.pack("<HHH", 3, 0x0112, 3)  # three entries, the first a SHORT: plausible
_IFD_BE = struct.pack(">HHH", 1, 0x0112, 4)
# One piece per finding the scan can report, each self-contained (a TIFF header carries its IFD).
PIECES = {
    "XMP packet": b"<x:xmpmeta",
    "XMP namespace": b"http://ns.adobe.com/xap/1.0/",
    "Photoshop IRB / IPTC": b"Photoshop 3.0\x00",
    "ICC profile": b"ICC_PROFILE\x00",
    "MPF index": b"MPF\x00II*\x00\x00\x00\x00\x00",  # its TIFF header points nowhere: no EXIF finding
    "EXIF/TIFF block other than Orientation": b"II*\x00\x08\x00\x00\x00" + _IFD_LE,
}
BIG_ENDIAN_BLOCK = b"MM\x00*\x00\x00\x00\x08" + _IFD_BE
MPF_BIG_ENDIAN = b"MPF\x00MM\x00*\x00\x00\x00\x00"


def _noise(size: int) -> bytes:
    data = random.Random(15).randbytes(size)
    assert reference_leftovers(data, NO_ICC) == []  # nothing found unless planted
    return data


def _planted(data: bytes, at: int, piece: bytes) -> bytes:
    return data[:at] + piece + data[at + len(piece):]


def _spots(size: int, piece: bytes) -> tuple[int, int, int]:
    return 0, (size - len(piece)) // 2, size - len(piece)


@pytest.mark.parametrize("name", PIECES)
def test_each_signature_class_is_found_at_the_start_middle_and_end(name: str) -> None:
    noise = _noise(300_000)
    for at in _spots(len(noise), PIECES[name]):
        data = _planted(noise, at, PIECES[name])
        assert scan.leftovers(data, NO_ICC) == [name] == reference_leftovers(data, NO_ICC)


@pytest.mark.parametrize("piece", [PIECES["EXIF/TIFF block other than Orientation"], BIG_ENDIAN_BLOCK])
def test_every_tiff_block_is_reported_where_it_lies(piece: bytes) -> None:
    noise = _noise(300_000)
    data = noise
    for at in _spots(len(noise), piece):
        data = _planted(data, at, piece)
    assert scan.tiff_blocks(data) == list(_spots(len(noise), piece)) == reference_tiff_blocks(data)


def test_big_endian_mpf_and_kept_parts_as_before() -> None:
    noise = _noise(10_000)
    assert scan.leftovers(_planted(noise, 5000, MPF_BIG_ENDIAN), NO_ICC) == ["MPF index"]
    assert scan.leftovers(_planted(noise, 0, PIECES["ICC profile"]), Options()) == []  # profiles kept
    assert scan.leftovers(_planted(noise, 9974, exif.minimal_tiff(6)), NO_ICC) == []  # the Orientation block


@pytest.mark.parametrize("window", [16, 17, 31])
def test_signatures_straddling_a_window_boundary_are_found_once(monkeypatch, window: int) -> None:
    monkeypatch.setattr(matcher, "_WINDOW", window)
    blank = b"\x00" * 3 * window
    for piece in [*PIECES.values(), BIG_ENDIAN_BLOCK, MPF_BIG_ENDIAN]:
        for at in range(len(blank) - len(piece) + 1):
            data = _planted(blank, at, piece)
            assert scan.leftovers(data, NO_ICC) == reference_leftovers(data, NO_ICC) != []
            assert scan.tiff_blocks(data) == reference_tiff_blocks(data)


@settings(max_examples=300, deadline=None)
@given(window=st.integers(16, 80), noise=st.binary(max_size=400),
       plants=st.lists(st.tuples(st.integers(0, 400), st.sampled_from([*PIECES.values(), BIG_ENDIAN_BLOCK,
                                                                         exif.minimal_tiff(3)])), max_size=5))
def test_small_windows_find_what_the_reference_finds(window: int, noise: bytes, plants: list) -> None:
    data = noise
    for at, piece in plants:
        data = data[:at] + piece + data[at:]
    original = matcher._WINDOW
    matcher._WINDOW = window  # hypothesis runs many examples per test: no function-scoped monkeypatch
    try:
        for options in (Options(), NO_ICC):
            assert scan.leftovers(data, options) == reference_leftovers(data, options)
        assert scan.tiff_blocks(data) == reference_tiff_blocks(data)
    finally:
        matcher._WINDOW = original


def _avif() -> bytes:
    out = io.BytesIO()
    samples.photo((96, 64)).save(out, "AVIF", exif=samples.full_exif(6), xmp=samples.xmp_packet())
    return out.getvalue()


def _gif_with_xmp() -> bytes:
    data = samples.gif_animation(frames=2)
    xmp = samples.xmp_packet()
    blocks = b"".join(bytes((len(xmp[i:i + 255]),)) + xmp[i:i + 255] for i in range(0, len(xmp), 255))
    return data[:-1] + b"\x21\xff\x0bXMP DataXMP" + blocks + b"\x00" + data[-1:]


FORMATS = {
    "jpeg": lambda: samples.jpeg_photo(orientation=6),
    "png": lambda: samples.png_photo(orientation=6),
    "webp": samples.webp_photo,
    "gif": _gif_with_xmp,
    "heic": lambda: samples.heic_photo(orientation=6),
    "avif": _avif,
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_files_of_every_format_are_judged_as_before(fmt: str) -> None:
    data = FORMATS[fmt]()
    for options in (Options(), NO_ICC):
        assert scan.leftovers(data, options) == reference_leftovers(data, options) != []
        out = registry.strip(data, options).data
        assert scan.leftovers(out, options) == reference_leftovers(out, options) == []
    assert Image.open(io.BytesIO(data)).format is not None


def test_threads_scan_at_once_each_with_its_own_scratch_space() -> None:
    noise = _noise(2_000_000)
    blobs = [_planted(noise, at, piece) for at, piece in zip((0, 700_000, 1_999_000, 1_000_000), PIECES.values())]
    expected = [reference_leftovers(blob, NO_ICC) for blob in blobs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            assert list(pool.map(scan.leftovers, blobs, [NO_ICC] * len(blobs))) == expected
