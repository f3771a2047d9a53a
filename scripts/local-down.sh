#!/usr/bin/env bash
# Stops what local-up started (each in its own process group). Safe to run twice.
set -uo pipefail
cd "$(dirname "$0")/.."
for name in dispatcher lambda github amplify moto proxy proxy-amplify; do
  pidfile=".local/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
echo "local-down: stopped"
