"""AWS Lambda entry point of the image function: `images.handler.lambda_handler`.

Images are stripped in memory (up to MAX_IMAGE_MB); objects whose name routes nowhere come here too and
are decided by content (anything but an image goes on to HANDOFF_FUNCTION, the video function). See
shared/pipeline.py for what happens per record and docs/pipeline.md for the settings.
"""
from __future__ import annotations

from shared.config import Config
from shared.contentroute import content_router
from shared.pipeline import LazyHandler, Pipeline
from shared.routing import IMAGE


def build() -> Pipeline:
    """Cold start: validate the settings, import the stripper, create the one S3 client."""
    from images.model import Options
    from images.registry import recognises, strip
    from shared.s3io import make_client
    from shared.staging import InMemory

    config, options = Config.from_env(), Options.from_env()
    return Pipeline(IMAGE, config, make_client(), InMemory(lambda data: strip(data, options), config.max_image_bytes),
                    content_router(recognises, config.handoff_function))


lambda_handler = LazyHandler(build)
