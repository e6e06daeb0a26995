#!/bin/sh
# Entry point of both images: in Lambda, AWS_LAMBDA_RUNTIME_API names the Runtime API and the runtime
# client talks to it directly; anywhere else (docker run) the Runtime Interface Emulator provides that
# API and answers invocations on RIE_ADDRESS (default 0.0.0.0:8080), as AWS documents for images not
# built on its base images. "$@" is the handler, e.g. images.handler.lambda_handler (the image's CMD).
set -eu
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec aws-lambda-rie --runtime-interface-emulator-address "${RIE_ADDRESS:-0.0.0.0:8080}" \
        python3 -m awslambdaric "$@"
fi
exec python3 -m awslambdaric "$@"
