"""Each strip parses its input once and its output once and passes the parsed form down: nothing is
remembered between strips, so threads stripping at once (the backfill does) get what one at a time
gets, and a warm Lambda holds neither the last input nor its output once `registry.strip` returns."""
from __future__ import annotations

import io
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

import heifbuild
import imaging
from images import registry
from images.model import Options
from shared.errors import MalformedInput


def _pillow(fmt: str, **save_args) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").resize((48, 32)).save(out, fmt, **save_args)
    return out.getvalue()


def _inputs() -> dict[str, bytes]:
    coded, properties = heifbuild.picture()
    exif_item = heifbuild.Item(2, "Exif", b"\x00\x00\x00\x00" + heifbuild.tiff_with_gps())
    heic = heifbuild.Heif([heifbuild.Item(1, "hvc1", coded, properties), exif_item],
                          references=[("cdsc", 2, (1,))]).build()
    return {
        "jpeg": imaging.jpeg_with(exif=imaging.full_exif()),
        "png": _pillow("PNG", exif=imaging.full_exif()),
        "webp": _pillow("WEBP", exif=imaging.full_exif()),
        "gif": _pillow("GIF", comment=b"shot at home"),
        "heif": heic,
    }


def test_strips_from_several_threads_at_once_match_one_at_a_time() -> None:
    inputs = list(_inputs().items()) * 6
    options = (Options(), Options(keep_icc=False, keep_heif_thumbnails=True))
    alone = {(name, o): registry.strip(data, o).data for name, data in inputs for o in options}
    jobs = [(name, data, o) for name, data in inputs for o in options]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            together = list(pool.map(lambda job: (job[0], job[2], registry.strip(job[1], job[2]).data), jobs))
    finally:
        sys.setswitchinterval(interval)
    assert len(together) == len(jobs)
    for name, o, out in together:
        assert out == alone[(name, o)], name


@pytest.mark.parametrize("name", ["jpeg", "png", "webp", "gif", "heif"])
@pytest.mark.parametrize("options", [Options(), Options(orientation="bake", keep_icc=False)])
def test_nothing_holds_the_input_or_the_output_after_a_strip(name: str, options: Options) -> None:
    data = _inputs()[name]
    references = sys.getrefcount(data)
    out = registry.strip(data, options).data
    assert sys.getrefcount(data) == references  # no cache, global or parsed form kept the input
    assert sys.getrefcount(out) == 2  # `out` and getrefcount's own argument: nothing else holds it


def test_nothing_holds_the_input_after_a_refused_strip() -> None:
    data = imaging.jpeg_with(exif=imaging.full_exif())[:-40]  # no EOI: refused
    references = sys.getrefcount(data)
    try:
        registry.strip(data)
    except MalformedInput:
        pass
    else:
        pytest.fail("a truncated JPEG was stripped")
    assert sys.getrefcount(data) == references
