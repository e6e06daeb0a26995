# The S3 pipeline: a local S3-compatible server for trying the handlers by hand.

S3_DIR ?= .stamps/s3

.PHONY: object-store test-pipeline
object-store: setup ## run a local S3 server (SeaweedFS weed mini) in S3_DIR=.stamps/s3; prints the env to use it
	$(PY) -m devtools.s3server $(S3_DIR)

test-pipeline: setup ## run the pipeline tests only (events, routing, both handlers against a real S3 server)
	$(PY) -m pytest $(PYTEST_ARGS) tests/test_events.py tests/test_routing.py tests/test_pipeline.py tests/test_pipeline_faults.py \
		tests/test_routing_content.py tests/test_versions_marker.py tests/test_quarantine.py tests/test_operations.py \
		tests/test_redrive.py

.PHONY: redrive
redrive: setup ## replay the events waiting in the on-failure queue (QUEUE_URL=, MAX=, DRY_RUN=1) [AWS]
	$(PY) -m deploy.redrive --queue-url "$(QUEUE_URL)" $(if $(MAX),--max $(MAX)) $(if $(DRY_RUN),--dry-run)
