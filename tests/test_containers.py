"""Both images, built from the local Debian base and run as Lambda runs them under the Runtime Interface
Emulator (devtools/emulator.py: non-root, read-only root file system, a writable /tmp, the template's
MemorySize and environment), against the tests' S3 server (SeaweedFS on 127.0.0.1, host networking).

Needs a container engine (docker or podman; the first build needs root for debootstrap). Without one
every test here skips and says why; with MEDIASCRUB_REQUIRE_ENGINE=1 (CI) they fail instead.
Select them with `pytest -m containers`.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

import corpus
from containers import built_images, make
from devtools import samples
from devtools.emulator import Emulator, in_container, template_function
from devtools.judge import leaks_in_file
from devtools.s3events import s3_event, s3_record, uploaded
from devtools.wheelhouse import pins
from dockerfiles import REPO
from shared.guard import STRIPPED_FROM

pytestmark = [pytest.mark.containers, pytest.mark.slow]

FUNCTIONS = {"image": ("images", "ImageFunction"), "video": ("video", "VideoFunction")}
HEADERS = {"ContentType": "application/octet-stream", "CacheControl": "max-age=60",
           "ContentDisposition": 'attachment; filename="trip.bin"', "Metadata": {"owner": "ana", "trip": "lisbon"}}
KEPT = ("ContentType", "CacheControl", "ContentDisposition", "Metadata")
# ... plus the marker naming what the write was stripped from (the ETag read: these buckets are unversioned).
_MARKER = lambda head: {STRIPPED_FROM: head["ETag"].strip('"')}

# Run inside each image as its Lambda user: what the image holds besides Debian's own files.
PROBE = r"""
import json, os, shutil, sys
from importlib import metadata
docs = [name for root, _, files in os.walk("/usr/share/doc") for name in files
        if name != "copyright" and os.path.isfile(os.path.join(root, name))]
