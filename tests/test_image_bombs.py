"""Resource bombs: the re-encode fallback and the HEIF item graph stay bounded by the file (issue 14).

Each bomb is built here, stripped in a child process with its address space capped (tests/bounded.py),
and judged by the typed outcome and the measured peak memory, never by time.
"""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bounded import strip_in_child
from images import isobmff
from images.isobmff import full_box
from imaging import heic

MB = 1 << 20
# A child that imports the stripper and Pillow uses a few tens of MB; a decoded bomb uses gigabytes.
SMALL = 150 * MB


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def apng(width: int, height: int, frames: int, forced_fallback: bool = True) -> bytes:
    """A grey APNG: the default image fills the canvas, then one-pixel frames. An unknown critical chunk
    (`ABCD`) sends it to the re-encode fallback, as anyone can."""
    fctl = ">IIIIIHHBB"  # sequence, width, height, x, y, delay num/den, dispose, blend
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
           _chunk(b"acTL", struct.pack(">II", frames, 0))]
    if forced_fallback:
        out.append(_chunk(b"ABCD", b"x"))
    out += [_chunk(b"fcTL", struct.pack(fctl, 0, width, height, 0, 0, 1, 10, 0, 0)),
            _chunk(b"IDAT", zlib.compress(b"\x00" * ((width + 1) * height), 9))]
    for frame in range(1, frames):
        sequence = 2 * frame - 1
        out += [_chunk(b"fcTL", struct.pack(fctl, sequence, 1, 1, frame % width, 0, 1, 10, 0, 0)),
                _chunk(b"fdAT", struct.pack(">I", sequence + 1) + zlib.compress(b"\x00\x80"))]
    return b"".join(out + [_chunk(b"IEND", b"")])


def gif(screen: tuple[int, int], frames: int, frame_size: tuple[int, int] = (1, 1)) -> bytes:
    """A GIF of frames alternately black and white whose graphic control extensions are 5 bytes instead
    of 4, which forces the re-encode fallback."""
    pixels = frame_size[0] * frame_size[1]
    out = [b"GIF89a", struct.pack("<HHBBB", *screen, 0x80, 0, 0), b"\x00\x00\x00\xff\xff\xff"]
    for frame in range(frames):
        out += [b"\x21\xf9\x05\x00\x0a\x00\x00\x00\x00",
                b"\x2c" + struct.pack("<HHHHB", 0, 0, *frame_size, 0), b"\x02", _one_colour_lzw(pixels, frame % 2)]
    return b"".join(out + [b"\x3b"])


def _one_colour_lzw(pixels: int, colour: int) -> bytes:
    """LZW (minimum code size 2) for `pixels` of one colour index, a clear code before every code so
    code widths stay 3 bits."""
    bits, count = 0, 0
    for code in [4, colour] * pixels + [5]:
        bits |= code << count
        count += 3
    raw = bits.to_bytes((count + 7) // 8, "little")
    return b"".join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255] for i in range(0, len(raw), 255)) + b"\x00"


def test_apng_bomb_through_the_fallback_is_refused_before_decoding(tmp_path) -> None:
    data = apng(4000, 4000, 100)  # 22 KB; 1.6 billion pixels decoded
    run = strip_in_child(data, tmp_path)
    assert run.outcome.startswith("refused InputTooLarge"), run
    assert "100 frames of 4000x4000" in run.outcome
    assert run.peak_bytes < SMALL


def test_gif_bomb_through_the_fallback_is_refused_before_decoding(tmp_path) -> None:
    data = gif((8000, 8000), 50)  # about 1 KB; 3.2 billion pixels decoded
    run = strip_in_child(data, tmp_path)
    assert run.outcome.startswith("refused InputTooLarge"), run
    assert run.peak_bytes < SMALL


def test_the_limit_counts_every_frame_not_one(tmp_path) -> None:
    data = gif((200, 200), 30)  # 40,000 pixels a frame, 1.2 million in all
    refused = strip_in_child(data, tmp_path, MAX_PIXELS="1000000")
    assert refused.outcome.startswith("refused InputTooLarge"), refused
    assert "30 frames of 200x200" in refused.outcome
    stripped = strip_in_child(data, tmp_path, MAX_PIXELS="1300000")
    assert stripped.outcome.startswith("stripped re-encoded"), stripped


