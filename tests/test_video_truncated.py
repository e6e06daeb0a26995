"""A Matroska/WebM file cut short while its header still declares the whole duration is refused as
truncated, saying how much of the declared duration it holds; the whole file strips."""
from __future__ import annotations

import pytest

from shared.errors import MalformedInput
from video.strip import check_complete, strip_file
from videokit import ffmpeg


@pytest.mark.parametrize("suffix, codecs", [("mkv", ["-c:v", "libx264", "-c:a", "libopus"]),
                                            ("webm", ["-c:v", "libvpx", "-c:a", "libvorbis"])])
def test_a_cut_matroska_file_is_refused_as_truncated_with_what_it_holds(suffix, codecs, tmp_path):
    whole = tmp_path / f"whole.{suffix}"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=4", "-f", "lavfi", "-i", "sine=duration=4",
           *codecs, whole)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(data[:len(data) * 6 // 10])
    with pytest.raises(MalformedInput, match=r"truncated: the file holds [0-3]\.\d\d s of the 4\.0\d s its header "
                                             r"declares \(\d\d%\)") as caught:
        strip_file(cut, tmp_path / f"out.{suffix}")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / f"out.{suffix}").exists()
    strip_file(whole, tmp_path / f"whole-out.{suffix}")


def test_completeness_tolerates_rounding_and_a_short_last_frame():
    check_complete(4.008, 4.0)
    check_complete(None, 1.0)
    check_complete(60.0, 59.0)
    with pytest.raises(MalformedInput, match="holds 30.00 s of the 60.00 s"):
        check_complete(60.0, 30.0)
