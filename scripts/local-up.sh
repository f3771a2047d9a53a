#!/usr/bin/env bash
# Starts the local stack on 127.0.0.1: moto, the Amplify emulator, the
# resources of template.yaml, `cargo lambda watch` (the real function
# binaries) and the dispatcher (SQS -> functions). Writes .local/env.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

MOTO_PORT=${MOTO_PORT:-4510}
AMPLIFY_PORT=${AMPLIFY_PORT:-4520}
LAMBDA_PORT=${LAMBDA_PORT:-9010}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deploy-sentinel/target}
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p .local

if [ -f .local/moto.pid ] && kill -0 "$(cat .local/moto.pid)" 2>/dev/null; then
  echo "local-up: the stack is already running (make local-down first)" >&2
  exit 1
fi

cat > .local/env <<ENV
export MOTO_PORT=$MOTO_PORT AMPLIFY_PORT=$AMPLIFY_PORT LAMBDA_PORT=$LAMBDA_PORT
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_AMPLIFY=http://127.0.0.1:$AMPLIFY_PORT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export SENTINEL_LAMBDA_ENDPOINT=http://127.0.0.1:$LAMBDA_PORT
export CARGO_TARGET_DIR=$CARGO_TARGET_DIR
ENV
# shellcheck disable=SC1091
. .local/env

# start NAME CMD...: in its own process group, so local-down stops its children too.
start() {
  local name=$1; shift
  setsid "$@" > ".local/$name.log" 2>&1 < /dev/null &
  echo $! > ".local/$name.pid"
}

# wait_for NAME SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(cat ".local/$name.pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "local-up: $name did not start; the end of .local/$name.log:" >&2
      tail -n 20 ".local/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
}

start moto moto_server -H 127.0.0.1 -p "$MOTO_PORT"
wait_for moto 30 curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/data.json"

start amplify python tests/localstack/amplify_emulator.py --host 127.0.0.1 --port "$AMPLIFY_PORT"
wait_for amplify 30 curl -fs "http://127.0.0.1:$AMPLIFY_PORT/_emulator/health"

python tests/localstack/provision.py --out .local --visibility-timeout 2
cat .local/stack.env >> .local/env
# shellcheck disable=SC1091
. .local/env

# The binaries are built before watch starts, so the first invocation does not
# wait for a compile.
cargo build --quiet --workspace --bins
start lambda cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --ignore-changes
wait_for lambda 120 curl -s -o /dev/null "http://127.0.0.1:$LAMBDA_PORT/"

start dispatcher python tests/localstack/dispatcher.py --routes .local/routes.json
echo "local-up: moto :$MOTO_PORT, Amplify emulator :$AMPLIFY_PORT, functions :$LAMBDA_PORT; endpoints in .local/env"