def test_frames_that_grow_the_gif_canvas_are_counted_as_they_are_decoded(tmp_path) -> None:
    # The screen says 1x1, so the headers promise 20 pixels; each frame then widens the canvas.
    data = gif((1, 1), 20, frame_size=(300, 300))
    run = strip_in_child(data, tmp_path, MAX_PIXELS="1000000")
    assert run.outcome.startswith("refused InputTooLarge"), run


def test_an_animation_under_the_limit_is_re_encoded_in_bounded_memory(tmp_path) -> None:
    data = apng(1000, 1000, 30)  # 30 million pixels in all, under a 40-million limit
    run = strip_in_child(data, tmp_path, MAX_PIXELS="40000000")
    assert run.outcome.startswith("stripped re-encoded"), run
    # Bounded by the limit: at most a few bytes per decoded pixel on top of the interpreter.
    assert run.peak_bytes < SMALL + 4 * 40_000_000


def test_the_re_encoded_animation_keeps_every_frame(tmp_path) -> None:
    from images import registry
    from images.model import Options

    result = registry.strip(apng(64, 48, 5), Options())
    assert not result.lossless
    with Image.open(io.BytesIO(result.data)) as im:
        assert (im.size, im.n_frames) == ((64, 48), 5)


# ---- HEIF: the item graph ----

def heic_with_a_dense_graph(thumbnails: int, helpers: int) -> bytes:
    """A real HEIC plus `thumbnails` thumbnail items of the primary, a visible `anchor` image item (the
    highest id) and `helpers` items that each serve (`auxl`) every thumbnail and the anchor. The thumbnails go,
    the helpers stay for the anchor; a walk that re-checks whether all of a helper's masters went, at
    every thumbnail it loses, is cubic."""
    parsed = isobmff.parse(heic())
    meta, raw = parsed.meta, bytearray(parsed.data)
    primary = meta.primary
    assert primary is not None
    first = max(meta.items) + 1
    thumbs = list(range(first, first + thumbnails))
    helper_ids = list(range(first + thumbnails, first + thumbnails + helpers))
    anchor = first + thumbnails + helpers
    for item_id in thumbs + helper_ids + [anchor]:
        start = len(raw)
        hidden = item_id != anchor
        raw.extend(full_box("infe", 2, int(hidden), struct.pack(">HH4s", item_id, 0, b"hvc1") + b"\x00"))
        meta.items[item_id] = isobmff.Item(item_id, "hvc1", "", isobmff.Box("infe", start, start + 8, len(raw)),
                                           hidden=hidden)
    meta.references += [isobmff.Reference("thmb", t, (primary,)) for t in thumbs]
    meta.references += [isobmff.Reference("auxl", h, (*thumbs, anchor)) for h in helper_ids]
    if not any(child.type == "iref" for child in meta.children):  # the writer writes meta.references here
        meta.children.append(isobmff.Box("iref", 0, 0, 0))
    parsed.data = bytes(raw)
    return isobmff.without_items(parsed, set())


def test_dropping_a_dense_heif_item_graph_is_linear(tmp_path) -> None:
    # 640,000 references: a walk that re-checks subsets does about 5e8 steps and hits the CPU cap.
    data = heic_with_a_dense_graph(800, 800)
    run = strip_in_child(data, tmp_path, cpu_seconds=60)
    assert run.returncode == 0, run
    assert run.outcome.startswith("stripped lossless"), run
    assert run.peak_bytes < 1024 * MB


@pytest.mark.parametrize("thumbnails, helpers", [(3, 2), (1, 5)])
def test_the_thumbnails_go_and_the_items_still_serving_a_kept_one_stay(thumbnails, helpers) -> None:
    from images import heif, registry
    from images.model import Options

    data = heic_with_a_dense_graph(thumbnails, helpers)
    parsed = heif.parse(data, Options())
    out = registry.strip(data, Options()).data
    assert set(isobmff.parse(out).meta.items) == set(parsed.file.meta.items) - parsed.dropped_items
    assert len(parsed.dropped_items) == thumbnails
