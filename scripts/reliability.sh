#!/usr/bin/env bash
# `make reliability`: the reliability suite (docs/reliability.md).
#   1. property tests: exactly-once effects under any delivery; malformed and
#      untrusted input (shared/tests/untrusted.rs)
#   2. fuzzing: each cargo-fuzz target for FUZZ_SECONDS (60)
#   3. dependency audit (what works offline)
#   4. the local stack with the functions behind a fault proxy and given
#      canary secrets, then tests/localstack/reliability.py's phases
#      (RELIABILITY_PHASES, default: calls latency faults burst canary roles)
# Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deploy-sentinel/target}
PHASES=${RELIABILITY_PHASES:-calls latency faults burst canary roles}
PROXY_PORT=${PROXY_PORT:-4530}
PROXY_AMPLIFY_PORT=${PROXY_AMPLIFY_PORT:-4550}  # 4540 is the GitHub emulator's (GITHUB_PORT)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "set-up"
scripts/bootstrap.sh

step "property tests: exactly-once effects under any delivery, malformed and untrusted input"
cargo test --quiet -p sentinel-shared --test exactly_once --test malformed --test untrusted

if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
  step "fuzzing: ${FUZZ_SECONDS:-60} s per target"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi

step "dependency audit"
scripts/audit.sh

step "the local stack, its functions behind the fault proxy, with canary secrets"
# The release builds, as deployed (RELIABILITY_DEBUG=1 for the debug ones);
# two instances of each function, as Lambda scales out.
if [ "${RELIABILITY_DEBUG:-0}" != 1 ]; then export LAMBDA_RELEASE=1; fi
export LAMBDA_CONCURRENCY=${LAMBDA_CONCURRENCY:-2}
cargo build --quiet --workspace --bins ${LAMBDA_RELEASE:+--release}
scripts/local-down.sh >/dev/null 2>&1 || true
trap 'scripts/local-down.sh >/dev/null 2>&1 || true' EXIT
mkdir -p .local
canary() { printf '%s%s' "$1" "$(head -c 64 /dev/urandom | sha256sum | cut -c1-"$2")"; }
CANARY_TOKEN=$(canary ghp_ 36)
CANARY_STRIPE=$(canary sk_live_ 40)
CANARY_DB=$(canary pw 24)
CANARY_BEARER=$(canary eyJhbGciOi 40)
CANARY_AWS_SECRET=$(canary wJalr 35)
CANARY_AWS_SESSION=$(canary IQoJb3JpZ2lu 60)
export SENTINEL_CANARIES="$CANARY_TOKEN,$CANARY_STRIPE,$CANARY_DB,$CANARY_BEARER,$CANARY_AWS_SECRET,$CANARY_AWS_SESSION"
MOTO_PORT=${MOTO_PORT:-4510}
AMPLIFY_PORT=${AMPLIFY_PORT:-4520}
setsid .venv/bin/python tests/localstack/fault_proxy.py --listen "$PROXY_PORT" \
  --upstream "http://127.0.0.1:$MOTO_PORT" --rate 0 > .local/proxy.log 2>&1 < /dev/null &
echo $! > .local/proxy.pid
setsid .venv/bin/python tests/localstack/fault_proxy.py --listen "$PROXY_AMPLIFY_PORT" \
  --upstream "http://127.0.0.1:$AMPLIFY_PORT" --rate 0 > .local/proxy-amplify.log 2>&1 < /dev/null &
echo $! > .local/proxy-amplify.pid
FUNCTIONS_AWS_ENDPOINT_URL="http://127.0.0.1:$PROXY_PORT" \
FUNCTIONS_AWS_ENDPOINT_URL_AMPLIFY="http://127.0.0.1:$PROXY_AMPLIFY_PORT" \
FUNCTIONS_ENV="AWS_SECRET_ACCESS_KEY=$CANARY_AWS_SECRET AWS_SESSION_TOKEN=$CANARY_AWS_SESSION" \
LOCAL_UP_SKIP_BUILD=1 MOTO_PORT=$MOTO_PORT AMPLIFY_PORT=$AMPLIFY_PORT scripts/local-up.sh
# shellcheck disable=SC1091
. .local/env
export FAULT_PROXY_URL="http://127.0.0.1:$PROXY_PORT" FAULT_PROXY_AMPLIFY_URL="http://127.0.0.1:$PROXY_AMPLIFY_PORT"

step "runs on the local stack: $PHASES"
# shellcheck disable=SC2086
.venv/bin/python tests/localstack/reliability.py $PHASES ${RELIABILITY_ARGS:-}
