#!/usr/bin/env bash
# Makes ./target the Cargo target directory before `sam build` (make build).
# SAM's rust-cargolambda builder copies the binaries from ./target/lambda
# whatever CARGO_TARGET_DIR says (aws_lambda_builders, rust_cargo/actions.py),
# while cargo-lambda writes them under $CARGO_TARGET_DIR/lambda. So:
# - CARGO_TARGET_DIR is ./target itself (CI: $GITHUB_WORKSPACE/target): make
#   it a real directory. A blind `ln -s` made ./target a link to itself there,
#   and cargo failed with "Too many levels of symbolic links".
# - it is elsewhere (the default, ~/.cache/deploy-sentinel/target): link
#   ./target to it, so nothing builds twice.
# - ./target is a real directory or file of its own: stop. SAM would package
#   whatever old binaries it holds, not what cargo just built.
set -euo pipefail

dir=${CARGO_TARGET_DIR:?CARGO_TARGET_DIR is not set (the Makefile sets it)}

# A link that resolves to nothing (dangling, or the self-link the old recipe
# left behind) holds no data: drop it and decide afresh.
if [ -L target ] && [ ! -e target ]; then
    rm target
fi

mkdir -p "$dir"
want=$(cd "$dir" && pwd -P)

if [ -d target ] && [ "$(cd target && pwd -P)" = "$want" ]; then
    exit 0
fi

if [ -L target ]; then
    # A link to another target directory (CARGO_TARGET_DIR changed): repoint
    # it; replacing a link deletes nothing.
    echo "link-target: ./target pointed to $(readlink target); now $want" >&2
    ln -sfn "$want" target
elif [ -e target ]; then
    echo "link-target: ./target is a real $( [ -d target ] && echo directory || echo file ), but cargo builds into $want." >&2
    echo "  SAM packages ./target/lambda, so it would ship stale binaries. Remove ./target" >&2
    echo "  (a build cache), or build with CARGO_TARGET_DIR=\"\$PWD/target\"." >&2
    exit 1
else
    ln -s "$want" target
fi
