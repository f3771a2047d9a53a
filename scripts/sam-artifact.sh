#!/usr/bin/env bash
# Carries `sam build`'s output (.aws-sam/build) from deploy.yml's build job to
# its deploy jobs with its file modes.
#
# actions/upload-artifact keeps no modes: every file comes back 0644
# (https://github.com/actions/upload-artifact#permission-loss), and
# `sam deploy` zips what is on disk, adding read bits only. A `bootstrap`
# without its execute bit deploys fine, then every invocation fails with
# Runtime.InvalidEntrypoint (Lambda wants 755 on executables of compiled
# runtimes: https://repost.aws/knowledge-center/lambda-deployment-package-errors).
# So the build is uploaded as one tar, which keeps the modes, as
# upload-artifact's README advises, rather than chmod +x after download: the
# tar restores every mode sam build left, with no list of files to keep in
# step with template.yaml. .aws-sam/build.toml is left out: only `sam build`
# reads it, not deploy. The tar sits at the workspace's top, not under
# .aws-sam: upload-artifact (v4.4+) skips hidden paths.
#
#   scripts/sam-artifact.sh pack     .aws-sam/build -> sam-build.tar
#   scripts/sam-artifact.sh unpack   sam-build.tar -> .aws-sam/build
#
# Both check that every function's bootstrap is executable, so a job fails
# here rather than the stack's first invocation.
set -euo pipefail

TARBALL=sam-build.tar
BUILD=.aws-sam/build

check() {
    local found=0 bad=0 f
    while IFS= read -r -d '' f; do
        found=$((found + 1))
        if [ ! -x "$f" ]; then
            echo "::error::$f is not executable: Lambda would fail with Runtime.InvalidEntrypoint" >&2
            bad=1
        fi
    done < <(find "$BUILD" -name bootstrap -type f -print0)
    if [ "$found" -eq 0 ]; then
        echo "::error::no bootstrap under $BUILD: is it sam build's output?" >&2
        exit 1
    fi
    [ "$bad" -eq 0 ] || exit 1
    echo "$found bootstraps, all executable"
}

case "${1:-}" in
    pack)
        [ -d "$BUILD" ] || { echo "::error::no $BUILD: run sam build first" >&2; exit 1; }
        check
        tar -cf "$TARBALL" "$BUILD"
        ;;
    unpack)
        [ -f "$TARBALL" ] || { echo "::error::no $TARBALL: download the sam-build artifact first" >&2; exit 1; }
        rm -rf "$BUILD"
        # -p: the modes as packed, whatever the runner's umask.
        tar -xpf "$TARBALL"
        rm "$TARBALL"
        check
        ;;
    *)
        echo "usage: $0 pack|unpack" >&2
        exit 2
        ;;
esac
