"""Policies the stripper keeps on purpose (docs/video.md, "Policies"): the ftyp major brand stays even
when it names a maker, a rotation stored in mvhd moves to the track's tkhd, and KEEP_SUBTITLES keeps an
ASS track's [Script Info] header with the track."""
from __future__ import annotations

import struct

from video.strip import VideoOptions, inspect_file, strip_file
from videokit import ffmpeg

ROTATE_90 = (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)  # 16.16 a b u c d v, x y w (2.30)
IDENTITY = (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)



def matrix_at(data: bytes, kind: bytes) -> int:
    """Offset of the display matrix in the first mvhd or tkhd box."""
    payload = data.index(kind) + 4
    times = (16 if kind == b"mvhd" else 20) if data[payload] == 0 else (28 if kind == b"mvhd" else 32)
    return payload + 4 + times + 16  # mvhd: rate, volume, reserved; tkhd: reserved, layer, group, volume


def matrix(data: bytes, kind: bytes) -> tuple[int, ...]:
    at = matrix_at(data, kind)
    return struct.unpack(">9i", data[at:at + 36])


def test_maker_brand_kept_and_movie_rotation_moved_to_the_track(tmp_path):
    made = tmp_path / "made.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:duration=0.3", "-c:v", "libx264", "-preset", "ultrafast", made)
    data = bytearray(made.read_bytes())
    assert matrix(data, b"mvhd") == matrix(data, b"tkhd") == IDENTITY
    at = matrix_at(data, b"mvhd")
    data[at:at + 36] = struct.pack(">9i", *ROTATE_90)
    data[8:12] = b"XAVC"  # Sony's brand: kept, it is what the file is
    src = tmp_path / "sony.mp4"
    src.write_bytes(bytes(data))
    dst = tmp_path / "out.mp4"
    strip_file(src, dst)
    out = dst.read_bytes()
    assert out[8:12] == b"XAVC"
    assert matrix(out, b"mvhd") == IDENTITY and matrix(out, b"tkhd") == ROTATE_90


ASS = """[Script Info]
Title: Jane Doe subtitles
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.00,0:00:00.40,Default,,0,0,0,,Hello
"""


def test_keep_subtitles_keeps_the_ass_script_info_header(tmp_path):
    (tmp_path / "subs.ass").write_text(ASS)
    src = tmp_path / "ass.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:duration=0.5", "-i", tmp_path / "subs.ass", "-map", "0", "-map", "1",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "copy", src)
    kept, dropped = tmp_path / "kept.mkv", tmp_path / "dropped.mkv"
    strip_file(src, kept, VideoOptions(keep_subtitles=True))
    strip_file(src, dropped)
    assert b"Title: Jane Doe subtitles" in kept.read_bytes()
    assert b"Jane Doe" not in dropped.read_bytes()
    assert "subtitles" in inspect_file(src)["removes"]
