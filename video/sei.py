"""Encoder SEI in H.264/HEVC: user-data messages (x264/x265 option strings, vendor free text) inside
the coded bitstream, which a remux copies. `inspect` reports their text; the opt-in
STRIP_ENCODER_SEI drops every SEI NAL unit with ffmpeg's `filter_units` bitstream filter.
"""
from __future__ import annotations

import re
from pathlib import Path

from video.probe import INPUT_GUARD_ARGS, Stream, Tool

SEI_NAL_TYPES = {"h264": "6", "hevc": "39|40"}  # H.264 SEI; HEVC prefix and suffix SEI
PACKETS_READ = 10  # x264 writes its SEI into the first frame; phones repeat theirs in every frame
_TEXT = re.compile(rb"[\x20-\x7e]{12,}")  # a readable run that long does not occur in coded data by chance
_MAX_TEXTS = 4


def sei_filter(stream: Stream) -> str | None:
    """The `filter_units` filter that drops every SEI NAL unit of `stream`, or None for other codecs."""
    types = SEI_NAL_TYPES.get(stream.codec)
    return f"filter_units=remove_types={types}" if types else None


def _nal_units(data: bytes, length_size: int) -> list[bytes]:
    """NAL units of length-prefixed data (packets back to back are such data too)."""
    units, pos = [], 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos:pos + length_size], "big")
        units.append(data[pos + length_size:pos + length_size + size])
        pos += length_size + size
    return units


def _is_sei(unit: bytes, codec: str) -> bool:
    if not unit:
        return False
    if codec == "h264":
        return unit[0] & 0x1F == 6
    return (unit[0] >> 1) & 0x3F in (39, 40)


def _length_size(stream: Stream) -> int | None:
    """NAL length field size from the avcC/hvcC record; None for Annex B (no record)."""
    data = stream.extradata
    if stream.codec == "h264" and len(data) > 4 and data[0] == 1:
        return (data[4] & 3) + 1
    if stream.codec == "hevc" and len(data) > 21 and data[0] == 1:
        return (data[21] & 3) + 1
    return None


def _texts(chunks: list[bytes]) -> list[str]:
    found = [run.decode("ascii") for chunk in chunks for run in _TEXT.findall(chunk)]
    return list(dict.fromkeys(found))[:_MAX_TEXTS]


def sei_texts(packets: bytes, stream: Stream) -> tuple[list[str], list[str]]:
    """Readable text in the SEI NAL units of `packets` (length-prefixed), and in the hvcC record, where
    x265 puts its options as an SEI array that `filter_units` does not reach."""
    length_size = _length_size(stream)
    if length_size is None:
        return [], []
    units = [unit for unit in _nal_units(packets, length_size) if _is_sei(unit, stream.codec)]
    return _texts(units), _texts([stream.extradata]) if stream.codec == "hevc" else []


def sei_tool(path: Path, stream: Stream) -> Tool | None:
    """The ffmpeg run that reads the first packets of `stream` for sei_texts; None for codecs without SEI
    (a failed run reads as no packets)."""
    if stream.codec not in SEI_NAL_TYPES:
        return None
    return Tool(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *INPUT_GUARD_ARGS, "-i", "file:" + str(path),
                 "-map", f"0:{stream.index}", "-c", "copy", "-frames", str(PACKETS_READ), "-f", "data", "-"], "ffmpeg")
