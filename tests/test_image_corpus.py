"""Every JPEG, PNG, WebP and GIF in ../shared/corpus (chosen by content; some extensions lie),
stripped and judged: exiftool finds nothing sensitive, pixels identical on every frame, same
format, same displayed orientation, image data byte-identical."""
from __future__ import annotations

import pytest

from images import registry
from imaging import corpus_image_paths, corpus_images, displayed_size, frames, image_data, leaks

FORMATS = ("jpeg", "png", "webp", "gif")
CORPUS = corpus_images(*FORMATS)


@pytest.mark.parametrize("fmt, at_least", [("jpeg", 10), ("png", 3), ("webp", 4), ("gif", 3)])
def test_corpus_has_each_format(fmt, at_least) -> None:
    assert len(corpus_image_paths(fmt)) >= at_least


@pytest.mark.parametrize("path", CORPUS)
def test_corpus_file_is_clean_identical_and_upright(path, tmp_path) -> None:
    data = path.read_bytes()
    module = registry.detect(data)
    result = registry.strip(data)
    assert result.format == module.NAME and result.lossless
    assert registry.detect(result.data) is module
    assert leaks(result.data, tmp_path, path.suffix) == {}
    before = frames(data)
    # A JPEG keeps its primary image only: MPF secondary images (stereo views, gain maps) are dropped by design.
    assert frames(result.data) == (before[:1] if module.NAME == "jpeg" else before)
    assert displayed_size(result.data) == displayed_size(data)
    assert image_data(module, result.data) == image_data(module, data)
