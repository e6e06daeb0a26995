#!/bin/sh
# Entry point of both images: in Lambda, AWS_LAMBDA_RUNTIME_API names the Runtime API and the runtime
# client talks to it directly; anywhere else (docker run) the Runtime Interface Emulator provides that
# API, as AWS documents for images not built on its base images. It answers invocations on RIE_ADDRESS
# (default 0.0.0.0:8080) and serves the Runtime API on RIE_RUNTIME_API_ADDRESS (default 127.0.0.1:9001):
# both matter with host networking. "$@" is the handler, e.g. images.handler.lambda_handler (the CMD).
set -eu
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec aws-lambda-rie --runtime-interface-emulator-address "${RIE_ADDRESS:-0.0.0.0:8080}" \
        --runtime-api-address "${RIE_RUNTIME_API_ADDRESS:-127.0.0.1:9001}" python3 -m awslambdaric "$@"
fi
exec python3 -m awslambdaric "$@"
