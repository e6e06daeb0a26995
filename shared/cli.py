"""The command-line frame both `python -m images` and `python -m video` use.

    strip IN [IN ...] -o OUT [-j N]   OUT is a file for one input, a directory for several (same names);
                                      several inputs are stripped by N worker processes (default: one
                                      per core), their lines printed in input order
    inspect IN [IN ...]               JSON of the metadata found, by class, and what strip would remove

Outputs are written to a temporary file beside the target and renamed into place only after the
stripper returned (and so verified) its result: a failure never leaves a partial file. They get the
permissions any new file gets (0666 less the umask), not the temporary file's 0600.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ScrubError


@dataclass
class Outcome:
    """What one successful strip reports on its CLI line."""

    summary: str
    lossless: bool = True


StripFile = Callable[[Path, Path], Outcome]
InspectFile = Callable[[Path], dict]


def _targets(inputs: list[Path], out: Path) -> list[Path]:
    if len(inputs) == 1 and not out.is_dir():
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    return [out / p.name for p in inputs]


def _strip_one(strip_file: StripFile, src: Path, dst: Path) -> Outcome:
    if src.resolve() == dst.resolve():
        raise ScrubError("output would overwrite the input; choose another -o")
    tmp = _new_part_file(dst)
    try:
        outcome = strip_file(src, tmp)
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)  # only before the rename: after it, the name may be another run's part
        raise
    return outcome


def _new_part_file(dst: Path) -> Path:
    """A new empty file beside `dst`, private (0600) until renamed into place. Made as mkstemp makes
    one (O_EXCL: never an existing file or a symlink), without tempfile, whose imports would cost a
    one-file run more than stripping a small photo does."""
    attempt = 0
    while True:
        part = dst.with_name(f".{dst.name}.{os.getpid()}-{attempt}.part")
        try:
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return part
        except FileExistsError:
            attempt += 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class _Job:
    """One input of a `strip` call: everything a worker process needs, and nothing unpicklable."""

    strip_file: StripFile
    src: Path
    dst: Path
    duplicate_name: bool


def _run_job(job: _Job) -> Outcome | str:
    """Strip one file; the Outcome, or the one-line reason it failed (a worker never raises)."""
    try:
        if job.duplicate_name:
            raise ScrubError(f"several inputs are named {job.src.name}; strip them into separate directories")
        return _strip_one(job.strip_file, job.src, job.dst)
    except Exception as exc:  # noqa: BLE001 (every failure becomes one line; the batch goes on)
        return _describe(exc)


def _results(jobs: list[_Job], workers: int) -> Iterator[Outcome | str]:
    """Each job's result, in input order; several jobs go to a pool of forked worker processes, which
    inherit the stripper the parent imported. One job at a time: chunks of jobs cost less to hand
    over, but leave one worker idle while the other finishes its last chunk (measured: slower)."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_run_job, jobs)
        return
    import multiprocessing  # a single file needs no pool: its start-up does not pay for these imports
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_run_job, jobs)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScrubError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot read or write: {exc.strerror or exc}"
    if os.environ.get("MEDIASCRUB_DEBUG"):
        import traceback

        traceback.print_exc()
    return f"internal error: {type(exc).__name__}: {exc}"


def _cmd_strip(args: argparse.Namespace, strip_file: StripFile) -> int:
    inputs = [Path(p) for p in args.inputs]
    names = [p.name for p in inputs]
    failed = reencoded = 0
    try:
        targets = _targets(inputs, Path(args.output))
    except OSError as exc:
        print(f"error: cannot create output directory {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    jobs = [_Job(strip_file, src, dst, names.count(src.name) > 1) for src, dst in zip(inputs, targets, strict=True)]
    for job, outcome in zip(jobs, _results(jobs, args.jobs), strict=True):
        if isinstance(outcome, str):
            failed += 1
            print(f"{job.src}: {outcome}", file=sys.stderr)
            continue
        reencoded += not outcome.lossless
        print(f"{job.src} -> {job.dst}: {outcome.summary}", flush=True)
    if len(inputs) > 1:
        print(f"{len(inputs) - failed} stripped ({reencoded} re-encoded), {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def _cmd_inspect(args: argparse.Namespace, inspect_file: InspectFile) -> int:
    import json

    failed = 0
    reports = []
    for name in args.inputs:
        try:
            reports.append({"file": name, **inspect_file(Path(name))})
        except Exception as exc:  # noqa: BLE001 (every failure becomes one report; the rest go on)
            failed += 1
            reports.append({"file": name, "error": _describe(exc)})
            print(f"{name}: {_describe(exc)}", file=sys.stderr)
    print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, ensure_ascii=False))
    return 1 if failed else 0


def run(prog: str, description: str, strip_file: StripFile, inspect_file: InspectFile,
        argv: list[str] | None = None) -> int:
    """Parse argv and run `strip` or `inspect`; returns the process exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    strip = sub.add_parser("strip", help="remove metadata; exit 0 only when every file was stripped")
    strip.add_argument("inputs", nargs="+", metavar="IN")
    strip.add_argument("-o", "--output", required=True, metavar="OUT",
                       help="output file (one input) or directory (several inputs)")
    strip.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="worker processes for several inputs (default: one per core)")
    inspect = sub.add_parser("inspect", help="print the metadata found as JSON")
    inspect.add_argument("inputs", nargs="+", metavar="IN")
    args = parser.parse_args(argv)
    try:
        if args.command == "strip":
            return _cmd_strip(args, strip_file)
        return _cmd_inspect(args, inspect_file)
    except BrokenPipeError:  # output piped into `head` and closed: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
