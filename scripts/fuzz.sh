#!/usr/bin/env bash
# Fuzzes sentinel-shared's untrusted-input entry points with cargo-fuzz
# (libFuzzer), each target for SECONDS (default 60), and prints a summary.
#
#   scripts/fuzz.sh [SECONDS]
#
# Targets (fuzz/fuzz_targets/):
#   event_parse   Amplify status-change events and the stack's own envelopes
#   policy_parse  .sentinel/policy.yaml (with its health/alerts/rollback parts)
#   log_classify  the streaming build-log diagnosis
#
# Each target starts from fuzz/seeds/<target>/ copied into its working corpus
# fuzz/corpus/<target>/ (git-ignored, kept between runs). Exits 1 when any
# target crashes, times out or runs out of memory, and prints the input that
# did it (fuzz/artifacts/<target>/...). Reproduce one with
#   RUSTC_BOOTSTRAP=1 .tools/cargo/bin/cargo-fuzz run <target> <artifact>
#
# Environment:
#   FUZZ_SANITIZER  address (default) or none; `address` falls back to none
#                   when the AddressSanitizer build fails
#   FUZZ_TARGETS    space-separated subset of the targets
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (10)
#   FUZZ_TARGET_DIR build directory (default ~/.cache/fuzz-target)
#
# cargo-fuzz needs nightly-only flags (-Zsanitizer, -Cllvm-args=-sanitizer-
# coverage-*); with only a stable toolchain they are allowed through
# RUSTC_BOOTSTRAP=1, which this script sets for its own cargo calls only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${1:-60}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || [ "$DURATION" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (SECONDS a positive integer, default 60)" >&2
  exit 2
fi

TOOLS_ROOT="$ROOT/.tools/cargo"
TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/fuzz-target}
SANITIZER=${FUZZ_SANITIZER:-address}
TIMEOUT=${FUZZ_TIMEOUT:-10}
read -r -a TARGETS <<<"${FUZZ_TARGETS:-event_parse policy_parse log_classify}"

export PATH="$TOOLS_ROOT/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$TARGET_DIR"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz into $TOOLS_ROOT"
  nice -n 19 cargo install --locked cargo-fuzz --root "$TOOLS_ROOT"
fi
echo "== $(cargo-fuzz --version), $(rustc --version)"

build() {
  nice -n 19 cargo fuzz build -s "$1" --target-dir "$TARGET_DIR"
}

echo "== building the fuzz targets (sanitizer: $SANITIZER, target dir: $TARGET_DIR)"
if ! build "$SANITIZER"; then
  if [ "$SANITIZER" = address ]; then
    echo "== the AddressSanitizer build failed; falling back to -s none" >&2
    SANITIZER=none
    build "$SANITIZER"
  else
    exit 1
  fi
fi

# The last "stat::number_of_executed_units: N" (-print_final_stats=1), or
# else the N of libFuzzer's final "#N DONE" line.
executions() {
  local log=$1 n
  n=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ -z "$n" ]; then
    n=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)
  fi
  echo "${n:-?}"
}

declare -a ROWS=()
failed=0
for target in "${TARGETS[@]}"; do
  seeds="fuzz/seeds/$target"
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="fuzz/artifacts/$target.log"
  if [ ! -d "$seeds" ]; then
    echo "no seed corpus $seeds (unknown target $target?)" >&2
    exit 2
  fi
  mkdir -p "$corpus" "$artifacts"
  for seed in "$seeds"/*; do
    [ -e "$corpus/${seed##*/}" ] || cp "$seed" "$corpus/"
  done

  echo "== fuzzing $target for ${DURATION}s (log: $log)"
  rc=0
  nice -n 19 cargo fuzz run -s "$SANITIZER" --target-dir "$TARGET_DIR" "$target" "$corpus" -- \
    -max_total_time="$DURATION" -timeout="$TIMEOUT" -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?

  execs=$(executions "$log")
  files=$(find "$corpus" -type f | wc -l)
  kib=$(($(find "$corpus" -type f -exec cat {} + | wc -c) / 1024))
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    result="FAILED (exit $rc${artifact:+, input: $artifact})"
    echo "!! $target failed; the end of its log:" >&2
    tail -n 40 "$log" >&2
    if [ -n "$artifact" ]; then
      echo "!! crashing input: $artifact" >&2
    fi
  fi
  ROWS+=("$(printf '%-14s %7s %13s %8s files %6s KiB  %s' \
    "$target" "$DURATION" "$execs" "$files" "$kib" "$result")")
done

echo
printf '%-14s %7s %13s %20s  %s\n' target seconds executions corpus result
for row in "${ROWS[@]}"; do
  echo "$row"
done
echo "(sanitizer: $SANITIZER)"
exit "$failed"
