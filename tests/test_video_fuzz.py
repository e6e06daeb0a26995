"""A bounded fuzz run: videos made here (and the corpus's, when it is beside the clone) mutated with a
fixed seed (bit flips, overwritten runs, cut tails, box sizes changed), each stripped in-process.
Whatever happens: a typed one-line error or a clean output, never a traceback, never an output larger
than the input plus the output cap's slack, never a seeded secret or an exiftool leak in the output.
Bounded in count (MUTATIONS per input), not in time.
"""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

import corpus
from devtools import judge
from shared.errors import ScrubError
from video.strip import output_cap, strip_file

MUTATIONS = 8
SECRETS = (b"48.8584", b"Jane Doe", b"LeakCam")
TAGS = ["-metadata", "location=+48.8584+002.2945/", "-metadata", "title=Jane Doe", "-metadata", "artist=Jane Doe"]
CLIP = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5", "-f", "lavfi", "-i", "sine=duration=0.5"]
SEEDS = {
    "tags.mp4": [*CLIP, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", *TAGS],
    "keys.mov": [*CLIP, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-movflags", "use_metadata_tags",
                 "-metadata", "com.apple.quicktime.make=LeakCam", *TAGS, "-f", "mov"],
    "tags.mkv": [*CLIP, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libvorbis", *TAGS],
    "opus.webm": [*CLIP, "-c:v", "libvpx", "-c:a", "libopus", *TAGS],
    "phone.3gp": [*CLIP, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", *TAGS, "-f", "3gp"],
}
CORPUS_VIDEOS = ("with-gps.mp4", "with-gps.mov", "ftyp3gp5.mp4", "out9_sm.webm", "FLIR_Thermal.mp4")


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.choice(["flip", "run", "cut", "size"])
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == "run":
        start = rng.randrange(len(out))
        out[start:start + rng.randint(4, 64)] = bytes([rng.choice([0, 0xFF, rng.randrange(256)])]) * 64
    elif kind == "cut":
        del out[rng.randrange(len(out) // 4, len(out)):]
    else:  # a box or element size: the bytes before a known type
        spots = [i - 4 for kind in (b"moov", b"trak", b"stsz", b"stco", b"udta", b"mdat") if (i := data.find(kind)) >= 4]
        if spots:
            at = rng.choice(spots)
            out[at:at + 4] = rng.choice([0, 1, 7, 0xFFFFFFFF, rng.randrange(1 << 32)]).to_bytes(4, "big")
    return bytes(out)


def assert_survives(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / ("out-" + src.name)
    try:
        strip_file(src, dst)
    except ScrubError as refused:
        assert "\n" not in str(refused) and not dst.exists(), str(refused)
        return
    assert dst.stat().st_size <= output_cap(src.stat().st_size)
    data = dst.read_bytes()
    assert not [s for s in SECRETS if s in data], src.name
    leaks = {tag: value for tag, value in judge.leaks_in_file(str(dst)).items()
             if value != "Lavf" and not tag.endswith("SampleGroupDescription")}  # bitexact Matroska; AAC roll group
    assert leaks == {}, (src.name, leaks)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("fuzz-seeds")
    for name, args in SEEDS.items():
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(d / name)], check=True, timeout=120)
    return {name: (d / name).read_bytes() for name in SEEDS}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mutated_generated_videos_are_refused_or_clean(name, seeds, tmp_path):
    rng = random.Random(f"mediascrub-{name}")
    for n in range(MUTATIONS):
        src = tmp_path / f"{n}-{name}"
        src.write_bytes(mutate(seeds[name], rng))
        assert_survives(src, tmp_path)


@pytest.mark.parametrize("name", CORPUS_VIDEOS)
def test_mutated_corpus_videos_are_refused_or_clean(name, tmp_path):
    data = corpus.read(name)
    rng = random.Random(f"mediascrub-{name}")
    for n in range(MUTATIONS // 2):
        src = tmp_path / f"{n}-{name}"
        src.write_bytes(mutate(data, rng))
        assert_survives(src, tmp_path)
