#!/usr/bin/env bash
# Everything `make test` runs: lint, unit tests, then the local stack and the
# tests against it (Python for the emulator and provisioning, Rust for the
# rest). The stack is stopped whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deploy-sentinel/target}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "set-up"
scripts/bootstrap.sh

step "lint: rustfmt, clippy, template"
make --no-print-directory lint

step "unit tests"
cargo test --workspace --exclude sentinel-local-stack-tests --quiet

step "build the binaries and the integration tests"
cargo build --quiet --workspace --bins
cargo test --no-run --quiet -p sentinel-local-stack-tests

step "local stack"
scripts/local-down.sh >/dev/null 2>&1 || true
trap 'scripts/local-down.sh >/dev/null 2>&1 || true' EXIT
scripts/local-up.sh
# shellcheck disable=SC1091
. .local/env

step "emulator and provisioning tests (pytest)"
.venv/bin/python -m pytest -q tests/localstack

step "integration tests (Rust, against the local stack)"
cargo test --quiet -p sentinel-local-stack-tests -- --test-threads 4

step "make smoke-aws against the local stack (the same script as against AWS)"
# The endpoints come from .local/env, as a profile's would on AWS; every
# wait is capped so that a step that cannot happen fails in a minute.
SECONDS_BEFORE=$SECONDS
make --no-print-directory smoke-aws STACK=deploy-sentinel-dev APP="$SMOKE_APP" SMOKE_FLAGS="--max-wait 60"
echo "smoke-aws: $((SECONDS - SECONDS_BEFORE)) s"

step "the demo's story, end to end (scripts/demo.sh fails if a step did not happen)"
scripts/local-down.sh >/dev/null 2>&1 || true
scripts/demo.sh > .local-demo.log 2>&1 || { tail -n 40 .local-demo.log; exit 1; }
sed 's/\x1b\[[0-9;]*m//g' .local-demo.log | grep -E '^== '
echo "demo: every step happened (full output in .local-demo.log)"