print(json.dumps({
    "uid": os.getuid(),
    "task_root": sorted(os.listdir("/var/task")),
    "distributions": sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()),
    "outside_opt_python": sorted(str(d.locate_file("")) for d in metadata.distributions()
                                 if not str(d.locate_file("")).startswith("/opt/python")),
    "tools": {tool: shutil.which(tool) for tool in ("ffmpeg", "ffprobe", "gcc", "cc", "make", "pip", "pip3")},
    "docs": len(docs),
    "python": sys.version.split()[0],
    "api_models": sorted(entry.name for entry in os.scandir("/opt/python/botocore/data") if entry.is_dir()),
}))
"""


@pytest.fixture(scope="session")
def images(engine: str) -> dict[str, str]:
    return built_images(engine)


def _emulator(engine: str, image: str, kind: str, s3_env: dict[str, str]) -> Emulator:
    """The image as Lambda runs it: the template's MemorySize and environment, S3 = the tests' server."""
    memory_mb, environment = template_function(FUNCTIONS[kind][1])
    return in_container(engine, image, memory_mb, {**environment, **s3_env})


@pytest.fixture(scope="module")
def image_lambda(engine, images, s3_env):
    with _emulator(engine, images["image"], "image", s3_env) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def video_lambda(engine, images, s3_env):
    with _emulator(engine, images["video"], "video", s3_env) as emulator:
        yield emulator


def _arm64_emulation_problem() -> str | None:
    """Why arm64 binaries cannot run here (None when QEMU is registered with binfmt's fix-binary flag)."""
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not entry.exists():
        return "no qemu-aarch64 binfmt entry (Debian: qemu-user-static; devtools/ci-services.sh registers it)"
    text = entry.read_text()
    if not text.startswith("enabled") or "F" not in next((line for line in text.splitlines()
                                                          if line.startswith("flags:")), ""):
        return "the qemu-aarch64 binfmt entry is disabled or lacks the fix-binary flag (F)"
    return None


@pytest.mark.parametrize("kind", sorted(FUNCTIONS))
def test_each_image_holds_exactly_its_package_shared_and_its_pins(engine, images, kind):
    done = subprocess.run([engine, "run", "--rm", "--read-only", "--network", "none", "--entrypoint", "python3",
                           images[kind], "-c", PROBE], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    package = FUNCTIONS[kind][0]
    assert found["uid"] != 0  # runs as an unprivileged user, as Lambda does
    assert found["task_root"] == sorted(["shared", package])
    pinned = {canonicalize_name(pin.split("==")[0]) + "==" + pin.split("==")[1]
              for pin in pins((REPO / f"requirements/{kind}.txt").read_text())}
    installed = {canonicalize_name(pin.split("==")[0]) + "==" + pin.split("==")[1] for pin in found["distributions"]}
    assert installed == pinned
    assert found["outside_opt_python"] == []
    assert found["python"].startswith("3.11.")  # Debian bookworm's python3
    tools = found["tools"]
    assert not any(tools[tool] for tool in ("gcc", "cc", "make", "pip", "pip3")), tools
    assert found["docs"] == 0  # only the copyright files Debian requires
    has_ffmpeg = bool(tools["ffmpeg"] and tools["ffprobe"])
    assert has_ffmpeg == (kind == "video")
    assert ("pillow" in {pin.split("==")[0] for pin in installed}) == (kind == "image")
    # The S3 client's model, and Lambda's for the image function's hand-over of videos; no others.
    assert found["api_models"] == {"image": ["lambda", "s3"], "video": ["s3"]}[kind]


def test_video_image_runs_debians_ffmpeg_5_1(engine, images):
    done = subprocess.run([engine, "run", "--rm", "--read-only", "--network", "none", "--entrypoint", "ffprobe",
                           images["video"], "-version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ffprobe version 5.1.") and "deb12" in done.stdout.splitlines()[0]


def _tags(s3, bucket: str, key: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def _assert_stripped_and_kept(s3, bucket: str, key: str, before: dict, tmp_path: Path) -> dict:
    after = s3.head_object(Bucket=bucket, Key=key)
    assert after["ETag"] != before["ETag"]
    for name in KEPT:
        expected = before[name] | _MARKER(before) if name == "Metadata" else before[name]
        assert after[name] == expected, name
    assert _tags(s3, bucket, key) == {"project": "trip", "ExifStripped": "True"}
    local = tmp_path / Path(key).name
    local.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert leaks_in_file(str(local)) == {}
    return after


def _upload(s3, bucket: str, key: str, body: bytes) -> dict:
    return uploaded(s3, bucket, key, body, Tagging="project=trip", **HEADERS)


GENERATED = {"holiday photos/IMG 1+2.JPG": samples.jpeg_photo, "scans/page.png": samples.png_photo,
             "phone/IMG_0042.HEIC": samples.heic_photo}


@pytest.mark.parametrize("key", sorted(GENERATED))
def test_image_lambda_strips_tags_keeps_headers_and_skips_its_own_write(image_lambda, s3, bucket, key, tmp_path):
    before = _upload(s3, bucket, key, GENERATED[key]())
    done = image_lambda.invoke(s3_event(s3_record(bucket, key, before)))
    assert done.answer == {"outcomes": {"stripped": 1}}
    assert done.duration_ms is not None  # the emulator's REPORT line for this invocation
    after = _assert_stripped_and_kept(s3, bucket, key, before, tmp_path)

    own_write = image_lambda.invoke(s3_event(s3_record(bucket, key, after)))
    assert own_write.answer == {"outcomes": {"skipped-guard": 1}}
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == after["ETag"]


@pytest.mark.parametrize("name", corpus.params(lambda path: path.name in {"Apple_iPhone_5.jpg", "arrow.heic"}))
def test_image_lambda_strips_real_uploads(image_lambda, s3, bucket, name, tmp_path):
    key = f"uploads/{name}"
    before = _upload(s3, bucket, key, corpus.read(name))
    assert image_lambda.invoke(s3_event(s3_record(bucket, key, before))).answer == {"outcomes": {"stripped": 1}}
    _assert_stripped_and_kept(s3, bucket, key, before, tmp_path)


def test_a_broken_file_fails_with_its_one_line_reason_and_stays_untouched(image_lambda, s3, bucket):
    broken = samples.jpeg_photo()[:2000]  # cut before the end of the scan: no EOI marker
    before = _upload(s3, bucket, "broken.jpg", broken)
    done = image_lambda.invoke(s3_event(s3_record(bucket, "broken.jpg", before)))
    assert done.failed
    message = done.answer["errorMessage"]
    assert "broken.jpg: malformed input" in message and "\n" not in message
    assert s3.get_object(Bucket=bucket, Key="broken.jpg")["Body"].read() == broken
    assert s3.head_object(Bucket=bucket, Key="broken.jpg")["ETag"] == before["ETag"]
    assert _tags(s3, bucket, "broken.jpg") == {"project": "trip"}


@pytest.fixture(scope="module")
def large_video(tmp_path_factory) -> bytes:
    """An MP4 larger than the template's 64 MiB multipart part size, with a GPS location, made by ffmpeg.

    MP3 audio: exiftool reads AAC's sample-group table (sgpd, the decoder's roll distance) as a tag the
    judge does not know, although it describes nothing but the audio coding."""
    path = tmp_path_factory.mktemp("large-video") / "large.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-vf", "noise=alls=60:allf=t", "-t", "9",
                    "-c:v", "mpeg4", "-q:v", "1", "-c:a", "libmp3lame", "-metadata", "location=+38.7223-009.1393/",
                    "-metadata", "make=TestCam", str(path)], check=True, timeout=600)
    data = path.read_bytes()
    assert len(data) > 64 * 1024 * 1024
    return data


def test_video_lambda_strips_a_large_video_through_tmp_and_multipart(video_lambda, s3, bucket, large_video, tmp_path):
    key = "clips/trip 1.MP4"
    before = _upload(s3, bucket, key, large_video)
    done = video_lambda.invoke(s3_event(s3_record(bucket, key, before)))
    assert done.answer == {"outcomes": {"stripped": 1}}, video_lambda.logs[-3000:]
    after = _assert_stripped_and_kept(s3, bucket, key, before, tmp_path)
    assert after["ETag"].strip('"').rpartition("-")[2].isdigit()  # a multipart upload's ETag ends in -<parts>

    own_write = video_lambda.invoke(s3_event(s3_record(bucket, key, after)))
    assert own_write.answer == {"outcomes": {"skipped-guard": 1}}


def test_the_benchmark_section_is_replaced_and_kept_by_make_bench():
    from bench.containers import SECTION, kept_section, with_section

    page = "# Benchmarks\n\ntable\n"
    once = with_section(page, f"{SECTION}\n\nfirst\n")
    twice = with_section(once, f"{SECTION}\n\nsecond\n")
    assert twice == "# Benchmarks\n\ntable\n\n## Containers\n\nsecond\n"
    assert kept_section(twice) == f"{SECTION}\n\nsecond\n" and kept_section(page) == ""


def test_arm64_images_build_and_answer_under_the_emulator(engine, s3_env):
    """linux/arm64 where QEMU user emulation can run it: built from the arm64 base, run as Lambda runs it."""
    problem = _arm64_emulation_problem()
    if problem:
        pytest.skip(f"arm64 not built: {problem}")
    done = make(engine, "build", arch="arm64")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for kind in FUNCTIONS:
        image = f"mediascrub-{kind}:arm64"
        inspected = subprocess.run([engine, "image", "inspect", "--format", "{{.Architecture}}", image],
                                   capture_output=True, text=True, timeout=60, check=True)
        assert inspected.stdout.strip() == "arm64"
        with _emulator(engine, image, kind, s3_env) as emulator:
            test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "media"}
            assert emulator.invoke(test_event).answer == {"outcomes": {}}
