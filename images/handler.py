"""AWS Lambda entry point of the image function: `images.handler.lambda_handler`.

Images are stripped in memory (up to MAX_IMAGE_MB); see shared/pipeline.py for what happens per record
and docs/pipeline.md for the settings.
"""
from __future__ import annotations

from shared.config import Config
from shared.pipeline import LazyHandler, Pipeline
from shared.routing import IMAGE


def build() -> Pipeline:
    """Cold start: validate the settings, import the stripper, create the one S3 client."""
    from images.model import Options
    from images.registry import strip
    from shared.s3io import make_client
    from shared.staging import InMemory

    config, options = Config.from_env(), Options.from_env()
    return Pipeline(IMAGE, config, make_client(), InMemory(lambda data: strip(data, options), config.max_image_bytes))


lambda_handler = LazyHandler(build)
