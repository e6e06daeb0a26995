"""Video rows for `make bench`: the stripper (ffmpeg stream copy + verification) beside
`exiftool -all=`, a bare `ffmpeg -c copy`, and the bare ffmpeg passes that a verified copy needs (copy
with input hash, output hash), on a corpus file and on generated ~100 MB and ~500 MB MP4s.
Each method runs REPEATS times, alternating, and its median counts (this machine is shared and noisy);
the strip row gives its ratio to the `ffmpeg -c copy` row of the same run (goal: at most 2x) and to the
hash passes row (what is left above the passes no verified copy can skip: probes, checks, Python).

Each operation runs as its own process tree; its peak RSS is the largest resident set among that
process and everything it started (ffmpeg, ffprobe), as reported by wait4: so it is absolute
(the Python interpreter counts), unlike the in-process rows of the image benchmarks.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from video.strip import SIDE_BY_SIDE_BYTES

REPO = Path(__file__).resolve().parents[1]
CORPUS_FILE = REPO.parent / "shared" / "corpus" / "max-heromode.mp4"
CACHE = Path(tempfile.gettempdir()) / "mediascrub-bench"
GENERATED_MB = (100, 500)
CHUNK_SECONDS = 10
REPEATS = 5
STRIP, COPY, PASSES = "video strip (copy + verify)", "ffmpeg -c copy alone", "ffmpeg copy + hash passes alone"
# The passes a verified copy cannot do without, as bare ffmpeg runs, as the strip runs them: the copy
# with every input packet hashed (in the same run, or from SIDE_BY_SIDE_BYTES on by a second ffmpeg at
# the same time), then every output packet hashed; minus the probes, the checks and Python.
_COPY = 'ffmpeg -nostdin -v error -y -i "$1" -map 0:V -map "0:a?" -c copy -map_metadata -1 "$2"'
_HASH = '-map 0:V -map "0:a?" -c copy -f framehash -hash murmur3 -flush_packets 0 - >/dev/null'
_OUTPUT_HASH = 'ffmpeg -nostdin -v error -i "$2" -map 0 -c copy -f framehash -hash murmur3 -flush_packets 0 - >/dev/null'
_PASSES_IN_ONE = f"{_COPY} {_HASH} && {_OUTPUT_HASH}"
_PASSES_BESIDE = f'{_COPY} & copy=$!; ffmpeg -nostdin -v error -i "$1" {_HASH} && wait $copy && {_OUTPUT_HASH}'


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=1800)


def big_mp4(megabytes: int) -> Path:
    """A 720p MP4 of about `megabytes` with location and date tags: a 10 s chunk, stream-copied in a
    loop (cached)."""
    big = CACHE / f"video-{megabytes}MB.mp4"
    if big.exists():
        return big
    CACHE.mkdir(parents=True, exist_ok=True)
    chunk = CACHE / "chunk.mp4"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={CHUNK_SECONDS}",
            "-f", "lavfi", "-i", f"sine=duration={CHUNK_SECONDS}",
            "-c:v", "mpeg4", "-q:v", "2", "-g", "30", "-c:a", "aac", chunk)
    loops = max(1, round(megabytes * 10**6 / chunk.stat().st_size)) - 1
    partial = big.with_suffix(".part.mp4")
    _ffmpeg("-stream_loop", str(loops), "-i", chunk, "-c", "copy", "-metadata", "location=+48.8584+002.2945/",
            "-metadata", "creation_time=2024-05-01T10:00:00Z", "-metadata", "title=bench", partial)
    partial.rename(big)
    chunk.unlink()
    return big


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak MB of the process tree) of one command, which must succeed."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: nothing can block the child
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {errors.read().decode(errors='replace')[-400:]}")
    return seconds, usage.ru_maxrss / 1024


def _methods(src: Path, out: Path) -> dict[str, tuple[list[str], str]]:
    beside = src.stat().st_size >= SIDE_BY_SIDE_BYTES
    return {
        STRIP: ([sys.executable, "-m", "video", "strip", str(src), "-o", str(out)],
                (f"ffprobe; ffmpeg copy + input hash ({'a second ffmpeg beside' if beside else 'one ffmpeg'}; "
                 "SEI/MJPEG first-packet reads beside it); output ffprobe beside the output hash, the input's report "
                 "read meanwhile")),
        PASSES: (["sh", "-c", _PASSES_BESIDE if beside else _PASSES_IN_ONE, "sh", str(src), str(out)],
                 (f"copy + input hash ({'two ffmpeg at once' if beside else 'one ffmpeg'}), then output hash: "
                 "the floor of a verified copy")),
        COPY: (["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:V",
                                  "-map", "0:a?", "-c", "copy", "-map_metadata", "-1", str(out)],
                                 "no verification, no faststart: the floor"),
        "exiftool -all=": (["exiftool", "-q", "-all=", "-api", "LargeFileSupport=1", "-o", str(out), str(src)],
                           "rewrites metadata only; keeps tracks (gpmd, mebx)"),
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _rows(case: str, src: Path, work: Path) -> list[dict]:
    out = work / ("out" + src.suffix)
    methods = _methods(src, out)
    runs: dict[str, list[tuple[float, float]]] = {method: [] for method in methods}
    for _ in range(REPEATS):  # alternating, so a busy moment weighs on every method alike
        for method, (cmd, _) in methods.items():
            out.unlink(missing_ok=True)
            runs[method].append(_timed(cmd))
    out.unlink(missing_ok=True)
    megabytes = src.stat().st_size / 10**6
    seconds = {method: _median([s for s, _ in measured]) for method, measured in runs.items()}
    rows = []
    for method, (_, notes) in methods.items():
        if method in (STRIP, PASSES):
            notes += f"; {seconds[method] / seconds[COPY]:.2f}x the ffmpeg -c copy row"
        if method == STRIP:
            notes += f" (goal <= 2x), {seconds[STRIP] / seconds[PASSES]:.2f}x the hash passes row"
        rows.append({"case": f"{case} ({megabytes:,.1f} MB)", "method": method, "MB/s": megabytes / seconds[method],
                     "seconds": seconds[method], "peak MB": max(peak for _, peak in runs[method]),
                     "notes": f"{notes}; median of {REPEATS}"})
    return rows


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if CORPUS_FILE.exists():
            rows += _rows(f"video: corpus {CORPUS_FILE.name}", CORPUS_FILE, work)
        for megabytes in GENERATED_MB:
            rows += _rows("video: generated 720p MP4", big_mp4(megabytes), work)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
