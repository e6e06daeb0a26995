"""The fallback: decode and re-encode with Pillow at the highest fidelity, writing no metadata.

Used only when the lossless path cannot handle a valid file, or for ORIENTATION=bake. The caller
logs and reports it; nothing here is silent. Nothing here builds images pixel by pixel.
"""
from __future__ import annotations

import io
import warnings

from images import exif
from images.model import Options
from shared.errors import InputTooLarge, MalformedInput, VerificationFailed

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}


def open_image(data: bytes, options: Options):
    """Decode fully with Pillow under the pixel limit; typed errors for bombs and undecodable data."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = options.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputTooLarge(str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise MalformedInput(f"Pillow cannot decode it: {exc}") from exc
    return im


def _frames(im):
    from PIL import ImageSequence

    return [frame.copy() for frame in ImageSequence.Iterator(im)]


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

    im = open_image(data, options)
    bake = options.orientation == "bake"
    frames = _frames(im)
    if bake:
        frames = [ImageOps.exif_transpose(f) for f in frames]
    out = io.BytesIO()
    args = _save_args(name, im, data, options, bake)
    if len(frames) > 1:
        args |= {"save_all": True, "append_images": frames[1:]}
    frames[0].save(out, _PIL_FORMAT[name], **args)
    return out.getvalue()


def check_decodes(name: str, original: bytes, result: bytes, options: Options) -> None:
    """The re-encoded output decodes to the expected size and number of frames."""
    if name == "heif":
        from images import heif

        heif.register_opener()
    from PIL import ImageOps

    before, after = open_image(original, options), open_image(result, options)
    expected = ImageOps.exif_transpose(before).size if options.orientation == "bake" else before.size
    if after.size != expected:
        raise VerificationFailed(f"re-encoded image is {after.size}, expected {expected}")
    if getattr(before, "n_frames", 1) != getattr(after, "n_frames", 1):
        raise VerificationFailed("re-encoded image lost frames")
