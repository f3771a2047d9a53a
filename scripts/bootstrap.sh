#!/usr/bin/env bash
# Idempotent set-up on a bare machine: a venv under the repo with the local
# stack's tools (moto, cargo-lambda and zig, SAM CLI, cfn-lint, awscli).
# Nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/localstack/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
usable() { .venv/bin/python -c '' 2>/dev/null; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/moto_server ] && usable; then
  exit 0
fi
echo "bootstrap: installing the local stack's tools into .venv (about a minute)"
# A venv whose interpreter is gone (another machine, another Python) is made anew.
usable || python3 -m venv --clear .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
