"""Image rows: the lossless strip per format (corpus), on generated 12 and 24 MP photos with a full
metadata set, next to the naive recipe (decode, rotate, putdata(list(getdata())), save), and the CLI
next to `exiftool -all=`."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench.measure import REPO, measure

CORPUS = REPO.parent / "shared" / "corpus"
FORMATS = ("jpeg", "png", "webp", "gif", "heic", "avif")


def held_files(*paths: str) -> list[bytes]:
    """The inputs in memory, as the Lambda holds its object, after one strip of each (a warm process:
    imports and compiled matchers are in place), so a measured strip counts only what it adds."""
    from images import registry

    blobs = [Path(path).read_bytes() for path in paths]
    for data in blobs:
        registry.strip(data)
    return blobs


def strip_files(blobs: list[bytes]) -> None:
    from images import registry

    for data in blobs:
        registry.strip(data)


def floor_files(blobs: list[bytes]) -> None:
    """The floor issue 15 names for a strip: two parses (the input, and a copy standing for the output),
    one scan (the byte scan's one pass), one copy."""
    from images import registry, scan
    from images.model import Options

    options = Options()
    for data in blobs:
        module = registry.detect(data)
        output = bytes(memoryview(data))
        module.image_data(module.parse(data, options), options)
        module.image_data(module.parse(output, options), options)
        scan.leftovers(output, options)


def strip_row(case: str, paths: list[Path], method: str = "lossless strip (in process)") -> dict:
    """The in-process strip, the peak memory it adds beyond the input it is handed, as a multiple of the
    input, and its time against the floor's."""
    nbytes = sum(p.stat().st_size for p in paths)
    strip = measure("bench.images:strip_files", *map(str, paths), setup="bench.images:held_files", repeat=5)
    floor = measure("bench.images:floor_files", *map(str, paths), setup="bench.images:held_files", repeat=5)
    return row(case, method, nbytes, strip,
               f"adds {strip['peak_mb'] / (nbytes / 2**20):.1f}x file size at its peak (beyond the input held); "
               f"{strip['seconds'] / floor['seconds']:.1f}x the floor's time "
               f"(two parses, one scan, one copy: {nbytes / 1e6 / floor['seconds']:.0f} MB/s)")


def naive_recipe(path: str) -> None:
    """What the blog posts do: decode, rotate, copy pixels through a Python list, save."""
    import io

    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        clean = Image.new(im.mode, im.size)
        clean.putdata(list(im.getdata()))
        clean.save(io.BytesIO(), "JPEG")


def row(case: str, method: str, nbytes: int, result: dict, notes: str = "") -> dict:
    return {"case": case, "method": method, "MB/s": nbytes / 1e6 / result["seconds"],
            "seconds": result["seconds"], "peak MB": result["peak_mb"], "notes": notes}


def _format_name(data: bytes, detect: Callable[[bytes], ModuleType]) -> str:
    """The module's name, with HEIF told apart by brand (HEIC and AVIF get a row each)."""
    name: str = detect(data).NAME
    if name == "heif":
        return "avif" if data[8:12] in (b"avif", b"avis") else "heic"
    return name


def _corpus_rows() -> list[dict]:
    from images import registry
    from shared.errors import ScrubError

    rows = []
    by_format: dict[str, list[Path]] = {}
    for path in sorted(CORPUS.iterdir()):
        try:
            by_format.setdefault(_format_name(path.read_bytes(), registry.detect), []).append(path)
        except ScrubError:
            continue
    for fmt in FORMATS:
        paths = by_format.get(fmt, [])
        if paths:
            nbytes = sum(p.stat().st_size for p in paths)
            rows.append(strip_row(f"corpus {fmt} ({len(paths)} files, {nbytes / 1e6:.1f} MB)", paths))
    return rows


def _cli_seconds(cmd: list[str], output: Path, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        output.unlink(missing_ok=True)  # exiftool refuses to overwrite
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=600)
        best = min(best, time.perf_counter() - start)
    return best


def _cli_rows(case: str, path: Path, out: Path) -> list[dict]:
    """One photo through the whole CLI process next to `exiftool -all=`, and the interpreter's own
    start-up (with the site hooks an install adds) as the floor under any Python CLI."""
    nbytes = path.stat().st_size
    ours = _cli_seconds([sys.executable, "-m", "images", "strip", str(path), "-o", str(out)], out)
    theirs = _cli_seconds(["exiftool", "-q", "-all=", "-o", str(out), str(path)], out)
    python = _cli_seconds([sys.executable, "-c", "pass"], out)
    return [{"case": case, "method": "CLI: python -m images strip", "MB/s": nbytes / 1e6 / ours, "seconds": ours,
             "notes": f"wall time, whole process; {ours / theirs:.2f}x exiftool's time (goal <= 0.6x)"},
            {"case": case, "method": "exiftool -all=", "MB/s": nbytes / 1e6 / theirs, "seconds": theirs,
             "notes": "wall time, whole process"},
            {"case": case, "method": "python -c pass", "seconds": python,
             "notes": f"the interpreter's start-up alone: {python / theirs:.2f}x exiftool's time"}]


def _batch_seconds(commands: list[list[str]], out: Path, repeat: int = 5) -> list[float]:
    """Each command's best of `repeat` rounds, the commands taking turns within a round so that load
    from elsewhere on the machine falls on all of them alike."""
    best = [float("inf")] * len(commands)
    for _ in range(repeat):
        for i, cmd in enumerate(commands):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            start = time.perf_counter()
            subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=1800)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def _batch_rows(photo: bytes, tmp: Path, count: int = 200) -> list[dict]:
    """One CLI call over `count` JPEGs next to one `exiftool -all=` call over the same directory."""
    src, out = tmp / "batch", tmp / "batch-out"
    src.mkdir()
    for i in range(count):
        (src / f"IMG_{i:04d}.jpg").write_bytes(photo)
    nbytes = count * len(photo)
    case = f"{count} JPEGs, one call ({nbytes / 1e6:.0f} MB)"
    ours, theirs = _batch_seconds([[sys.executable, "-m", "images", "strip", *map(str, sorted(src.iterdir())),
                                    "-o", str(out)],
                                   ["exiftool", "-q", "-all=", "-o", f"{out}/", str(src)]], out)
    return [{"case": case, "method": method, "MB/s": nbytes / 1e6 / seconds, "seconds": seconds, "peak MB": "",
             "notes": note}
            for method, seconds, note in (
                ("CLI: python -m images strip (one worker per core)", ours, f"{ours / theirs:.2f}x exiftool's time"),
                ("exiftool -all= -o OUT/ DIR", theirs, "keeps neither orientation nor ICC"))]


def run() -> list[dict]:
    from devtools.samples import jpeg_photo

    rows = _corpus_rows()
    with tempfile.TemporaryDirectory() as tmp:
        for megapixels, size in ((12, (4000, 3000)), (24, (6000, 4000))):
            path = Path(tmp) / f"photo{megapixels}.jpg"
            path.write_bytes(jpeg_photo(size, orientation=6))
            nbytes = path.stat().st_size
            case = f"{megapixels} MP JPEG, full EXIF/XMP/ICC/thumbnail ({nbytes / 1e6:.1f} MB)"
            strip = strip_row(case, [path])
            rows.append(strip)
            if megapixels == 12:
                naive = measure("bench.images:naive_recipe", str(path))
                rows.append(row(case, "naive recipe (getdata/putdata)", nbytes, naive,
                                 f"{naive['seconds'] / strip['seconds']:.0f}x slower than the strip"))
                rows += _cli_rows(case, path, Path(tmp) / "out.jpg")
        rows += _batch_rows(jpeg_photo((1600, 1200), orientation=6), Path(tmp))
    return rows
