"""Sort what a probe found into the metadata classes people ask about, and tell structure from metadata.

The same rules serve `inspect` (what is there) and the output check (nothing but structure is left).
"""
from __future__ import annotations

import re
from collections import defaultdict

from video.codecdata import xiph_comments
from video.probe import Probe, Stream, secondary_stills

# The same class names as the image stripper's (images.model.CLASSES) where they mean the same: one
# vocabulary in both Lambdas' results and log lines ("gps": a position, "camera": the device).
CLASSES = ("gps", "camera", "timestamps", "telemetry", "subtitles", "cover_art", "chapters",
           "user_data", "other")

# Tags that describe the container itself (and what ffmpeg writes in bitexact mode).
STRUCTURAL_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands"}
STRUCTURAL_STREAM_TAGS = {"language", "duration", "rotate"}  # rotation is kept on purpose
GENERIC_HANDLERS = {"VideoHandler", "SoundHandler", "SubtitleHandler", "DataHandler", ""}
GENERIC_VENDORS = {"[0][0][0][0]", "FFMP"}
BITEXACT_ENCODER = "Lavf"  # all Matroska writes with -fflags +bitexact: no version, no build

_TAG_CLASSES = (
    ("gps", re.compile(r"location|iso6709|xyz|gps|coordinat|latitude|longitude|altitude", re.IGNORECASE)),
    ("camera", re.compile(r"make|model|software|firmware|encoder|serial|android|camera|lens|device|"
                          r"vendor|handler|writing|muxing|original_format", re.IGNORECASE)),
    ("timestamps", re.compile(r"date|time|year", re.IGNORECASE)),
    ("user_data", re.compile(r"title|comment|artist|author|album|composer|genre|lyrics|copyright|"
                             r"description|keyword|grouping|track|disc|publisher|encoded_by|show|"
                             r"episode|synopsis|rating|performer|information", re.IGNORECASE)),
)
_APPLE_KEYS = "com.apple.quicktime."
_LANGUAGE_SUFFIX = re.compile(r"-[a-z]{3}$")


def is_structural(key: str, value: str, stream: bool) -> bool:
    """Whether a tag describes the file's structure rather than its author, device, place or time."""
    name = _LANGUAGE_SUFFIX.sub("", key).lower()
    if not stream:
        return name in STRUCTURAL_FORMAT_TAGS or (name == "encoder" and value == BITEXACT_ENCODER)
    if name == "handler_name":
        return value in GENERIC_HANDLERS
    if name == "vendor_id":
        return value in GENERIC_VENDORS
    return name in STRUCTURAL_STREAM_TAGS


def tag_class(key: str) -> str:
    unprefixed = key.removeprefix(_APPLE_KEYS)  # "quicktime" would read as a time
    for name, pattern in _TAG_CLASSES:
        if pattern.search(unprefixed):
            return name
    return "other"


def short(value: str, limit: int = 80) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _stream_class(stream: Stream, stills: set[int]) -> str | None:
    if stream.is_picture or stream.index in stills:
        return "cover_art"
    if stream.kind == "data":
        return "telemetry"
    if stream.kind == "subtitle":
        return "subtitles"
    if stream.kind == "attachment":
        return "cover_art" if stream.tags.get("mimetype", "").startswith("image/") else "other"
    return None


def _stream_detail(stream: Stream) -> str:
    label = stream.tags.get("handler_name") or stream.tags.get("filename") or stream.tags.get("title") or ""
    tag = f" {stream.real_codec_tag}" if stream.real_codec_tag not in ("", stream.codec) else ""
    return stream.describe() + tag + (f" ({short(label.strip(), 40)})" if label.strip() else "")


def findings(probe: Probe, boxes: list[str]) -> dict[str, list[str]]:
    """{class: [human detail]} for every tag, track, chapter and metadata box found; empty when clean."""
    places: dict[tuple[str, str], list[str]] = defaultdict(list)
    tagged = [("container", probe.tags, False)] + [(f"stream {s.index}", s.tags, True) for s in probe.streams]
    for place, tags, is_stream in tagged:
        for key, value in tags.items():
            if not is_structural(key, value, is_stream):
                places[(tag_class(key), f"{key}={short(value)}")].append(place)
    found: dict[str, list[str]] = defaultdict(list)
    for (name, detail), where in places.items():
        found[name].append(f"{detail} ({', '.join(where)})")
    stills = secondary_stills(probe.streams)
    for stream in probe.streams:
        if stream_class := _stream_class(stream, stills):
            found[stream_class].append(_stream_detail(stream))
    found["user_data"] += [f"{s.describe()} comment header: {short(text)}" for s in probe.streams
                           if (text := xiph_comments(s))]
    found["chapters"] += [f"chapter: {short(title)}" for title in probe.chapters]
    if boxes:
        found["user_data"].append("metadata boxes: " + ", ".join(boxes))
    return {name: found[name] for name in CLASSES if found.get(name)}
