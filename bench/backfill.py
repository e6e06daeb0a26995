"""Backfill rows for `make bench`: the local backfill (`shared.backfill`) over a bucket of the local S3
server (SeaweedFS, on this machine too), photos and clips generated here, on one core (concurrency 1)
and on every core. Each row's notes give objects/s, MB/s per core and the Lambda-side figure the cost
estimate of `make backfill` uses (deploy/batchjobs.py): objects (photos) or MB (clips) per GB-second
at the function's memory, taking one core here for the vCPU share Lambda gives that memory.
"""
from __future__ import annotations

import io
import os
import subprocess
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

PHOTOS = 120  # 3 MP JPEG and HEIC photos, half each
CLIPS = 6  # 10 s 720p MP4 clips
MEMORY_GB = {"image": 2.0, "video": 3008 / 1024}  # template.yaml MemorySize


def _photos() -> dict[str, bytes]:
    from devtools import samples

    jpeg, heic = samples.jpeg_photo((2048, 1536)), samples.heic_photo((2048, 1536))
    return {f"photos/{i:04d}.{'jpg' if i % 2 else 'heic'}": jpeg if i % 2 else heic for i in range(PHOTOS)}


def _clips(directory: Path) -> dict[str, bytes]:
    clip = directory / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30:duration=10", "-f", "lavfi", "-i", "sine=duration=10",
                    "-c:v", "mpeg4", "-q:v", "4", "-c:a", "aac", "-metadata", "location=+48.8584+002.2945/",
                    "-metadata", "creation_time=2024-05-01T10:00:00Z", str(clip)], check=True, timeout=600)
    return {f"clips/{i:02d}.mp4": clip.read_bytes() for i in range(CLIPS)}


def _backfill(client, objects: dict[str, bytes], concurrency: int, work: Path) -> tuple[float, int]:
    """(seconds, bytes) of one local backfill of a fresh bucket holding `objects`."""
    from shared.backfill import Backfill, pipelines

    bucket = f"bench-{time.monotonic_ns()}"
    client.create_bucket(Bucket=bucket)
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    run = Backfill(client, pipelines(), work / f"{bucket}.csv", concurrency)
    with redirect_stdout(io.StringIO()):  # the pipeline's JSON log lines
        start = time.perf_counter()
        progress = run.run(bucket, "", out=io.StringIO())
        seconds = time.perf_counter() - start
    assert progress.outcomes == {"stripped": len(objects)}, progress.outcomes
    return seconds, sum(map(len, objects.values()))


def _row(case: str, kind: str, objects: int, concurrency: int, seconds: float, size: int) -> dict:
    cores = min(concurrency, os.cpu_count() or 1)
    per_core = size / 1e6 / seconds / cores
    if kind == "image":
        lambda_figure = f"Lambda: {objects / seconds / cores / MEMORY_GB[kind]:.1f} photos per GB-second"
    else:
        lambda_figure = f"Lambda: {per_core / MEMORY_GB[kind]:.1f} MB per GB-second"
    return {"case": case, "method": f"local backfill, concurrency {concurrency}", "MB/s": size / 1e6 / seconds,
            "seconds": seconds, "notes": f"{objects / seconds:.1f} objects/s, {per_core:.1f} MB/s per core "
                                         f"(the S3 server shares the cores); {lambda_figure}"}


def run() -> list[dict]:
    from devtools.s3server import S3Server
    from shared.s3io import make_client

    rows = []
    with tempfile.TemporaryDirectory(prefix="mediascrub-bench-") as tmp:
        work = Path(tmp)
        photos, clips = _photos(), _clips(work)
        with S3Server(work / "s3") as server:
            os.environ.update(server.client_env())
            client = make_client()
            photo_mb, clip_mb = sum(map(len, photos.values())) / 1e6, sum(map(len, clips.values())) / 1e6
            for concurrency in (1, os.cpu_count() or 1):
                seconds, size = _backfill(client, photos, concurrency, work)
                rows.append(_row(f"backfill: {PHOTOS} 3 MP photos, JPEG/HEIC ({photo_mb:.0f} MB)", "image",
                                 PHOTOS, concurrency, seconds, size))
                seconds, size = _backfill(client, clips, concurrency, work)
                rows.append(_row(f"backfill: {CLIPS} 720p MP4 clips ({clip_mb:.0f} MB)", "video",
                                 CLIPS, concurrency, seconds, size))
    return rows
