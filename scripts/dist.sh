#!/usr/bin/env bash
# The operator CLI as a release asset: dist/sentinel-<target> and its
# .sha256 (`sha256sum -c` format). The release workflow
# (.github/workflows/release.yml) builds each target with its own toolchain
# and calls `package` and `check` from here; `make dist` builds what this
# machine can: a static x86_64 Linux binary (glibc, +crt-static), since
# only the gnu target's standard library is installed (docs: README,
# "Installing the CLI").
#
#   scripts/dist.sh                    build, package and check the static x86_64 binary
#   scripts/dist.sh package TARGET BIN copy BIN to dist/sentinel-TARGET, write its .sha256
#   scripts/dist.sh check FILE [run]   static (Linux), checksum matches, and with `run`:
#                                      --version is this version and commit
#   scripts/dist.sh notes VERSION      the CHANGELOG.md section of VERSION (release notes)
set -euo pipefail
cd "$(dirname "$0")/.."

version() { sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1; }

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

# Where assets go (tests point it elsewhere).
DIST=${DIST:-dist}

package() {
  local target=$1 bin=$2 name
  name=sentinel-$target
  mkdir -p "$DIST"
  cp "$bin" "$DIST/$name"
  chmod 0755 "$DIST/$name"
  (cd "$DIST" && sha256 "$name" > "$name.sha256")
  echo "$DIST/$name"
}

check() {
  local file=$1 run=${2:-} dir name what
  dir=$(dirname "$file")
  name=$(basename "$file")
  (cd "$dir" && sha256 -c "$name.sha256" >/dev/null) || { echo "dist: $file does not match $name.sha256" >&2; return 1; }
  what=$(file -b "$file")
  case "$what" in
    *ELF*)
      # `file` says "statically linked" (or "static-pie linked"); a dynamic
      # binary names its interpreter.
      if ! grep -Eq 'static(ally|-pie) linked' <<<"$what" || grep -q 'interpreter' <<<"$what"; then
        echo "dist: $file is not static: $what" >&2
        return 1
      fi ;;
    *Mach-O*) ;;  # macOS links libSystem dynamically, always
    *) echo "dist: $file is no executable: $what" >&2; return 1 ;;
  esac
  if [ "$run" = run ]; then
    local want got commit
    if [ -n "${SENTINEL_COMMIT:-}" ]; then
      commit=${SENTINEL_COMMIT:0:7}
    else
      commit=$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
    fi
    want="sentinel $(version) ($commit)"
    got=$("$file" --version)
    [ "$got" = "$want" ] || { echo "dist: $file --version says '$got', not '$want'" >&2; return 1; }
  fi
  echo "dist: $file: ok ($what)"
}

notes() {
  # From "## [VERSION]" to the next "## [" heading, without the heading.
  awk -v v="$1" '
    index($0, "## [" v "]") == 1 { on = 1; next }
    on && /^## \[/ { exit }
    on { print }
  ' CHANGELOG.md | sed -e '/./,$!d'
}

case "${1:-build}" in
  package) package "$2" "$3" ;;
  check) check "$2" "${3:-}" ;;
  notes)
    out=$(notes "$2")
    [ -n "$out" ] || { echo "dist: CHANGELOG.md has no section [$2]" >&2; exit 1; }
    printf '%s\n' "$out" ;;
  build)
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/deploy-sentinel/target}
    target=x86_64-unknown-linux-gnu
    # --target keeps +crt-static off the build scripts and proc macros, which
    # must stay dynamic host binaries.
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --release --locked -p sentinel --target "$target"
    file=$(package "$target" "$CARGO_TARGET_DIR/$target/release/sentinel")
    check "$file" run
    ;;
  *) echo "usage: scripts/dist.sh [build | package TARGET BIN | check FILE [run] | notes VERSION]" >&2; exit 2 ;;
esac
