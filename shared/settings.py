"""Every setting the functions (and the CLIs) read from the environment, by the package that reads it:
the one list the Makefile forwards to a local container run (`make run-image|run-video`), the tests clear
for a fresh handler, and the docs tables describe (tests/test_settings.py holds the code, this list and
the docs equal).

    python -m shared.settings    prints the names, one per line
"""
from __future__ import annotations

PIPELINE = ("GUARD", "SOURCE_PREFIX", "DEST_PREFIX", "DEST_BUCKET", "SOURCE_BUCKETS", "DELETE_ORIGINAL_VERSION",
            "MAX_IMAGE_MB", "MULTIPART_PART_MB", "TMP_DIR", "HANDOFF_FUNCTION", "TIME_RESERVE_S", "AWS_MAX_ATTEMPTS")
IMAGES = ("ORIENTATION", "KEEP_ICC", "KEEP_HEIF_THUMBNAILS", "ALLOW_REENCODE", "MAX_PIXELS")
VIDEO = ("KEEP_SUBTITLES", "FFMPEG_TIMEOUT", "FFMPEG_MEMORY_MB", "STRIP_ENCODER_SEI")
NAMES = PIPELINE + IMAGES + VIDEO

if __name__ == "__main__":
    print("\n".join(NAMES))
