"""Which suffix goes to which Lambda: the one table, and the S3 / EventBridge configurations built from it.

    python -m shared.routing notification-config --image-function-arn ARN --video-function-arn ARN [--prefix P]

prints the bucket's NotificationConfiguration and, as the alternative, EventBridge rule patterns.
S3 suffix filters are case-sensitive and two rules of one event type may not overlap, so each suffix
is emitted in lower and upper case (".jpg", ".JPG"); mixed-case names (".Jpg") only reach the Lambda
through EventBridge, whose `suffix` match has an `equals-ignore-case`-style variant
(`{"suffix": {"equals-ignore-case": ".jpg"}}`). The handlers match case-insensitively either way.

EventBridge also gets a catch-all rule for every other key (no suffix, or one not in the table) that
goes to the CATCH_ALL function, which decides by the object's first bytes (shared/contentroute.py).
The template deploys the EventBridge rules.

A backfill (shared/backfill.py, deploy/batchjobs.py) sends every key the table routes to its function,
and every key without a suffix to the CATCH_ALL function too (`function_for`).
"""
from __future__ import annotations

import json
import sys

IMAGE = "image"
VIDEO = "video"
ROUTES: dict[str, tuple[str, ...]] = {
    IMAGE: (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".heic", ".heif", ".hif", ".avif",
            ".heics", ".avifs"),
    VIDEO: (".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mkv", ".webm"),
}
# Objects whose name routes nowhere go here; it strips images and hands anything else to the video function.
CATCH_ALL = IMAGE
UNROUTED = "unrouted"
_EVENTS = ["s3:ObjectCreated:*"]
# ISO-BMFF major brands of still images (HEIF, AVIF), shared by the image and the video packages: every
# other ftyp is a video container.
ISO_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}


def kind_of(key: str) -> str | None:
    """The Lambda kind a key's suffix routes to (case-insensitive), or None for an unknown suffix."""
    lowered = key.lower()
    for kind, suffixes in ROUTES.items():
        if lowered.endswith(suffixes):
            return kind
    return None


def has_suffix(key: str) -> bool:
    """Whether the key's last path segment has an extension."""
    return "." in key.rsplit("/", 1)[-1].lstrip(".")


def function_for(key: str) -> str | None:
    """The function a backfill sends an object to: its suffix's; for a key without a suffix the CATCH_ALL
    function, which decides by content (strips it, hands it over, or logs it as not media); None for a
    suffix no function handles (left alone)."""
    return kind_of(key) or (None if has_suffix(key) else CATCH_ALL)


def suffix_variants(suffix: str) -> list[str]:
    """The spellings an S3 suffix rule must list, since S3 matches suffixes case-sensitively."""
    return sorted({suffix.lower(), suffix.upper()})


def notification_config(function_arns: dict[str, str], prefix: str = "") -> dict:
    """S3 NotificationConfiguration: one LambdaFunctionConfiguration per (kind, suffix spelling)."""
    configs = []
    for kind, suffixes in ROUTES.items():
        for suffix in suffixes:
            for spelling in suffix_variants(suffix):
                rules = [{"Name": "suffix", "Value": spelling}]
                if prefix:
                    rules.insert(0, {"Name": "prefix", "Value": prefix})
                configs.append({
                    "Id": f"mediascrub-{kind}-{spelling.lstrip('.')}",
                    "LambdaFunctionArn": function_arns[kind],
                    "Events": list(_EVENTS),
                    "Filter": {"Key": {"FilterRules": rules}},
                })
    return {"LambdaFunctionConfigurations": configs}


def eventbridge_patterns(bucket: str = "", prefix: str = "") -> dict[str, dict]:
    """One EventBridge rule pattern per kind, matching suffixes case-insensitively, and the UNROUTED
    catch-all (for the CATCH_ALL function): every key that ends in none of the table's suffixes.

    Requires "EventBridge notifications" turned on for the bucket. EventBridge delivers the key
    decoded (`detail.object.key` is the plain UTF-8 name), unlike S3 notifications (URL-encoded).
    `anything-but` matches case-sensitively, so a mixed-case name such as `photo.Jpg` matches both
    its kind's rule and the catch-all: two deliveries of one upload, which the loop guard makes harmless.
    With a prefix, the catch-all also matches keys outside it; the function skips those (`skipped-guard`).
    """
    patterns = {}
    for kind, suffixes in ROUTES.items():
        key_filter: list[dict] = [{"suffix": {"equals-ignore-case": s}} for s in suffixes]
        if prefix:
            # Content filters on one field are OR-ed, so the prefix goes in a `wildcard` per suffix instead.
            key_filter = [{"wildcard": f"{prefix}*{s}"} for s in _case_folded(suffixes)]
        patterns[kind] = _object_created(bucket, key_filter)
    every_suffix = tuple(s for suffixes in ROUTES.values() for s in suffixes)
    patterns[UNROUTED] = _object_created(
        bucket, [{"anything-but": {"wildcard": [f"{prefix}*{s}" for s in _case_folded(every_suffix)]}}])
    return patterns


def _object_created(bucket: str, key_filter: list[dict]) -> dict:
    detail: dict = {"object": {"key": key_filter}}
    if bucket:
        detail["bucket"] = {"name": [bucket]}
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}


def _case_folded(suffixes: tuple[str, ...]) -> list[str]:
    return [spelling for s in suffixes for spelling in suffix_variants(s)]


def overlapping_rules(config: dict) -> list[tuple[str, str]]:
    """Pairs of rule Ids S3 would reject as overlapping (same event, one suffix ends the other's)."""
    found = []
    rules = config["LambdaFunctionConfigurations"]
    for i, first in enumerate(rules):
        for second in rules[i + 1:]:
            if _filters_overlap(_filter(first), _filter(second)) and set(first["Events"]) & set(second["Events"]):
                found.append((first["Id"], second["Id"]))
    return found


def _filter(rule: dict) -> dict[str, str]:
    return {r["Name"]: r["Value"] for r in rule["Filter"]["Key"]["FilterRules"]}


def _filters_overlap(a: dict[str, str], b: dict[str, str]) -> bool:
    def related(x: str, y: str, ends: bool) -> bool:
        return (x.endswith(y) or y.endswith(x)) if ends else (x.startswith(y) or y.startswith(x))

    return related(a.get("prefix", ""), b.get("prefix", ""), ends=False) and \
        related(a.get("suffix", ""), b.get("suffix", ""), ends=True)


def main(argv: list[str] | None = None) -> int:
    import argparse  # only this command line needs it, not the functions that import the table

    parser = argparse.ArgumentParser(prog="python -m shared.routing", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("notification-config", help="print the S3 NotificationConfiguration and EventBridge patterns")
    cmd.add_argument("--image-function-arn", required=True)
    cmd.add_argument("--video-function-arn", required=True)
    cmd.add_argument("--prefix", default="", help="only keys under this prefix (e.g. SOURCE_PREFIX)")
    cmd.add_argument("--bucket", default="", help="bucket name for the EventBridge patterns")
    args = parser.parse_args(argv)
    arns = {IMAGE: args.image_function_arn, VIDEO: args.video_function_arn}
    out = {"NotificationConfiguration": notification_config(arns, args.prefix),
           "EventBridgeRulePatterns": eventbridge_patterns(args.bucket, args.prefix)}
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
