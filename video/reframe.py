"""AMR audio in 3GP/MP4 may hold several 20 ms frames per sample; ffmpeg 5.1's mov/3gp muxer takes one
frame per packet ("input is not a single packet, implement a AVParser for it"). The raw `.amr` muxer
writes the frames back to back, and its demuxer reads them one per packet: the stream goes through a
small temporary `.amr` file (AMR is 1.5 KB/s) and is muxed from there, every byte unchanged.
"""
from __future__ import annotations

from pathlib import Path

from shared.errors import MalformedInput, VerificationFailed
from video.plan import Plan
from video.probe import INPUT_GUARD_ARGS, Limits, Stream, run_tool, tool_message

REFRAMED_CODECS = {"amr_nb", "amr_wb"}
AMR_INPUT_GUARD = {"protocol_whitelist": "file", "format_whitelist": "amr", "f": "amr"}
_DATA_HASH = ["-c", "copy", "-f", "streamhash", "-hash", "sha512", "-"]  # packet bytes, however packed


def reframed_streams(plan: Plan) -> list[Stream]:
    """The kept streams that must be split one frame per packet before the ISO muxer takes them."""
    return [s for s in plan.kept if plan.container.is_iso and s.codec in REFRAMED_CODECS]


def _data_hash(report: bytes) -> str:
    return report.decode("ascii", "replace").strip().rsplit("=", 1)[-1]


def extract_frames(src: Path, stream: Stream, work: Path, limits: Limits) -> Path:
    """`stream` of `src` as a raw .amr file `work`, checked to hold exactly the input's bytes."""
    done = run_tool(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *INPUT_GUARD_ARGS, "-i", "file:" + str(src),
                     "-map", f"0:{stream.index}", "-c", "copy", "-f", "amr", "-y", "file:" + str(work),
                     "-map", f"0:{stream.index}", *_DATA_HASH], limits, "ffmpeg", src.stat().st_size)
    if done.returncode != 0:
        raise MalformedInput(f"{stream.describe()} cannot be read: {tool_message(done.stderr, src, first=True)}")
    reread = run_tool(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
                       *[arg for key, value in AMR_INPUT_GUARD.items() for arg in (f"-{key}", value)],
                       "-i", "file:" + str(work), "-map", "0:a", *_DATA_HASH], limits, "ffmpeg")
    if reread.returncode != 0 or _data_hash(reread.stdout) != _data_hash(done.stdout):
        raise VerificationFailed(f"{stream.describe()}: its frames did not survive the split into single frames")
    return work
