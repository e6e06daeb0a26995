"""`make bench-containers`: both images' sizes and their emulator figures, written to the section
"## Containers" of docs/benchmarks.md (the rest of the file is `make bench`'s).

Each image runs as tests/test_containers.py runs it (devtools/emulator.py: the template's memory and
environment, read-only root, /tmp on tmpfs) against a local SeaweedFS server; every case is one S3
event for one uploaded sample. The first invocation of each image carries the cold start.

    python -m bench.containers [docker|podman]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from devtools import samples
from devtools.emulator import container_peak_memory_mb, in_container, template_function
from devtools.s3events import s3_event, s3_record, uploaded

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## Containers"
ARCH = "amd64"
COLUMNS = ("image", "case", "input MB", "Init Duration ms", "Duration ms", "Max Memory Used MB", "container peak MB")


def _large_video(path: Path) -> None:
    """About 80 MB of noisy 640x360 MPEG-4: more than one 64 MiB part, so it is written back in parts."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                    "-vf", "noise=alls=60:allf=t", "-t", "9", "-c:v", "mpeg4", "-q:v", "1",
                    "-metadata", "location=+38.7223-009.1393/", str(path)], check=True, timeout=600)


# (case, key, writes the sample to the path it is given)
CASES: dict[str, list[tuple[str, str, Callable[[Path], object]]]] = {
    "image": [("12 MP JPEG, full EXIF/XMP/thumbnail", "photo.jpg",
               lambda path: path.write_bytes(samples.jpeg_photo((4000, 3000)))),
              ("PNG with text chunks and eXIf", "scan.png", lambda path: path.write_bytes(samples.png_photo())),
              ("HEIC with EXIF GPS and XMP", "phone.heic", lambda path: path.write_bytes(samples.heic_photo()))],
    "video": [("1 s MP4 with location, device tags, timecode track", "clip.mp4",
               lambda path: samples.video_clip(str(path))),
              ("80 MB MP4 (multipart write-back)", "large.mp4", _large_video)],
}


def _image_size_mb(engine: str, image: str) -> float:
    done = subprocess.run([engine, "image", "inspect", "--format", "{{.Size}}", image],
                          capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout) / 1e6


def measure(engine: str, client, bucket: str, env: dict[str, str], workdir: Path) -> tuple[dict, list[dict]]:
    """(image -> size MB, one row per case)."""
    sizes, rows = {}, []
    for kind, cases in CASES.items():
        image = f"mediascrub-{kind}:{ARCH}"
        sizes[kind] = _image_size_mb(engine, image)
        memory_mb, environment = template_function(f"{kind.capitalize()}Function")
        with in_container(engine, image, memory_mb, {**environment, **env}) as emulator:
            for index, (case, key, make) in enumerate(cases):
                make(workdir / key)
                body = (workdir / key).read_bytes()
                head = uploaded(client, bucket, key, body)
                done = emulator.invoke(s3_event(s3_record(bucket, key, head)))
                if done.answer != {"outcomes": {"stripped": 1}}:
                    raise SystemExit(f"{kind} {key}: {done.answer}\n{emulator.logs[-3000:]}")
                rows.append({"image": kind, "case": case, "input MB": len(body) / 1e6,
                             "Init Duration ms": emulator.init_duration_ms if index == 0 else "",
                             "Duration ms": done.duration_ms, "Max Memory Used MB": done.max_memory_mb,
                             "container peak MB": container_peak_memory_mb(emulator)})
    return sizes, rows


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def section(sizes: dict, rows: list[dict], engine: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    table += ["| " + " | ".join(_cell(row.get(column)) for column in COLUMNS) + " |" for row in rows]
    size_lines = "\n".join(f"- `mediascrub-{kind}:{ARCH}`: {size:,.0f} MB (uncompressed, as `{engine} images` "
                           f"shows it)" for kind, size in sizes.items())
    return (f"{SECTION}\n\nWritten by `make bench-containers` on {stamp} ({engine}, linux/{ARCH}, the "
            f"debootstrapped bookworm base).\n\n{size_lines}\n\n"
            "Each row is one S3 event under the Runtime Interface Emulator in the image, run as Lambda runs "
            "it (the template's MemorySize and environment, read-only root, /tmp on tmpfs) against a local "
            "SeaweedFS server. Init Duration is the emulator's INIT REPORT: the runtime client starting and "
            "importing the handler module. The handlers' own cold start (settings, the stripper's imports, the "
            "S3 client) runs in their first invocation, so the first Duration of each image includes it. "
            "Duration is the emulator's REPORT line. The emulator's "
            "Max Memory Used only repeats the configured memory size (it measures nothing), so the last "
            "column is the container's peak memory so far from its cgroup (tmpfs /tmp counts towards it).\n\n"
            + "\n".join(table) + "\n")


def with_section(text: str, new_section: str) -> str:
    """text with its containers section replaced by (or, when absent, followed by) new_section."""
    head, found, rest = text.partition(SECTION)
    after = rest[rest.find("\n## "):] if found and "\n## " in rest else ""
    return head.rstrip("\n") + "\n\n" + new_section + after


def kept_section(text: str) -> str:
    """The containers section of text ("" when absent), for `make bench` to keep."""
    _, found, rest = text.partition(SECTION)
    return found + (rest[:rest.find("\n## ")] if "\n## " in rest else rest) if found else ""


def main(argv: list[str]) -> int:
    engine = argv[0] if argv else next((n for n in ("docker", "podman") if shutil.which(n)), "docker")
    from devtools.s3server import S3Server
    from shared.s3io import make_client

    with tempfile.TemporaryDirectory() as scratch, S3Server(Path(scratch) / "s3") as server:
        env = server.client_env()
        os.environ.update(env)
        client = make_client()
        client.create_bucket(Bucket="bench")
        sizes, rows = measure(engine, client, "bench", env, Path(scratch))
    text = section(sizes, rows, engine)
    print(text)
    OUT.write_text(with_section(OUT.read_text() if OUT.exists() else "# Benchmarks\n", text))
    print(f"written to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
