"""The fast paths of a video strip keep every guarantee: the moov written into room reserved ahead of the
mdat (one pass, no +faststart rewrite) and the fall-back when it outgrows that room; the per-packet
report read with integer arithmetic (murmur3 digests), still exact about timestamps whatever the time
base. Cases generated with ffmpeg from lavfi sources and hand-built boxes and reports."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from shared.errors import VerificationFailed
from video.container import moov_room
from video.strip import moov_reserve, strip_file
from video.verify import HASH, PacketReport
from videokit import av_hashes, ffmpeg

CLIP = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=4", "-f", "lavfi", "-i", "sine=duration=4",
        "-c:v", "libx264", "-g", "25", "-c:a", "aac", "-shortest", "-metadata", "location=+48.85+002.29/"]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _top_level(path: Path) -> list[tuple[str, int]]:
    data, pos, boxes = path.read_bytes(), 0, []
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        boxes.append((kind.decode("latin-1"), size))
        pos += size
    return boxes


def _kinds(path: Path) -> list[str]:
    return [kind for kind, _ in _top_level(path)]


def test_moov_is_written_into_reserved_room_before_mdat(tmp_path):
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    ffmpeg(*CLIP, src)  # moov last
    assert _kinds(src).index("moov") > _kinds(src).index("mdat")
    strip_file(src, dst)
    boxes = _top_level(dst)
    kinds = [kind for kind, _ in boxes]
    assert kinds.index("moov") < kinds.index("mdat")
    moov, room = next(size for kind, size in boxes if kind == "moov"), moov_reserve(src)
    assert boxes[kinds.index("moov") + 1] == ("free", room - moov), "the rest of the reserve, as one free box"
    assert av_hashes(dst) == av_hashes(src)


def test_a_moov_outgrowing_its_room_falls_back_to_faststart(tmp_path):
    """A fragmented MP4's moov lists no samples: the output's moov, listing 5000 of them, is far larger."""
    src, dst = tmp_path / "fragmented.mp4", tmp_path / "out.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=32x32:rate=500:duration=10", "-c:v", "libx264", "-preset",
           "ultrafast", "-movflags", "frag_keyframe+empty_moov", src)
    moov, _ = moov_room(src.open("rb"), src.stat().st_size) or (0, 0)
    strip_file(src, dst)
    kinds = _kinds(dst)
    assert "moof" not in kinds and kinds.index("moov") < kinds.index("mdat")
    written = next(size for kind, size in _top_level(dst) if kind == "moov")
    assert written > moov_reserve(src) > moov, "this case must outgrow the reserve"
    assert "free" not in kinds[:kinds.index("mdat") - 1], "no reserve left behind"
    assert av_hashes(dst) == av_hashes(src)


def test_a_stripped_file_strips_to_the_same_bytes(tmp_path):
    src, once, twice = tmp_path / "in.mov", tmp_path / "once.mov", tmp_path / "twice.mov"
    ffmpeg(*CLIP, src)
    strip_file(src, once)
    strip_file(once, twice)
    assert once.read_bytes() == twice.read_bytes()


def test_moov_room_counts_free_boxes_after_moov_but_not_an_empty_one():
    moov = _box(b"moov", b"\0" * 100)
    data = _box(b"ftyp", b"isom\0\0\0\0") + moov + _box(b"free", b"\0" * 50) + _box(b"free", b"") + _box(b"mdat", b"x")
    assert moov_room(io.BytesIO(data), len(data)) == (108, 166)
    at_end = _box(b"ftyp", b"isom\0\0\0\0") + _box(b"mdat", b"x") + moov
    assert moov_room(io.BytesIO(at_end), len(at_end)) == (108, 108)
    assert moov_room(io.BytesIO(b"\0" * 16), 16) is None


def _report(tb: str, rows: list[tuple[int, int, int, int, str]]) -> bytes:
    head = f"#format: frame checksums\n#version: 2\n#hash: {HASH}\n#tb 0: {tb}\n"
    return (head + "".join(f"0, {d}, {p}, {n}, 100, {h}\n" for d, p, n, h in
                           ((d, p, n, h) for d, p, n, _, h in rows))).encode()


def _same(a: bytes, b: bytes) -> bool:
    return PacketReport.parse(a).difference(PacketReport.parse(b)) is None


def test_packet_reports_compare_instants_not_ticks():
    packets = [(0, 0, 512, 0, "a" * 32), (512, 1024, 512, 0, "b" * 32)]
    same_in_ms = [(0, 0, 33, 0, "a" * 32), (33, 67, 33, 0, "b" * 32)]
    rebased = [(d * 2, p * 2, n * 2, 0, h) for d, p, n, _, h in packets]
    assert _same(_report("1/15360", packets), _report("1/30720", rebased))
    assert not _same(_report("1/15360", packets), _report("1/1000", same_in_ms))
    moved = [packets[0], (512, 1025, 512, 0, "b" * 32)]
    assert not _same(_report("1/15360", packets), _report("1/15360", moved))
    assert PacketReport.parse(_report("1/15360", packets)).held_seconds() == pytest.approx(1536 / 15360)


def test_an_unreadable_report_fails_verification():
    with pytest.raises(VerificationFailed, match="unreadable"):
        PacketReport.parse(_report("1/0", [(0, 0, 1, 0, "a" * 32)]))
    with pytest.raises(VerificationFailed, match="unreadable"):
        PacketReport.parse(b"#tb 0: 1/25\n0, x, 0, 1, 100, ab\n")
