"""Pick the format module by content, strip, and check the result before anyone writes it."""
from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from images import reencode, scan
from images.model import Finding, FormatModule, Options, StripResult, group
from shared.errors import InputTooLarge, LosslessUnsupported, MalformedInput, UnsupportedFormat, VerificationFailed

FORMAT_MODULES = ("jpeg", "png", "webp", "gif", "heif")
# Recognised but not handled: named in the error so the user knows what the file really is.
_KNOWN_UNSUPPORTED = (
    (b"II*\x00", "TIFF (or a TIFF-based raw such as DNG/NEF)"),
    (b"MM\x00*", "TIFF (or a TIFF-based raw such as DNG/NEF)"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"BM", "BMP"),
    (b"8BPS", "Photoshop PSD"),
    (b"%PDF", "PDF"),
)
_HEAD = 64
# The file-name suffixes each format is expected under; anything else is reported as a lying extension.
SUFFIXES = {
    "jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "png": (".png", ".apng"),
    "webp": (".webp",),
    "gif": (".gif",),
    "heif": (".heic", ".heif", ".hif", ".avif", ".heics", ".avifs"),
}


def _modules() -> Iterator[FormatModule[Any]]:
    """Format modules in order, imported only as far as needed (the JPEG path imports one)."""
    return (cast(FormatModule[Any], importlib.import_module(f"images.{name}")) for name in FORMAT_MODULES)


if TYPE_CHECKING:  # mypy checks every format module against the one interface
    from images import gif, heif, jpeg, png, webp

    _CHECKED: tuple[FormatModule[jpeg.Parsed], FormatModule[png.Parsed], FormatModule[webp.Parsed],
                    FormatModule[gif.Parsed], FormatModule[heif.Parsed]] = (jpeg, png, webp, gif, heif)


def detect(data: bytes) -> FormatModule[Any]:
    """The format module whose magic matches `data`; UnsupportedFormat otherwise."""
    if not data:
        raise MalformedInput("empty file (0 bytes)")
    head = data[:_HEAD]
    for module in _modules():
        if module.sniff(head):
            return module
    for magic, name in _KNOWN_UNSUPPORTED:
        if head.startswith(magic):
            raise UnsupportedFormat(f"content is {name}, which mediascrub does not strip")
    raise UnsupportedFormat("content is not JPEG, PNG, WebP, GIF, HEIC/HEIF or AVIF")


def recognises(head: bytes) -> bool:
    """Whether a file's first bytes are a format this package strips: decided before it is fetched whole."""
    return any(module.sniff(head[:_HEAD]) for module in _modules())


def extension_notes(suffix: str, fmt: str) -> list[str]:
    """A note when the name's suffix does not match the content (handled by content either way)."""
    if suffix.lower() in SUFFIXES.get(fmt, ()):
        return []
    return [f"extension {suffix or '(none)'} but content is {fmt}: handled as {fmt}"]


def inspect(data: bytes, options: Options | None = None) -> dict:
    """JSON-ready report: format, metadata found by class, what strip removes and what it keeps."""
    options = options or Options()
    module = detect(data)
    findings = module.inspect(module.parse(data, options), options)
    return {"format": module.NAME, "found": group(findings),
            "removes": group(findings, removed=True), "keeps": group(findings, removed=False)}


_ROTATED = re.compile(r"Orientation=[2-8]\b")  # the detail every module writes for an orientation finding


def _orientation_to_bake(findings: list[Finding], options: Options) -> bool:
    return options.orientation == "bake" and any(
        f.cls == "orientation" and _ROTATED.match(f.detail) for f in findings)


def strip(data: bytes, options: Options | None = None) -> StripResult:
    """Strip `data`, verify the result, and return it. Raises a ScrubError subclass on any failure."""
    options = options or Options()
    module = detect(data)
    parsed = module.parse(data, options)
    findings = module.inspect(parsed, options)
    result = StripResult(data=b"", format=module.NAME, lossless=True,
                         removed=group(findings, removed=True), kept=group(findings, removed=False))
    if _orientation_to_bake(findings, options):
        _reencode_into(result, module, data, options, "ORIENTATION=bake")
    else:
        try:
            result.data = module.strip(parsed, options)
        except LosslessUnsupported as exc:
            if not options.allow_reencode:
                raise
            _reencode_into(result, module, data, options, exc.reason)
    verify(module, parsed, result, options)
    return result


def _reencode_into(result: StripResult, module: FormatModule[Any], data: bytes, options: Options, why: str) -> None:
    """The fallback, never silent: logged as a warning, and the reason kept in the result's notes."""
    import logging  # only the fallback logs: a lossless strip, and the CLI's start-up, do without it

    logging.getLogger("mediascrub.images").warning("re-encoding %s image: %s", module.NAME, why,
                                                   extra={"reencode_reason": why})
    result.data, result.lossless = module.reencode(data, options), False
    result.notes.append(f"re-encoded: {why}")


def verify(module: FormatModule[Any], original: Any, result: StripResult, options: Options) -> None:
    """Fail closed: the output must parse as the same format, keep its image data, and hold no metadata.
    `original` is the input as `module.parse` returned it."""
    out = result.data
    try:
        same_format = module.sniff(out[:_HEAD])
        parsed_out = module.parse(out, options)
        leftovers = [f for f in module.inspect(parsed_out, options) if f.removed]
        if result.lossless and module.image_data(parsed_out, options) != module.image_data(original, options):
            raise VerificationFailed(f"{module.NAME} image data changed on the lossless path")
    except (MalformedInput, InputTooLarge) as exc:
        raise VerificationFailed(f"stripped {module.NAME} does not parse again ({exc.reason})") from exc
    if not same_format:
        raise VerificationFailed(f"stripped output is no longer {module.NAME}")
    if leftovers:
        raise VerificationFailed(f"metadata left after stripping: {leftovers[0].cls} ({leftovers[0].detail})")
    found = scan.leftovers(out, options)
    if found:
        raise VerificationFailed(f"independent scan found {found[0]} in the output")
    if not result.lossless:
        reencode.check_decodes(module.PILLOW, original.data, out, options)
