"""Codec configuration data (ffmpeg's extradata: an MP4 sample entry's avcC/hvcC, a Matroska
CodecPrivate), where a remux copies whatever an encoder or an attacker put: pure functions on bytes.

- avcC/hvcC records are measured by what ISO/IEC 14496-15 defines; bytes beyond that are refused, as a
  stream copy cannot trim them.
- Xiph (Vorbis, Theora) extradata is three laced headers; the comment header (vendor string and
  `ARTIST=...` comments) is rewritten empty.
"""
from __future__ import annotations

import struct

from shared.errors import MalformedInput
from video.probe import Stream

_AVCC_NO_EXTENSION = (66, 77, 88)  # Baseline, Main, Extended: no chroma/bit-depth extension after the PPS
_HVCC_HEADER = 22  # bytes before numOfArrays
_XIPH_COMMENT = {"vorbis": b"\x03vorbis", "theora": b"\x81theora"}


class _Reader:
    """Bounds-checked reads of big-endian fields; running past the end is an IndexError."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def skip(self, count: int) -> None:
        self.pos += count
        if self.pos > len(self.data):
            raise IndexError("configuration record cut short")

    def uint(self, size: int) -> int:
        self.skip(size)
        return int.from_bytes(self.data[self.pos - size:self.pos], "big")

    def sized_units(self, count: int) -> None:
        for _ in range(count):
            self.skip(self.uint(2))


def avcc_length(data: bytes) -> int:
    """The length of the AVCDecoderConfigurationRecord at the start of `data`."""
    reader = _Reader(data, 5)
    reader.sized_units(reader.uint(1) & 0x1F)  # SPS
    reader.sized_units(reader.uint(1))  # PPS
    if data[1] not in _AVCC_NO_EXTENSION and reader.pos < len(data):
        reader.skip(3)  # chroma format, luma and chroma bit depths
        reader.sized_units(reader.uint(1))  # SPS extensions
    return reader.pos


def hvcc_length(data: bytes) -> int:
    """The length of the HEVCDecoderConfigurationRecord at the start of `data`."""
    reader = _Reader(data, _HVCC_HEADER)
    for _ in range(reader.uint(1)):
        reader.skip(1)  # array completeness and NAL unit type
        reader.sized_units(reader.uint(2))
    return reader.pos


_RECORDS = {"h264": ("avcC", avcc_length), "hevc": ("hvcC", hvcc_length)}


def check_configuration(stream: Stream) -> None:
    """Refuse an avcC/hvcC record with bytes beyond what the codec defines (text hides there)."""
    if stream.codec not in _RECORDS or not stream.extradata.startswith(b"\x01"):
        return  # no record, or Annex B parameter sets (start codes), which carry nothing extra
    name, length = _RECORDS[stream.codec]
    try:
        defined = length(stream.extradata)
    except IndexError:
        raise MalformedInput(f"{stream.describe()}: its {name} configuration record is cut short") from None
    if defined < len(stream.extradata):
        raise MalformedInput(f"{stream.describe()}: its {name} configuration record carries "
                             f"{len(stream.extradata) - defined} bytes beyond what the codec defines")


def _xiph_split(data: bytes) -> list[bytes]:
    """The three headers of Xiph-laced extradata (count - 1, then 255-run sizes of all but the last)."""
    if len(data) < 3 or data[0] != 2:
        raise MalformedInput("Xiph codec private data is not three laced headers")
    sizes, pos = [], 1
    for _ in range(2):
        size = 0
        while pos < len(data) and data[pos] == 255:
            size, pos = size + 255, pos + 1
        if pos >= len(data):
            raise MalformedInput("Xiph codec private data cut short")
        sizes.append(size + data[pos])
        pos += 1
    first, second = data[pos:pos + sizes[0]], data[pos + sizes[0]:pos + sizes[0] + sizes[1]]
    if pos + sum(sizes) > len(data):
        raise MalformedInput("Xiph codec private data cut short")
    return [first, second, data[pos + sum(sizes):]]


def _xiph_join(headers: list[bytes]) -> bytes:
    lacing = b"".join(b"\xff" * (len(h) // 255) + bytes([len(h) % 255]) for h in headers[:2])
    return b"\x02" + lacing + b"".join(headers)


def empty_comment(codec: str) -> bytes:
    """A comment header with an empty vendor string and no comments (Vorbis ends with its framing bit)."""
    return _XIPH_COMMENT[codec] + struct.pack("<II", 0, 0) + (b"\x01" if codec == "vorbis" else b"")


def cleaned_xiph(stream: Stream) -> bytes | None:
    """The stream's extradata with an empty comment header, or None when there is nothing to clean."""
    if stream.codec not in _XIPH_COMMENT or not stream.extradata:
        return None
    headers = _xiph_split(stream.extradata)
    if not headers[1].startswith(_XIPH_COMMENT[stream.codec]):
        raise MalformedInput(f"{stream.describe()}: its second header is not a comment header")
    if headers[1] == empty_comment(stream.codec):
        return None
    return _xiph_join([headers[0], empty_comment(stream.codec), headers[2]])


def xiph_comments(stream: Stream) -> str | None:
    """What the stream's comment header says ("ARTIST=...; vendor ..."), or None when it is empty."""
    if cleaned_xiph(stream) is None:
        return None
    header = _xiph_split(stream.extradata)[1][len(_XIPH_COMMENT[stream.codec]):]
    vendor_length = int.from_bytes(header[:4], "little")
    texts: list[str] = []
    pos = 4 + vendor_length + 4
    while pos + 4 <= len(header) and len(texts) < 8:
        length = int.from_bytes(header[pos:pos + 4], "little")
        texts.append(header[pos + 4:pos + 4 + length].decode("utf-8", "replace"))
        pos += 4 + length
    return "; ".join(texts + [f"vendor {header[4:4 + vendor_length].decode('utf-8', 'replace')}"])


def opus_delay_ms(stream: Stream) -> int:
    """The Opus codec delay (OpusHead pre-skip, 48 kHz samples) in whole milliseconds, rounded as
    ffmpeg's Matroska muxer rounds it; 0 for other codecs."""
    if stream.codec != "opus" or len(stream.extradata) < 12 or not stream.extradata.startswith(b"OpusHead"):
        return 0
    pre_skip = int.from_bytes(stream.extradata[10:12], "little")
    return (pre_skip * 1000 + 24000) // 48000
