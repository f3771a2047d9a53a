#!/usr/bin/env bash
# Starts the local stack on 127.0.0.1: moto, the Amplify emulator, the
# GitHub emulator (its App's key pair made anew, the private key in moto's
# SSM), the resources of template.yaml, `cargo lambda watch` (the real
# function binaries) and the dispatcher (SQS -> functions). Writes .local/env.
# Ports: MOTO_PORT (4510), AMPLIFY_PORT (4520), LAMBDA_PORT (9010),
# GITHUB_PORT (4540).
# LOCAL_UP_SKIP_BUILD=1 skips the `cargo build` of the binaries (already built).
# LOCAL_UP_GITHUB=off leaves GitHub off in the stack (the template's default).
# LAMBDA_RELEASE=1 serves the release builds (as deployed; for measurements),
# LAMBDA_CONCURRENCY=N up to N instances of each function (default 1).
# DynamoDB is moto's: AWS's DynamoDB Local binds every interface and has no
# loopback-only option.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

MOTO_PORT=${MOTO_PORT:-4510}
AMPLIFY_PORT=${AMPLIFY_PORT:-4520}
LAMBDA_PORT=${LAMBDA_PORT:-9010}
GITHUB_PORT=${GITHUB_PORT:-4540}
# Where a test serves a reported service's site (`sentinel report --url`):
# the local health checker may request it (SENTINEL_SITE_ORIGINS).
REPORT_SITE_PORT=${REPORT_SITE_PORT:-$((AMPLIFY_PORT + 10))}
export REPORT_SITE_PORT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deploy-sentinel/target}
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p .local

if [ -f .local/moto.pid ] && kill -0 "$(cat .local/moto.pid)" 2>/dev/null; then
  echo "local-up: the stack is already running (make local-down first)" >&2
  exit 1
fi

cat > .local/env <<ENV
export MOTO_PORT=$MOTO_PORT AMPLIFY_PORT=$AMPLIFY_PORT LAMBDA_PORT=$LAMBDA_PORT REPORT_SITE_PORT=$REPORT_SITE_PORT
export GITHUB_PORT=$GITHUB_PORT GITHUB_API_URL=http://127.0.0.1:$GITHUB_PORT
# The local GitHub App (tests/localstack/github_emulator.py) and the SSM
# SecureStrings holding its private key and a fine-grained token (the
# fallback's tests); the values stay in moto and .local/.
export GITHUB_LOCAL_APP_ID=4242 GITHUB_LOCAL_KEY_PARAMETER=/deploy-sentinel/dev/github-app-key
export GITHUB_LOCAL_TOKEN_PARAMETER=/deploy-sentinel/dev/github-token
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_AMPLIFY=http://127.0.0.1:$AMPLIFY_PORT
# CloudFormation too is the emulator's: it scripts watched stacks' operations
# (moto cannot fail one) and forwards every other stack to moto.
export AWS_ENDPOINT_URL_CLOUDFORMATION=http://127.0.0.1:$AMPLIFY_PORT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export SENTINEL_LAMBDA_ENDPOINT=http://127.0.0.1:$LAMBDA_PORT
export CARGO_TARGET_DIR=$CARGO_TARGET_DIR
ENV
# shellcheck disable=SC1091
. .local/env

# Whatever fails below, stop what was started so far.
trap 'status=$?; [ $status -eq 0 ] || scripts/local-down.sh >/dev/null 2>&1; exit $status' EXIT

for port in "$MOTO_PORT" "$AMPLIFY_PORT" "$LAMBDA_PORT" "$GITHUB_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "local-up: port $port on 127.0.0.1 is taken (choose another with MOTO_PORT, AMPLIFY_PORT, LAMBDA_PORT or GITHUB_PORT)" >&2
    exit 1
  fi
done

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

start moto python tests/localstack/moto_server.py -H 127.0.0.1 -p "$MOTO_PORT"
wait_for moto 30 curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/data.json"

if [ -f tests/localstack/amplify_emulator.py ]; then
  start amplify python tests/localstack/amplify_emulator.py --host 127.0.0.1 --port "$AMPLIFY_PORT"
  wait_for amplify 30 curl -fs "http://127.0.0.1:$AMPLIFY_PORT/_emulator/health"
else
  echo "local-up: warning: tests/localstack/amplify_emulator.py is missing; no Amplify API" >&2
fi

# The GitHub emulator: the App's key pair is made anew each time (the
# emulator checks the App's JWTs with the public half), and so is the
# fine-grained token it accepts.
python -c 'import sys; sys.path.insert(0, "tests/localstack"); import localservers; localservers.app_key_pair(".local")'
GITHUB_LOCAL_PAT="github_pat_local_$(python -c 'import secrets; print(secrets.token_hex(24))')"
start github env GITHUB_EMULATOR_PAT="$GITHUB_LOCAL_PAT" python tests/localstack/github_emulator.py \
  --host 127.0.0.1 --port "$GITHUB_PORT" \
  --app-id "$GITHUB_LOCAL_APP_ID" --app-public-key .local/github-app-key.pub.pem
