"""The cold start: a handler builds its pipeline once, with the cyclic garbage collector paused only
while it does, and a build that fails (a bad setting) leaves the collector as it found it; the image
function's Lambda client (for hand-overs) is made at the first hand-over, not at the cold start."""
from __future__ import annotations

import gc

import botocore.session
import pytest

from images import handler as image_handler
from pipelinekit import handler
from shared.errors import InvalidConfig


@pytest.fixture
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_the_pipeline_is_built_once_and_the_collector_runs_again(monkeypatch, s3_env, collector_enabled):
    scrub = handler(image_handler, monkeypatch)
    paused_during_build = []
    build = scrub.build
    scrub.build = lambda: paused_during_build.append(not gc.isenabled()) or build()
    assert scrub({"Records": []}) == {"outcomes": {}}
    first = scrub.pipeline
    assert scrub({"Records": []}) == {"outcomes": {}}
    assert scrub.pipeline is first and paused_during_build == [True]
    assert gc.isenabled()


def test_a_failed_build_leaves_the_collector_running(monkeypatch, collector_enabled):
    scrub = handler(image_handler, monkeypatch, GUARD="tags")
    with pytest.raises(InvalidConfig):
        scrub({"Records": []})
    assert gc.isenabled() and scrub.pipeline is None


def test_a_collector_switched_off_by_the_host_stays_off(monkeypatch, s3_env, collector_enabled):
    gc.disable()
    handler(image_handler, monkeypatch).ready()
    assert not gc.isenabled()


def test_the_cold_start_makes_the_s3_client_only(monkeypatch, s3_env):
    made = []
    create_client = botocore.session.Session.create_client

    def recording(session, service_name, *args, **kwargs):
        made.append(service_name)
        return create_client(session, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", recording)
    pipeline = handler(image_handler, monkeypatch, HANDOFF_FUNCTION="mediascrub-video").ready()
    assert made == ["s3"] and pipeline.router and pipeline.router.hand_over
