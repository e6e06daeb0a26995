"""Cases where today's faster paths could check less than the code they replaced, each proved against
the real parts (the local S3 server)."""
from __future__ import annotations

import pytest

from devtools.s3events import s3_event, s3_record, uploaded
from pipelinekit import DIRTY_JPEG, image_pipeline, tags
from shared.guard import GUARD_TAG, GUARD_TAG_VALUE

pytestmark = pytest.mark.slow


def uncounted(parsed, **_):
    """A server that never sends x-amz-tagging-count on HeadObject (some S3-compatible stores), though
    it answers GetObjectTagging."""
    parsed.pop("TagCount", None)


def test_tags_survive_a_server_that_never_counts_them(s3, bucket):
    """A first successful GetObjectTagging proves the right to read tags, not that HeadObject reports
    their count: until a count has been seen, a missing one proves nothing."""
    first = uploaded(s3, bucket, "first.jpg", DIRTY_JPEG)
    tagged = uploaded(s3, bucket, "tagged.jpg", DIRTY_JPEG, Tagging="project=alps")
    pipeline = image_pipeline(s3)
    s3.meta.events.register("after-call.s3.HeadObject", uncounted)
    try:
        for key, head in (("first.jpg", first), ("tagged.jpg", tagged)):
            assert pipeline.handle(s3_event(s3_record(bucket, key, head))) == {"outcomes": {"stripped": 1}}
    finally:
        s3.meta.events.unregister("after-call.s3.HeadObject", uncounted)
    assert tags(s3, bucket, "tagged.jpg") == {"project": "alps", GUARD_TAG: GUARD_TAG_VALUE}
