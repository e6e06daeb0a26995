"""What a strip writes, decided from the probe alone: the container and the streams to keep."""
from __future__ import annotations

from dataclasses import dataclass

from shared.errors import MalformedInput, UnsupportedFormat
from video.codecdata import check_configuration, cleaned_xiph
from video.container import Container, choose_container
from video.probe import Probe, Stream, secondary_stills


@dataclass(frozen=True)
class Plan:
    """The container to write back, and the kept streams in output order (video, audio, subtitles)."""

    container: Container
    kept: tuple[Stream, ...]
    private_rewrites: tuple[tuple[bytes, bytes], ...] = ()  # (CodecPrivate as written, cleaned) for Matroska


def plan_strip(probe: Probe, head: bytes, keep_subtitles: bool) -> Plan:
    """Choose the muxer from the content and the streams to keep (video except pictures and secondary
    stills, audio)."""
    container = choose_container(probe, head)
    kinds = ("video", "audio", "subtitle") if keep_subtitles else ("video", "audio")
    stills = secondary_stills(probe.streams)
    kept = tuple(s for kind in kinds for s in probe.streams
                 if s.kind == kind and not s.is_picture and s.index not in stills)
    if not any(s.kind in ("video", "audio") for s in kept):
        raise UnsupportedFormat("no video or audio stream to keep")
    rewrites = []
    for stream in kept:
        if not stream.codec:
            raise MalformedInput(f"{stream.describe()}: codec unknown (damaged track header)")
        check_configuration(stream)
        if cleaned := cleaned_xiph(stream):
            if container.is_iso:
                raise UnsupportedFormat(f"{stream.describe()}: its comment header cannot be emptied in {container.format}")
            rewrites.append((stream.extradata, cleaned))
    return Plan(container, kept, tuple(rewrites))
