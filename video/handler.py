"""AWS Lambda entry point of the video function: `video.handler.lambda_handler`.

Videos go through the function's ephemeral storage (TMP_DIR, default /tmp) after a free-space check
and are written back with a multipart upload; see shared/pipeline.py and docs/pipeline.md.
"""
from __future__ import annotations

from shared.config import Config
from shared.contentroute import content_router
from shared.pipeline import LazyHandler, Pipeline
from shared.routing import VIDEO


def build() -> Pipeline:
    """Cold start: validate the settings, import the stripper (and ffmpeg-python), create the S3 client."""
    from shared.s3io import make_client
    from shared.staging import OnDisk
    from shared.timebudget import current_deadline
    from video.container import recognises
    from video.strip import VideoOptions, strip_file

    config, options = Config.from_env(), VideoOptions.from_env()
    return Pipeline(VIDEO, config, make_client(),
                    OnDisk(lambda src, dst: strip_file(src, dst, options, current_deadline()), config.staging_dir),
                    content_router(recognises, config.handoff_function))


lambda_handler = LazyHandler(build)
