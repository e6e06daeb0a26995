"""The fallback: decode and re-encode with Pillow at the highest fidelity, writing no metadata.

Used only when the lossless path cannot handle a valid file, or for ORIENTATION=bake. The caller
logs and reports it; nothing here is silent. Nothing here builds images pixel by pixel.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

from images import exif
from images.model import Options
from shared.errors import InputTooLarge, MalformedInput, VerificationFailed

# What Pillow and its plugins raise on data they cannot decode or encode (pillow-heif: SyntaxError for
# unsupported features; the AVIF plugin: RuntimeError for a missing image item).
DECODER_ERRORS = (OSError, ValueError, SyntaxError, RuntimeError, EOFError)
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}


def open_image(data: bytes, options: Options, name: str):
    """Decode the first frame with Pillow once the whole decode is known to stay under the pixel limit;
    typed errors for bombs and for anything Pillow cannot decode."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = options.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            count = frame_count(im, name)
            check_decoded(count * im.width * im.height, options.max_pixels, f"{count} frames of {im.width}x{im.height}")
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputTooLarge(str(exc)) from exc
    except DECODER_ERRORS as exc:
        raise MalformedInput(f"Pillow cannot decode it: {exc}") from exc
    return im


def check_decoded(pixels: int, max_pixels: int, what: str) -> None:
    """Refuse a re-encode whose frames together would decode to more than the pixel limit."""
    if pixels > max_pixels:
        raise InputTooLarge(f"re-encoding would decode {what}: {pixels} pixels, over the {max_pixels}-pixel limit")


def frame_count(im, name: str) -> int:
    """Frames the re-encode writes: every frame, but only the primary picture of a JPEG (MPO views and
    gain maps go, as on the lossless path). Pillow counts them from the headers, decoding nothing."""
    return 1 if name == "jpeg" else getattr(im, "n_frames", 1)


class _LaterFrames:
    """Frames 2..n, decoded one at a time each time a writer iterates them (Pillow's PNG writer does it
    twice), never all at once; the running total of decoded pixels is held to the limit, since a GIF
    frame can grow the canvas after the headers were counted."""

    def __init__(self, im, count: int, bake: bool, max_pixels: int) -> None:
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


def _save_args(name: str, im, data: bytes, options: Options, baked: bool) -> dict:
    args: dict = {"exif": b""}
    icc = im.info.get("icc_profile")
    if icc and options.keep_icc:
        args["icc_profile"] = icc
    if name == "jpeg":
        from PIL import JpegImagePlugin

        # quality="keep" is refused after a transpose: carry the tables and sampling ourselves.
        args |= {"qtables": im.quantization, "subsampling": JpegImagePlugin.get_sampling(im), "comment": b""}
        if im.mode == "CMYK" and "adobe" in im.info:
            args["keep_rgb"] = True
    elif name == "webp":
        from images import webp

        args |= {"lossless": webp.is_lossless(data), "quality": 100, "xmp": b""}
    elif name == "gif":
        # Per-frame durations and disposal come from each frame's own info; only the loop count is global.
        args |= {"comment": b""} | ({"loop": im.info["loop"]} if "loop" in im.info else {})
    elif name == "avif":
        args |= {"quality": 100, "subsampling": "4:4:4", "xmp": b""}
    if not baked:
        orientation = exif.kept_orientation(im.getexif().get(exif.ORIENTATION_TAG), options)
        if orientation and name in ("jpeg", "png", "webp", "avif"):  # AVIF: Pillow maps it to irot/imir
            args["exif"] = b"Exif\x00\x00" + exif.minimal_tiff(orientation) if name == "jpeg" else exif.minimal_tiff(orientation)
    return args


def reencode(name: str, data: bytes, options: Options) -> bytes:
    """Re-encode `data` (format `name`) with no metadata; bakes the orientation when asked to."""
    if name == "heif":
        from images import heif

        return heif.reencode(data, options)
    return with_pillow(name, data, options)


def with_pillow(name: str, data: bytes, options: Options) -> bytes:
    """Decode and save again with Pillow as format `name` (a key of _PIL_FORMAT), every frame kept."""
    from PIL import ImageOps

    im = open_image(data, options, name)
    bake = options.orientation == "bake"
    count = frame_count(im, name)
    first = im.copy()
    if bake:
        first = ImageOps.exif_transpose(first)
    args = _save_args(name, im, data, options, bake)
    if count > 1:
        args |= {"save_all": True, "append_images": _LaterFrames(im, count, bake, options.max_pixels)}
    out = io.BytesIO()
    try:
        first.save(out, _PIL_FORMAT[name], **args)
    except DECODER_ERRORS as exc:
        raise MalformedInput(f"Pillow cannot re-encode it: {exc}") from exc
    return out.getvalue()


def check_decodes(name: str, original: bytes, result: bytes, options: Options) -> None:
    """The re-encoded output decodes to the expected size and number of frames."""
    if name == "heif":
        from images import heif

        heif.register_opener()
    from PIL import ImageOps

    before, after = open_image(original, options, name), open_image(result, options, name)
    expected = ImageOps.exif_transpose(before).size if options.orientation == "bake" else before.size
    if after.size != expected:
        raise VerificationFailed(f"re-encoded image is {after.size}, expected {expected}")
    if frame_count(before, name) != frame_count(after, name):
        raise VerificationFailed("re-encoded image lost frames")
