# Container images, local runs with the Runtime Interface Emulator, ECR push/promotion, lint.
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
DOCKER_NETWORK ?=
FORWARD_ENV := AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN GUARD SOURCE_PREFIX \
	DEST_PREFIX DEST_BUCKET DELETE_ORIGINAL_VERSION MAX_IMAGE_MB MULTIPART_PART_MB ORIENTATION MAX_PIXELS

BUCKET ?= media
KEY ?=
IMAGE_FUNCTION_ARN ?= arn:aws:lambda:$(or $(AWS_REGION),us-east-1):123456789012:function:mediascrub-image
VIDEO_FUNCTION_ARN ?= arn:aws:lambda:$(or $(AWS_REGION),us-east-1):123456789012:function:mediascrub-video

# Base images pinned by digest: `make pin-bases` writes docker/base-digests.mk (IMAGE_BASE_DIGEST,
# VIDEO_BASE_DIGEST); without it the Dockerfiles' tags are used, with a warning.
-include docker/base-digests.mk
IMAGE_BASE_DIGEST ?=
VIDEO_BASE_DIGEST ?=

# $(call buildx,image|video,OUTPUT_FLAG,TAG_PREFIX): build Dockerfile.<kind> once per platform.
define buildx
	@$(if $($(call upper,$(1))_BASE_DIGEST),,echo "warning: $(1) base image not pinned by digest (run make pin-bases)";) \
	for platform in $(PLATFORMS); do \
		arch=$${platform#*/}; \
		echo "building $(3)$(NAME_PREFIX)$(1):$(4)$$arch for $$platform"; \
		docker buildx build --platform $$platform --provenance=false --sbom=false $(2) \
			$(if $($(call upper,$(1))_BASE_DIGEST),--build-arg BASE_DIGEST=$($(call upper,$(1))_BASE_DIGEST)) \
			-f Dockerfile.$(1) -t $(3)$(NAME_PREFIX)$(1):$(4)$$arch . || exit 1; \
	done
endef
upper = $(if $(filter image,$(1)),IMAGE,VIDEO)

# $(call run,image|video): the container with the emulator on PORT, S3 wherever S3_ENDPOINT says.
define run
	docker run --rm --init $(if $(DOCKER_NETWORK),--network $(DOCKER_NETWORK),-p $(PORT):8080) \
		-e AWS_REGION=$(or $(AWS_REGION),us-east-1) $(if $(S3_ENDPOINT),-e AWS_ENDPOINT_URL_S3=$(S3_ENDPOINT)) \
		$(foreach name,$(FORWARD_ENV),-e $(name)) $(NAME_PREFIX)$(1):$(RUN_ARCH)
endef

.PHONY: build-image build-video build run-image run-video invoke-image invoke-video push promote \
	notification-config lint pin-bases

build-image: ## build the image Lambda for PLATFORM (default: this machine's) [Docker]
	$(call buildx,image,--load,,)

build-video: ## build the video Lambda for PLATFORM (linux/amd64,linux/arm64 for both) [Docker]
	$(call buildx,video,--load,,)

build: build-image build-video ## build both images for PLATFORM [Docker]

run-image: ## run the image Lambda with the emulator on PORT=9000, S3 at S3_ENDPOINT= (default AWS) [Docker]
	$(call run,image)

run-video: ## run the video Lambda with the emulator on PORT=9000, S3 at S3_ENDPOINT= (default AWS) [Docker]
	$(call run,video)

# $(call invoke,DEFAULT_KEY): POST an S3 event to the emulator of the running container.
define invoke
	$(PY) -m deploy.invoke --bucket '$(BUCKET)' --key '$(or $(KEY),$(1))' \
		--url http://localhost:$(PORT)/2015-03-31/functions/function/invocations
endef

invoke-image: setup ## POST an S3 event for BUCKET= KEY= to the running image container, print the answer
	$(call invoke,sample.jpg)

invoke-video: setup ## POST an S3 event for BUCKET= KEY= to the running video container, print the answer
	$(call invoke,sample.mp4)

push: setup ## push both images for PLATFORM to ECR tagged GITSHA-ARCH, print the digests [Docker, AWS]
	$(eval REGISTRY := $(shell $(ECR) uri))
	@test -n "$(REGISTRY)" || { echo "push: no ECR registry found (AWS credentials? AWS_REGION?)"; exit 1; }
	@$(ECR) password | docker login --username AWS --password-stdin $(REGISTRY)
	@for kind in image video; do $(ECR) ensure-repo $(NAME_PREFIX)$$kind >/dev/null || exit 1; done
	$(call buildx,image,--push,$(REGISTRY)/,$(GIT_SHA)-)
	$(call buildx,video,--push,$(REGISTRY)/,$(GIT_SHA)-)
	@echo "deploy these (by digest):"; for kind in image video; do for platform in $(PLATFORMS); do \
		echo "  $$kind $${platform#*/}: $$($(ECR) digest $(NAME_PREFIX)$$kind $(GIT_SHA)-$${platform#*/})" || exit 1; \
	done; done

promote: setup ## retag both pushed images by digest, FROM_TAG= to TO_TAG= (TO_REGISTRY= copies) [AWS]
	@test -n "$(FROM_TAG)" -a -n "$(TO_TAG)" || { echo "usage: make promote FROM_TAG=<sha>-<arch> TO_TAG=prod-<arch> [TO_REGISTRY=host]"; exit 2; }
	@for kind in image video; do \
		repo=$(NAME_PREFIX)$$kind; \
		if [ -z "$(TO_REGISTRY)" ]; then \
			$(PY) -m deploy.promote $(REGION_FLAG) --repository $$repo --from-tag $(FROM_TAG) --to-tag $(TO_TAG) || exit 1; \
		else \
			source=$$($(ECR) digest $$repo $(FROM_TAG)) || exit 1; \
			docker buildx imagetools create --tag $(TO_REGISTRY)/$$repo:$(TO_TAG) $$source || exit 1; \
			echo "$$source -> $(TO_REGISTRY)/$$repo:$(TO_TAG)"; \
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

pin-bases: ## look up the base images' current digests and record them in docker/base-digests.mk [Docker]
	@tmp=docker/base-digests.mk.tmp; trap 'rm -f '$$tmp EXIT; \
	{ echo "# Written by make pin-bases: the digests the Dockerfiles' base tags resolved to."; \
	for kind in image video; do \
		base=$$(grep -oP '^FROM \K[^$$ ]+(?=\$$\{BASE_DIGEST)' Dockerfile.$$kind) && \
		digest=$$(docker buildx imagetools inspect $$base --format '{{.Manifest.Digest}}') && \
		test -n "$$digest" || exit 1; \
		echo "$$(echo $$kind | tr a-z A-Z)_BASE_DIGEST := $$digest  # $$base"; \
	done; } > $$tmp && mv $$tmp docker/base-digests.mk && cat docker/base-digests.mk
