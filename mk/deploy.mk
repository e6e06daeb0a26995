# Container images, local runs with the Runtime Interface Emulator, push/promotion (any registry or ECR), lint.
# Which targets need Docker and which need AWS credentials: docs/deploy.md.

# One platform per image (Lambda rejects multi-platform indexes); several, comma-separated, build
# one image each, tagged by architecture. Default: this machine's.
HOST_ARCH := $(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(shell uname -m)))
PLATFORM ?= linux/$(HOST_ARCH)
PLATFORMS = $(subst $(comma), ,$(PLATFORM))
RUN_ARCH ?= $(lastword $(subst /, ,$(firstword $(PLATFORMS))))
comma := ,

NAME_PREFIX ?= mediascrub-
GIT_SHA = $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

# `make run-*`: where the function's S3 calls go (empty: AWS, with your credentials) and what it gets.
PORT ?= 9000
S3_ENDPOINT ?=
AWS_REGION ?=
REGION_FLAG = $(if $(AWS_REGION),--region $(AWS_REGION))
ECR = $(PY) -m deploy.registry $(REGION_FLAG)
# Credentials, and every setting the functions read (shared/settings.py, the one list).
FORWARD_ENV = AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN $(shell $(PY) -m shared.settings)

BUCKET ?= media
KEY ?=
IMAGE_FUNCTION_ARN ?= arn:aws:lambda:$(or $(AWS_REGION),us-east-1):123456789012:function:mediascrub-image
VIDEO_FUNCTION_ARN ?= arn:aws:lambda:$(or $(AWS_REGION),us-east-1):123456789012:function:mediascrub-video

# The container engine: docker or podman, whichever is installed (CONTAINER_ENGINE= overrides).
CONTAINER_ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && echo docker || { command -v podman >/dev/null 2>&1 && echo podman; })
ENGINE = $(or $(CONTAINER_ENGINE),$(error no container engine found: install docker or podman, or set CONTAINER_ENGINE=))
# BuildKit where the docker client has it (buildx, or a client before 23 with BuildKit built in);
# otherwise the classic builder, which builds these Dockerfiles the same.
BUILD_ENV = $(if $(filter docker,$(notdir $(ENGINE))),DOCKER_BUILDKIT=$(shell { $(ENGINE) buildx version || \
	$(ENGINE) version --format '{{.Client.Version}}' | grep -qE '^(1[0-9]|2[0-2])\.'; } >/dev/null 2>&1 && echo 1 || echo 0))
# Containers reach the host (the local S3 server, a registry on 127.0.0.1) through host networking where
# the engine has no bridge (dockerd --bridge=none, as in CI); published ports otherwise.
DOCKER_NETWORK ?= $(shell $(ENGINE) network inspect bridge >/dev/null 2>&1 || echo host)

# The one base both images build on. Empty: the debootstrapped Debian bookworm `make base` loads as
# LOCAL_BASE-ARCH (no registry needed). In production: the registry's Debian pinned by digest,
# BASE=debian:bookworm-slim@sha256:<digest of its multi-platform index>.
BASE ?=
LOCAL_BASE := mediascrub-base:bookworm
ARCHS = $(foreach platform,$(PLATFORMS),$(lastword $(subst /, ,$(platform))))
RIE_DIR = $(SAM_VENV)/lib/python3*/site-packages/samcli/local/rapid
machine = $(if $(filter arm64,$(1)),arm64,x86_64)

# What the builds copy, staged in build/ on the host: the emulator of the pinned SAM CLI and the
# hash-checked wheelhouse per image and architecture (python -m devtools.wheelhouse).
build/%/aws-lambda-rie: $(SAM_VENV)/.installed
	mkdir -p $(@D) && install -m 0755 $(RIE_DIR)/aws-lambda-rie-$(call machine,$*) $@

build/%/wheels-image/.hashed: requirements/image.txt $(VENV)/.installed
	rm -rf $(@D) && $(PY) -m devtools.wheelhouse download image $* $(@D) && touch $@

