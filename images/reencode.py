"""The fallback's toolkit: decode and re-encode with Pillow at the highest fidelity, writing no metadata.

It knows no format: each format module describes its Pillow encoder in a `PillowFormat` (the encoder
arguments that keep its fidelity) and implements its own `reencode` hook with these functions. Used only
when the lossless path cannot handle a valid file, or for ORIENTATION=bake. The caller logs and reports
it; nothing here is silent. Nothing here builds images pixel by pixel.
"""
from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from images import exif
from images.model import Options
from shared.errors import InputTooLarge, MalformedInput, VerificationFailed

# What Pillow and its plugins raise on data they cannot decode or encode (pillow-heif: SyntaxError for
# unsupported features; the AVIF plugin: RuntimeError for a missing image item).
DECODER_ERRORS = (OSError, ValueError, SyntaxError, RuntimeError, EOFError)


@dataclass(frozen=True)
class PillowFormat:
    """How one format goes through Pillow: its encoder name and the arguments that keep its fidelity."""

    name: str  # Pillow's format name: "JPEG", "PNG", ...
    encoder_args: Callable[[Any, bytes, Options], dict] = lambda im, data, options: {}
    primary_only: bool = False  # JPEG: the primary picture only (MPO views and gain maps go, as losslessly)
    exif_header: bytes = b""  # what the encoder wants before the TIFF of an EXIF block (JPEG: "Exif\0\0")
    keeps_orientation_tag: bool = True  # whether the format carries an EXIF Orientation (GIF does not)
    opener: Callable[[], None] | None = None  # registers a Pillow plugin the format needs (HEIC)


@functools.cache
def _pillow() -> Any:
    """Pillow's Image module, its own pixel limit lifted once: `open_image` checks every frame together
    against MAX_PIXELS before anything is decoded, which Pillow's per-frame check cannot."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    return Image


def open_image(data: bytes, options: Options, fmt: PillowFormat) -> Any:
    """Decode the first frame with Pillow once the whole decode is known to stay under the pixel limit;
    typed errors for bombs and for anything Pillow cannot decode."""
    if fmt.opener:
        fmt.opener()
    try:
        im = _pillow().open(io.BytesIO(data))
        count = frame_count(im, fmt)
        check_decoded(count * im.width * im.height, options.max_pixels, f"{count} frames of {im.width}x{im.height}")
        im.load()
    except DECODER_ERRORS as exc:
        raise MalformedInput(f"Pillow cannot decode it: {exc}") from exc
    return im


def check_decoded(pixels: int, max_pixels: int, what: str) -> None:
    """Refuse a re-encode whose frames together would decode to more than the pixel limit."""
    if pixels > max_pixels:
        raise InputTooLarge(f"re-encoding would decode {what}: {pixels} pixels, over the {max_pixels}-pixel limit")


def frame_count(im: Any, fmt: PillowFormat) -> int:
    """Frames the re-encode writes, counted by Pillow from the headers, decoding nothing."""
    return 1 if fmt.primary_only else getattr(im, "n_frames", 1)


class _LaterFrames:
    """Frames 2..n, decoded one at a time each time a writer iterates them (Pillow's PNG writer does it
    twice), never all at once; the running total of decoded pixels is held to the limit, since a GIF
    frame can grow the canvas after the headers were counted."""

    def __init__(self, im: Any, count: int, bake: bool, max_pixels: int) -> None:
        self.im, self.count, self.bake, self.max_pixels = im, count, bake, max_pixels

    def __iter__(self) -> Iterator:
        from PIL import ImageOps

        decoded = self.im.width * self.im.height
        for index in range(1, self.count):
            self.im.seek(index)
            decoded += self.im.width * self.im.height
            check_decoded(decoded, self.max_pixels, f"frames 1 to {index + 1}")
            frame = self.im.copy()
            yield ImageOps.exif_transpose(frame) if self.bake else frame


def _save_args(fmt: PillowFormat, im: Any, data: bytes, options: Options, baked: bool) -> dict:
    args: dict = {"exif": b""}
    icc = im.info.get("icc_profile")
    if icc and options.keep_icc:
        args["icc_profile"] = icc
    args |= fmt.encoder_args(im, data, options)
    if not baked and fmt.keeps_orientation_tag:
        orientation = exif.kept_orientation(im.getexif().get(exif.ORIENTATION_TAG), options)
        if orientation:
            args["exif"] = fmt.exif_header + exif.minimal_tiff(orientation)
    return args


def with_pillow(fmt: PillowFormat, data: bytes, options: Options) -> bytes:
    """Decode and save again with Pillow, every frame kept (the primary one only where `fmt` says so);
    bakes the orientation into the pixels under ORIENTATION=bake."""
    from PIL import ImageOps

    im = open_image(data, options, fmt)
    bake = options.orientation == "bake"
    count = frame_count(im, fmt)
    first = im.copy()
    if bake:
        first = ImageOps.exif_transpose(first)
    args = _save_args(fmt, im, data, options, bake)
    if count > 1:
        args |= {"save_all": True, "append_images": _LaterFrames(im, count, bake, options.max_pixels)}
    out = io.BytesIO()
    try:
        first.save(out, fmt.name, **args)
    except DECODER_ERRORS as exc:
        raise MalformedInput(f"Pillow cannot re-encode it: {exc}") from exc
    return out.getvalue()


def check_decodes(fmt: PillowFormat, original: bytes, result: bytes, options: Options) -> None:
    """The re-encoded output decodes to the expected size and number of frames."""
    from PIL import ImageOps

    before, after = open_image(original, options, fmt), open_image(result, options, fmt)
    expected = ImageOps.exif_transpose(before).size if options.orientation == "bake" else before.size
    if after.size != expected:
        raise VerificationFailed(f"re-encoded image is {after.size}, expected {expected}")
    if frame_count(before, fmt) != frame_count(after, fmt):
        raise VerificationFailed("re-encoded image lost frames")
