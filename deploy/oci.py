"""Digests and promotion by digest in any registry (ECR, a distribution registry...), with skopeo.

    python -m deploy.oci digest HOST/REPO:TAG             HOST/REPO@sha256:... (what to deploy)
    python -m deploy.oci promote HOST/REPO:TAG DEST:TAG   put that digest under DEST:TAG

skopeo copies registry to registry by digest, without a Docker daemon and without rebuilding or
pulling a mutable tag; within one registry only the manifest moves (the blobs are there already).
`--preserve-digests` keeps the manifest bytes, so the digest a function runs never changes.
Release tags are immutable here, as ECR's IMMUTABLE setting makes them: promoting onto a tag that
names another digest fails, promoting the same digest twice is a no-op. Registries on the loopback
(127.0.0.1, localhost) are spoken to over plain HTTP, as Docker does; elsewhere TLS is verified and
the credentials are skopeo's (`skopeo login`, or Docker's config).
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys

from deploy.promote import PromotionError

_LOOPBACK = ("127.", "localhost:", "localhost/", "[::1]")
_MISSING = ("manifest unknown", "not found", "name unknown")


def _plain_http(reference: str) -> bool:
    return reference.startswith(_LOOPBACK)


def _skopeo(*args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["skopeo", *args], capture_output=True, timeout=1800, check=False)
    except FileNotFoundError:
        raise PromotionError("skopeo not found (Debian: apt-get install skopeo)") from None


def digest(reference: str) -> str | None:
    """sha256 of the manifest `reference` names, exactly as stored; None when the tag does not exist."""
    done = _skopeo("inspect", "--raw", f"--tls-verify={str(not _plain_http(reference)).lower()}",
                   f"docker://{reference}")
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        if any(marker in error.lower() for marker in _MISSING):
            return None
        raise PromotionError(f"{reference}: {error.splitlines()[-1] if error else 'skopeo inspect failed'}")
    return "sha256:" + hashlib.sha256(done.stdout).hexdigest()


def _repository(reference: str) -> str:
    """HOST/REPO of HOST/REPO:TAG or HOST/REPO@DIGEST (a port's colon is not a tag's)."""
    name = reference.split("@")[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def promote(source: str, destination: str) -> str:
    """Put the digest `source` names under the tag `destination`; returns that digest."""
    wanted = digest(source)
    if wanted is None:
        raise PromotionError(f"{source}: no such image")
    held = digest(destination)
    if held is not None and held != wanted:
        raise PromotionError(f"{destination} is an immutable tag on {held}; it cannot move to {wanted} ({source})")
    if held is None:
        done = _skopeo("copy", "--quiet", "--preserve-digests",
                       f"--src-tls-verify={str(not _plain_http(source)).lower()}",
                       f"--dest-tls-verify={str(not _plain_http(destination)).lower()}",
                       f"docker://{_repository(source)}@{wanted}", f"docker://{destination}")
        if done.returncode != 0:
            error = done.stderr.decode(errors="replace").strip()
            raise PromotionError(f"{source} -> {destination}: {error.splitlines()[-1] if error else 'copy failed'}")
    if digest(destination) != wanted:
        raise PromotionError(f"{destination} does not name {wanted} after the copy")
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.oci", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("digest").add_argument("reference", help="HOST/REPO:TAG")
    promotion = sub.add_parser("promote")
    promotion.add_argument("source", help="HOST/REPO:TAG or HOST/REPO@sha256:...")
    promotion.add_argument("destination", help="HOST/REPO:TAG")
    args = parser.parse_args(argv)
    try:
        if args.command == "digest":
            found = digest(args.reference)
            if found is None:
                raise PromotionError(f"{args.reference}: no such image")
            print(f"{_repository(args.reference)}@{found}")
        else:
            done = promote(args.source, args.destination)
            print(f"{args.source} -> {args.destination} ({done})")
    except PromotionError as exc:
        print(f"promote: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