build/%/wheels-video/.hashed: requirements/video.txt $(VENV)/.installed
	rm -rf $(@D) && $(PY) -m devtools.wheelhouse download video $* $(@D) && touch $@

build/pip/pip.whl: requirements/pip.txt $(VENV)/.installed
	rm -rf $(@D) && $(PY) -m devtools.wheelhouse download pip amd64 $(@D) && mv $(@D)/pip-*.whl $@

# $(call stage,image|video): everything build/ must hold to build that image for ARCHS.
stage = build/pip/pip.whl $(foreach arch,$(ARCHS),build/$(arch)/aws-lambda-rie build/$(arch)/wheels-$(1)/.hashed)

# $(call build,image|video): build Dockerfile.<kind> once per architecture, tagged NAME_PREFIX<kind>:ARCH.
define build
	@for arch in $(ARCHS); do \
		echo "building $(NAME_PREFIX)$(1):$$arch"; \
		$(BUILD_ENV) $(ENGINE) build --platform linux/$$arch --build-arg ARCH=$$arch $(if $(DOCKER_NETWORK),--network $(DOCKER_NETWORK)) \
			--build-arg BASE=$(or $(BASE),$(LOCAL_BASE)-$$arch) \
			-f Dockerfile.$(1) -t $(NAME_PREFIX)$(1):$$arch . || exit 1; \
	done
endef

# The template's memory for each function: `make run-*` limits the container to it, as Lambda does.
memory_of = $(shell awk '/^  $(1)Function:/{found=1} found && /MemorySize:/{print $$2; exit}' template.yaml)

# $(call run,image|video): the container as Lambda runs it (non-root, read-only root, writable /tmp,
# the template's memory), the emulator answering on PORT, S3 wherever S3_ENDPOINT says.
define run
	$(ENGINE) run --rm --init --read-only --tmpfs /tmp --memory $(call memory_of,$(2))m \
		-e AWS_LAMBDA_FUNCTION_MEMORY_SIZE=$(call memory_of,$(2)) \
		$(if $(DOCKER_NETWORK),--network $(DOCKER_NETWORK) -e RIE_ADDRESS=0.0.0.0:$(PORT) -e RIE_RUNTIME_API_ADDRESS=127.0.0.1:$(shell expr $(PORT) + 1),-p $(PORT):8080) \
		-e AWS_REGION=$(or $(AWS_REGION),us-east-1) $(if $(S3_ENDPOINT),-e AWS_ENDPOINT_URL_S3=$(S3_ENDPOINT)) \
		$(foreach name,$(FORWARD_ENV),-e $(name)) $(NAME_PREFIX)$(1):$(RUN_ARCH)
endef

.PHONY: base build-image build-video build run-image run-video invoke-image invoke-video push promote \
	notification-config lint

base: ## make the debootstrapped Debian bookworm base for PLATFORM once (only when missing) [engine, root]
	@$(if $(BASE),echo "BASE=$(BASE) given: no local base needed",\
		for arch in $(ARCHS); do devtools/base-image.sh $(ENGINE) $(LOCAL_BASE)-$$arch $$arch || exit 1; done)

build-image: base $(call stage,image) ## build the image Lambda for PLATFORM (default: this machine's) [engine]
	$(call build,image)

build-video: base $(call stage,video) ## build the video Lambda for PLATFORM (linux/amd64,linux/arm64 for both) [engine]
	$(call build,video)

build: build-image build-video ## build both images for PLATFORM [engine]

run-image: ## run the image Lambda with the emulator on PORT=9000, S3 at S3_ENDPOINT= (default AWS) [engine]
	$(call run,image,Image)

run-video: ## run the video Lambda with the emulator on PORT=9000, S3 at S3_ENDPOINT= (default AWS) [engine]
	$(call run,video,Video)

# $(call invoke,DEFAULT_KEY): POST an S3 event to the emulator of the running container.
define invoke
	$(PY) -m deploy.invoke --bucket '$(BUCKET)' --key '$(or $(KEY),$(1))' \
		--url http://localhost:$(PORT)/2015-03-31/functions/function/invocations
