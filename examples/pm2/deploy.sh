#!/usr/bin/env bash
# Zero-downtime deploy of a Node.js service under PM2 that reports to
# Deploy Sentinel (docs/reporting.md):
#
#   backup → sentinel report started → build → pm2 reload
#   → sentinel report succeeded --url … --wait
#   → exit 1 (unhealthy): restore the backup and reload
#
# A failed build is reported with its log's diagnosis (the log itself never
# leaves the server) and the running release is left as it was.
#
# Settings (environment):
#   SERVICE         the service's name in Sentinel (required)
#   SITE_URL        where the service answers once deployed (required, https)
#   SENTINEL_STACK  the Sentinel stack (or SENTINEL_EVENT_BUS, SENTINEL_TABLE
#                   and SENTINEL_ENVIRONMENT)
#   APP_DIR         the service's checkout (default: the current directory)
#   BUILD_CMD       the build (default: npm ci && npm run build)
#   BUILD_OUTPUT    what the build writes, backed up and restored (default: .next)
#   ECOSYSTEM       the PM2 ecosystem file (default: ecosystem.config.js)
#   VERSION         what the new release serves (default: its commit)
#   WAIT_TIMEOUT    seconds to wait for Sentinel's verdict (default: 300)
#   ROLLBACK_ON_INCONCLUSIVE  restore on an inconclusive verdict too (default: false)
#   PM2, SENTINEL   the commands (default: pm2, sentinel)
#   BACKUP_DIR, KEEP_BACKUPS  where backups go, how many are kept (default: backups, 5)
#
# Exit: 0 deployed and healthy (or not checked); 1 build failed, or
# unhealthy and restored; 2 bad settings; 3 inconclusive (kept unless
# ROLLBACK_ON_INCONCLUSIVE); 4 restore failed: a person is needed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/deployment-utils.sh
. "$HERE/lib/deployment-utils.sh"

: "${SERVICE:?SERVICE: the name of the service in Sentinel}"
: "${SITE_URL:?SITE_URL: where the service answers once deployed}"
APP_DIR=$(cd "${APP_DIR:-.}" && pwd)
BUILD_CMD=${BUILD_CMD:-"npm ci && npm run build"}
BUILD_OUTPUT=${BUILD_OUTPUT:-.next}
ECOSYSTEM=${ECOSYSTEM:-$HERE/ecosystem.config.js}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-300}
ROLLBACK_ON_INCONCLUSIVE=${ROLLBACK_ON_INCONCLUSIVE:-false}
PM2=${PM2:-pm2}
SENTINEL=${SENTINEL:-sentinel}
BACKUP_DIR=${BACKUP_DIR:-$APP_DIR/backups}
KEEP_BACKUPS=${KEEP_BACKUPS:-5}
COMMIT=${COMMIT:-$(git -C "$APP_DIR" rev-parse HEAD)}
VERSION=${VERSION:-}
LOG_DIR=${LOG_DIR:-$APP_DIR/logs/deployments}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
# The ecosystem file reads these.
export APP_DIR BUILD_OUTPUT SERVICE
BACKUP="$BACKUP_DIR/$STAMP"
BUILD_LOG="$LOG_DIR/build-$STAMP.log"
mkdir -p "$LOG_DIR"

version_args=()
if [ -n "$VERSION" ]; then version_args=(--version "$VERSION"); fi

log_step "Backup of the running release"
create_backup "$BACKUP"
log_success "backup in $BACKUP"

log_step "Reporting the deploy to Sentinel"
# The deploy id ties the three reports together: the CLI prints it.
DEPLOY_ID=$($SENTINEL report started --service "$SERVICE" --commit "$COMMIT" "${version_args[@]}")
export SENTINEL_DEPLOY_ID=$DEPLOY_ID
log_info "deploy id $DEPLOY_ID"

log_step "Build"
if ! (cd "$APP_DIR" && bash -c "$BUILD_CMD") > "$BUILD_LOG" 2>&1; then
  log_error "build failed; log in $BUILD_LOG"
  # Only the diagnosis (category, fix, masked evidence) is sent.
  $SENTINEL report failed --service "$SERVICE" --commit "$COMMIT" --log "$BUILD_LOG" || true
  # The build may have half-written its output: put the running one back.
  restore_backup "$BACKUP" || exit 4
  exit 1
fi
log_success "built"

log_step "Reload with PM2"
pm2_reload_safe

log_step "Waiting for Sentinel's verdict"
set +e
$SENTINEL report succeeded --service "$SERVICE" --commit "$COMMIT" "${version_args[@]}" \
  --url "$SITE_URL" --wait --timeout "$WAIT_TIMEOUT"
verdict=$?
set -e

restore() {
  log_step "Restoring the previous release ($1)"
  if restore_backup "$BACKUP" && pm2_reload_safe; then
    log_success "previous release restored from $BACKUP"
  else
    log_error "restore failed: the previous release is in $BACKUP"
    exit 4
  fi
}

case $verdict in
  0)
    log_success "deployed and healthy"
    cleanup_old_backups
    ;;
  1)
    restore "Sentinel found the deploy unhealthy"
    exit 1
    ;;
  3 | 5)
    if [ "$ROLLBACK_ON_INCONCLUSIVE" = true ]; then
      restore "no conclusive verdict"
      exit 1
    fi
    log_error "no conclusive verdict (exit $verdict): release kept; check it by hand"
    exit 3
    ;;
  *)
    log_error "sentinel report failed (exit $verdict): release kept, backup in $BACKUP"
    exit "$verdict"
    ;;
esac
