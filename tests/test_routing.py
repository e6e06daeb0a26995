"""The routing table and the notification configuration built from it. Pure: no server needed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.routing import (
    IMAGE,
    ROUTES,
    UNROUTED,
    VIDEO,
    eventbridge_patterns,
    kind_of,
    notification_config,
    overlapping_rules,
)

ARNS = {IMAGE: "arn:aws:lambda:us-east-1:123456789012:function:img",
        VIDEO: "arn:aws:lambda:us-east-1:123456789012:function:vid"}


@pytest.mark.parametrize("key, kind", [
    ("a.jpg", IMAGE), ("A.JPG", IMAGE), ("dir/b.Jpeg", IMAGE), ("x.HeIc", IMAGE), ("y.avif", IMAGE),
    ("c.MP4", VIDEO), ("d.mov", VIDEO), ("e.3g2", VIDEO), ("f.WebM", VIDEO),
    ("g.txt", None), ("jpg", None), ("h.jpg.zip", None), ("i.", None),
])
def test_kind_of_is_case_insensitive(key, kind):
    assert kind_of(key) == kind


def test_the_table_has_no_suffix_in_both_kinds():
    assert not set(ROUTES[IMAGE]) & set(ROUTES[VIDEO])
    assert all(s == s.lower() and s.startswith(".") for suffixes in ROUTES.values() for s in suffixes)


@pytest.mark.parametrize("prefix", ["", "uploads/"])
def test_notification_config_covers_both_cases_without_overlap(prefix):
    config = notification_config(ARNS, prefix)
    rules = config["LambdaFunctionConfigurations"]
    assert overlapping_rules(config) == []
    by_suffix = {r["Filter"]["Key"]["FilterRules"][-1]["Value"]: r["LambdaFunctionArn"] for r in rules}
    for kind, suffixes in ROUTES.items():
        for suffix in suffixes:
            assert by_suffix[suffix] == by_suffix[suffix.upper()] == ARNS[kind]
    assert len({r["Id"] for r in rules}) == len(rules)
    if prefix:
        assert all(r["Filter"]["Key"]["FilterRules"][0] == {"Name": "prefix", "Value": prefix} for r in rules)


def test_overlap_check_finds_real_overlaps():
    config = notification_config(ARNS)
    rules = config["LambdaFunctionConfigurations"]
    rules.append({**rules[0], "Id": "extra", "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": "g"}]}}})
    found = overlapping_rules(config)
    assert ("mediascrub-image-jpg", "extra") in found  # ".jpg" ends with "g"


def test_eventbridge_patterns_match_suffixes_ignoring_case():
    patterns = eventbridge_patterns("my-bucket")
    for kind, suffixes in ROUTES.items():
        pattern = patterns[kind]
        assert pattern["detail-type"] == ["Object Created"] and pattern["detail"]["bucket"]["name"] == ["my-bucket"]
        assert pattern["detail"]["object"]["key"] == [{"suffix": {"equals-ignore-case": s}} for s in suffixes]


def test_eventbridge_patterns_with_prefix_use_wildcards():
    keys = eventbridge_patterns(prefix="in/")[IMAGE]["detail"]["object"]["key"]
    assert {"wildcard": "in/*.jpg"} in keys and {"wildcard": "in/*.JPG"} in keys


def test_cli_prints_both_configurations():
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "shared.routing", "notification-config",
                           "--image-function-arn", ARNS[IMAGE], "--video-function-arn", ARNS[VIDEO],
                           "--prefix", "uploads/"], cwd=repo, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out["NotificationConfiguration"] == notification_config(ARNS, "uploads/")
    assert set(out["EventBridgeRulePatterns"]) == {IMAGE, VIDEO, UNROUTED}


def test_the_routing_table_routes_every_suffix_the_image_registry_knows():
    """One list of image suffixes: routing (in shared/, which cannot import images/) must match the registry."""
    from images.registry import SUFFIXES

    assert {s for suffixes in SUFFIXES.values() for s in suffixes} == set(ROUTES[IMAGE])