wait_for github 30 curl -fs "http://127.0.0.1:$GITHUB_PORT/_emulator/health"
# The private key and the token as the stack reads them: SSM SecureStrings
# (moto's), as `sentinel github setup` has them put on AWS.
GITHUB_LOCAL_PAT=$GITHUB_LOCAL_PAT python - <<'PY'
import os
import boto3
ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
with open(".local/github-app-key.pem") as f:
    ssm.put_parameter(Name=os.environ["GITHUB_LOCAL_KEY_PARAMETER"], Value=f.read(), Type="SecureString",
                      Overwrite=True)
ssm.put_parameter(Name=os.environ["GITHUB_LOCAL_TOKEN_PARAMETER"], Value=os.environ["GITHUB_LOCAL_PAT"],
                  Type="SecureString", Overwrite=True)
PY
unset GITHUB_LOCAL_PAT

# GitHub on, as the local App (LOCAL_UP_GITHUB=off provisions the template's
# default, GitHub off; the emulator runs all the same).
github_flag=--github-app
[ "${LOCAL_UP_GITHUB:-app}" = off ] && github_flag=
python tests/localstack/provision.py --out .local --visibility-timeout 2 ${github_flag:+"$github_flag"}
# The stack's watched apps (AmplifyAppIds), as on AWS they exist before the
# stack: `sentinel doctor` checks that each answers GetApp. The smoke app
# (`make smoke-aws`) is as `make smoke-aws-app` makes it on AWS: a static
# (WEB) app with no repository, deployed by hand.
SMOKE_APP=$(python -c 'import sys; sys.path.insert(0, "tests/localstack"); import provision; print(provision.SMOKE_APP)')
if [ -f tests/localstack/amplify_emulator.py ]; then
  for app in $(python -c 'import sys; sys.path.insert(0, "tests/localstack"); import provision; print(provision.LOCAL_PARAMS["AmplifyAppIds"].replace(",", " "))'); do
    if [ "$app" = "$SMOKE_APP" ]; then
      body="{\"appId\":\"$app\",\"name\":\"deploy-sentinel-smoke-dev\",\"platform\":\"WEB\",\"repository\":\"\"}"
    else
      body="{\"appId\":\"$app\",\"name\":\"watched-$app\",\"platform\":\"WEB_COMPUTE\"}"
    fi
    curl -fsS -X POST -H 'content-type: application/json' "http://127.0.0.1:$AMPLIFY_PORT/_emulator/apps" \
      -d "$body" >/dev/null
  done
fi
echo "export SMOKE_APP=$SMOKE_APP" >> .local/env
cat .local/stack.env >> .local/env
# shellcheck disable=SC1091
. .local/env

# The binaries are built before watch starts, so the first invocation does not
# wait for a compile. Without a workspace (or cargo) there is nothing to run:
# the rest of the stack still comes up.
if [ ! -f Cargo.toml ] || ! command -v cargo >/dev/null; then
  echo "local-up: warning: no Cargo workspace or no cargo; the functions are not served on :$LAMBDA_PORT" >&2
else
  [ "${LOCAL_UP_SKIP_BUILD:-0}" = 1 ] || cargo build --quiet --workspace --bins ${LAMBDA_RELEASE:+--release}
  # The functions' own endpoints and extra variables, for the reliability
  # suite (scripts/reliability.sh): FUNCTIONS_AWS_ENDPOINT_URL and
  # FUNCTIONS_AWS_ENDPOINT_URL_AMPLIFY (its fault proxies; the emulator
  # serves CloudFormation too, so that goes through it as well), FUNCTIONS_ENV
  # ("NAME=value ...", its canary secrets). The dispatcher and tests keep
  # talking to moto and the emulator directly.
  # shellcheck disable=SC2086
  start lambda env ${FUNCTIONS_AWS_ENDPOINT_URL:+AWS_ENDPOINT_URL=$FUNCTIONS_AWS_ENDPOINT_URL} \
    ${FUNCTIONS_AWS_ENDPOINT_URL_AMPLIFY:+AWS_ENDPOINT_URL_AMPLIFY=$FUNCTIONS_AWS_ENDPOINT_URL_AMPLIFY} \
    ${FUNCTIONS_AWS_ENDPOINT_URL_AMPLIFY:+AWS_ENDPOINT_URL_CLOUDFORMATION=$FUNCTIONS_AWS_ENDPOINT_URL_AMPLIFY} \
    ${FUNCTIONS_ENV:-} cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --ignore-changes \
    ${LAMBDA_RELEASE:+--release} --concurrency "${LAMBDA_CONCURRENCY:-1}"
  wait_for lambda 120 curl -s -o /dev/null "http://127.0.0.1:$LAMBDA_PORT/"
fi

start dispatcher python tests/localstack/dispatcher.py --routes .local/routes.json
sleep 0.5
wait_for dispatcher 10 test -s .local/dispatcher.log
echo "local-up: moto :$MOTO_PORT, Amplify emulator :$AMPLIFY_PORT, GitHub emulator :$GITHUB_PORT, functions :$LAMBDA_PORT; endpoints in .local/env"
