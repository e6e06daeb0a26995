"""The copy writes its destination without truncating it (`-truncate 0`: ext4 writes back a file
truncated and rewritten when it is closed): whatever the destination held before (nothing, an empty
file as the CLI reserves, a longer file, a first attempt that the +faststart run rewrites), the output
is byte for byte the one written into a new path. Cases generated with ffmpeg from lavfi sources."""
from __future__ import annotations

import pytest

from video.strip import strip_file
from videokit import ffmpeg

CLIP = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-c:v", "libx264", "-c:a", "aac", "-shortest", "-metadata", "title=secret"]


@pytest.fixture(scope="module", params=["plain.mp4", "fragmented.mp4", "clip.mkv"])
def clip(request, tmp_path_factory):
    """An MP4 (moov written into the reserve), a fragmented MP4 (the reserve is too small: a second run
    with +faststart rewrites the file) and a Matroska file."""
    path = tmp_path_factory.mktemp("destination") / request.param
    fragments = ["-movflags", "frag_keyframe+empty_moov"] if request.param.startswith("fragmented") else []
    ffmpeg(*CLIP, *fragments, path)
    return path


@pytest.fixture(scope="module")
def fresh(clip, tmp_path_factory):
    dst = tmp_path_factory.mktemp("fresh") / ("out" + clip.suffix)
    strip_file(clip, dst)
    return dst.read_bytes()


@pytest.mark.parametrize("before", [b"", b"stale bytes that must not survive " * 100_000])
def test_an_existing_destination_comes_out_as_a_new_one(clip, fresh, tmp_path, before):
    dst = tmp_path / ("out" + clip.suffix)
    dst.write_bytes(before)
    assert len(before) == 0 or len(before) > len(fresh)
    strip_file(clip, dst)
    assert dst.read_bytes() == fresh
