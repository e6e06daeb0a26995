#!/bin/sh
# Entry point of the video image (not built on an AWS base image): in Lambda, AWS_LAMBDA_RUNTIME_API
# names the Runtime API and the runtime client talks to it directly; anywhere else (docker run) the
# Runtime Interface Emulator provides that API on port 8080, as AWS documents for such images.
# "$@" is the handler, e.g. video.handler.lambda_handler (the image's CMD).
set -eu
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec aws-lambda-rie python -m awslambdaric "$@"
fi
exec python -m awslambdaric "$@"
