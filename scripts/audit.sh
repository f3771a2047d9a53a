#!/usr/bin/env bash
# Dependency audit with cargo-deny (configuration: deny.toml).
#
#   scripts/audit.sh                          licences, bans, sources (offline)
#   ADVISORY_DB=/path/to/advisory-db scripts/audit.sh
#                                             ... and RustSec advisories
#
# `licenses`, `bans` and `sources` need only Cargo.lock and the crates in
# ~/.cargo/registry (fetched from crates.io once if missing), so they run
# without GitHub. `advisories` needs the RustSec advisory database, a git
# repository on GitHub (https://github.com/rustsec/advisory-db): give a local
# clone (a git work tree) in ADVISORY_DB and the check runs against it offline;
# without one it is skipped with a notice. The snapshot's date is printed:
# advisories newer than it are not seen.
#
# cargo-deny is installed into .tools/cargo when missing (~11 min to build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

TOOLS_ROOT="$ROOT/.tools/cargo"
export PATH="$TOOLS_ROOT/bin:$PATH"

if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "== installing cargo-deny into $TOOLS_ROOT"
  nice -n 19 cargo install --locked cargo-deny --root "$TOOLS_ROOT"
fi
echo "== $(cargo-deny --version)"

# cargo-deny reads `cargo metadata`, which needs every locked crate (for every
# platform) in the local registry; fetch them from crates.io once if needed.
if ! cargo metadata --frozen --format-version 1 >/dev/null 2>&1; then
  echo "== fetching the locked crates (crates.io)"
  nice -n 19 cargo fetch --locked
fi

status=0

echo "== cargo deny check licenses bans sources (offline)"
nice -n 19 cargo deny --frozen check licenses bans sources || status=1

if [ -z "${ADVISORY_DB:-}" ]; then
  cat <<'EOF'
== advisories: SKIPPED
   The RustSec advisory database is a git repository on GitHub
   (https://github.com/rustsec/advisory-db), which this machine cannot reach,
   so `cargo deny check advisories` cannot fetch it here. Where GitHub is
   reachable, run either
     cargo deny check advisories          # fetches into ~/.cargo/advisory-dbs
   or, to audit against a copy made elsewhere,
     git clone --depth 1 https://github.com/rustsec/advisory-db /tmp/advisory-db
     ADVISORY_DB=/tmp/advisory-db scripts/audit.sh
EOF
  exit "$status"
fi

if [ ! -d "$ADVISORY_DB/crates" ] || ! git -C "$ADVISORY_DB" rev-parse HEAD >/dev/null 2>&1; then
  echo "ADVISORY_DB=$ADVISORY_DB is not a git work tree of rustsec/advisory-db (no crates/ or no HEAD)" >&2
  exit 2
fi
ADVISORY_DB=$(cd "$ADVISORY_DB" && pwd)
snapshot=$(git -C "$ADVISORY_DB" log -1 --format='%cI %h')
echo "== advisories against $ADVISORY_DB (snapshot: newest commit $snapshot)"

# cargo-deny opens <db-path>/<name>-<hash of the db url>/ and, offline, never
# fetches. Point db-path at a scratch directory, ask cargo-deny which
# directory it wants there, and make that a link to ADVISORY_DB.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sentinel-audit.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
sed "s|^db-path = .*|db-path = \"$scratch\"|" deny.toml >"$scratch/deny.toml"
wanted=$(cargo deny --frozen -L debug --config "$scratch/deny.toml" check advisories 2>&1 |
  sed -n "s/.*Opening advisory database at '\\([^']*\\)'.*/\\1/p" | head -n 1 || true)
if [ -z "$wanted" ]; then
  echo "could not find where cargo-deny expects the advisory database" >&2
  exit 1
fi
ln -s "$ADVISORY_DB" "$wanted"
nice -n 19 cargo deny --frozen --config "$scratch/deny.toml" check advisories || status=1
exit "$status"