endef

invoke-image: setup ## POST an S3 event for BUCKET= KEY= to the running image container, print the answer
	$(call invoke,sample.jpg)

invoke-video: setup ## POST an S3 event for BUCKET= KEY= to the running video container, print the answer
	$(call invoke,sample.mp4)

# Where `make push` and `make promote` go: REGISTRY= (any registry, e.g. 127.0.0.1:5000), ECR otherwise.
REGISTRY ?=
OCI = $(PY) -m deploy.oci

push: setup build ## build, then push both images for PLATFORM tagged GITSHA-ARCH to REGISTRY= (default: ECR), print the digests [engine]
	$(eval PUSH_TO := $(or $(REGISTRY),$(shell $(ECR) uri)))
	@test -n "$(PUSH_TO)" || { echo "push: no REGISTRY= and no ECR registry found (AWS credentials? AWS_REGION?)"; exit 1; }
	@$(if $(REGISTRY),,$(ECR) password | $(ENGINE) login --username AWS --password-stdin $(PUSH_TO) && \
		for kind in image video; do $(ECR) ensure-repo $(NAME_PREFIX)$$kind >/dev/null || exit 1; done)
	@echo "deploy these (by digest):"; for kind in image video; do for arch in $(ARCHS); do \
		target=$(PUSH_TO)/$(NAME_PREFIX)$$kind:$(GIT_SHA)-$$arch; \
		$(ENGINE) tag $(NAME_PREFIX)$$kind:$$arch $$target && $(ENGINE) push -q $$target >/dev/null || exit 1; \
		digest=$$($(if $(REGISTRY),$(OCI) digest $$target,$(ECR) digest $(NAME_PREFIX)$$kind $(GIT_SHA)-$$arch)) || exit 1; \
		echo "  $$kind $$arch: $$digest"; \
	done; done

promote: setup ## retag both pushed images by digest, FROM_TAG= to TO_TAG= in REGISTRY= (default: ECR); TO_REGISTRY= copies
	@test -n "$(FROM_TAG)" -a -n "$(TO_TAG)" || { echo "usage: make promote FROM_TAG=<sha>-<arch> TO_TAG=prod-<arch> [REGISTRY=host] [TO_REGISTRY=host]"; exit 2; }
	@for kind in image video; do \
		repo=$(NAME_PREFIX)$$kind; \
		if [ -z "$(REGISTRY)$(TO_REGISTRY)" ]; then \
			$(PY) -m deploy.promote $(REGION_FLAG) --repository $$repo --from-tag $(FROM_TAG) --to-tag $(TO_TAG) || exit 1; \
		else \
			source=$(or $(REGISTRY),$$($(ECR) uri))/$$repo:$(FROM_TAG); \
			$(OCI) promote $$source $(or $(TO_REGISTRY),$(REGISTRY))/$$repo:$(TO_TAG) || exit 1; \
		fi; \
	done

notification-config: setup ## print the bucket notification JSON from the routing table (IMAGE_FUNCTION_ARN=, VIDEO_FUNCTION_ARN=, PREFIX=)
	@$(PY) -m shared.routing notification-config --image-function-arn $(IMAGE_FUNCTION_ARN) \
		--video-function-arn $(VIDEO_FUNCTION_ARN) $(if $(PREFIX),--prefix $(PREFIX)) --bucket $(BUCKET)

lint: setup ## ruff and mypy, hadolint both Dockerfiles, cfn-lint and `sam validate --lint` the template (offline)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile.image Dockerfile.video
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template-file template.yaml --region $(or $(AWS_REGION),us-east-1)

.PHONY: lock
lock: setup ## pin the sha256 of every wheel in requirements/*.txt for amd64 and arm64 (after changing a version)
	$(PY) -m devtools.wheelhouse lock

.PHONY: bench-containers
bench-containers: build ## image sizes and the emulator's Init Duration/Duration per image, into docs/benchmarks.md [engine]
	$(PY) -m bench.containers $(ENGINE)
