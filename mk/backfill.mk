# Backfill (docs/backfill.md): strip what a bucket already held before mediascrub was deployed.
# `make backfill` / `backfill-status` use S3 Batch Operations with the deployed stack's functions and
# role [AWS]; `make backfill-local` runs the same pipeline on this machine (small buckets, trying it).

STACK ?= mediascrub
CONCURRENCY ?=
backfill_usage = { echo "usage: make $(1) BUCKET=name$(2)"; exit 2; }

.PHONY: backfill backfill-status backfill-local
backfill: setup ## S3 Batch Operations jobs over BUCKET= [PREFIX=] [STACK=mediascrub]: manifests, jobs awaiting confirmation, cost [AWS]
	@test "$(origin BUCKET)" = "command line" || $(call backfill_usage,backfill, [PREFIX=p] [STACK=$(STACK)])
	$(PY) -m deploy.batchjobs create --bucket '$(BUCKET)' --prefix '$(PREFIX)' --stack '$(STACK)'

backfill-status: setup ## progress of the backfill jobs of BUCKET= and, once done, their completion reports summed up [AWS]
	@test "$(origin BUCKET)" = "command line" || $(call backfill_usage,backfill-status,)
	$(PY) -m deploy.batchjobs status --bucket '$(BUCKET)'

backfill-local: setup ## strip what BUCKET= [PREFIX=] holds on this machine: progress, resumable, CSV report (CONCURRENCY=)
	@test "$(origin BUCKET)" = "command line" || $(call backfill_usage,backfill-local, [PREFIX=p] [CONCURRENCY=n])
	$(PY) -m shared.backfill --bucket '$(BUCKET)' --prefix '$(PREFIX)' $(if $(CONCURRENCY),--concurrency $(CONCURRENCY))

.PHONY: test-backfill
test-backfill: setup ## run the backfill tests only (Batch Operations handlers, local backfill, jobs, template role)
	$(PY) -m pytest $(PYTEST_ARGS) tests/test_batchops.py tests/test_backfill.py tests/test_batchjobs.py tests/test_template_backfill.py
