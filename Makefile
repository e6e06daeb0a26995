# mediascrub: `make demo` shows the product end to end, `make test` runs the whole suite.
# Both set themselves up on a fresh Debian machine (apt packages, .venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The SAM CLI pins its own boto3/click/pydantic: it gets a virtual environment of its own.
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
APT_PACKAGES := ffmpeg libimage-exiftool-perl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
# `--flag value` only when VAR was given on the make command line (not picked up from the environment).
from_command_line = $(if $(filter command line,$(origin $(1))),$(2) $($(1)))

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

.PHONY: apt
apt: ## install the system packages (ffmpeg, exiftool) if missing
	@if ! command -v exiftool >/dev/null || ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then \
		echo "installing $(APT_PACKAGES) with apt"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) </dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[image,video,test]'
	touch $@

$(SAM_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

.PHONY: setup
setup: apt $(VENV)/.installed $(SAM_VENV)/.installed ## set up everything: apt packages, .venv and .venv-sam

.PHONY: test
test: setup lint ## run the lint gate (make lint), then the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: demo
demo: setup ## the main job end to end: local S3, both Lambdas, real uploads, before/after report (FILES=, BUCKET=)
	$(PY) -m devtools.demo $(call from_command_line,FILES,--files) $(call from_command_line,BUCKET,--bucket)

.PHONY: bench
bench: setup ## run the benchmarks and write docs/benchmarks.md
	$(PY) -m bench

.PHONY: clean
clean: ## remove the virtual environments, caches and build/ (the staged wheelhouses and emulator)
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .hypothesis *.egg-info build

-include mk/*.mk
