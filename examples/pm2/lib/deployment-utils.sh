#!/usr/bin/env bash
# Reusable functions of the PM2 deploy script: logging, backup and restore,
# the PM2 reload. Sourced by deploy.sh; no function exits the script.

log_info()    { printf '\033[0;34m[INFO]\033[0m %s\n' "$*" >&2; }
log_success() { printf '\033[0;32m[OK]\033[0m %s\n' "$*" >&2; }
log_error()   { printf '\033[0;31m[ERROR]\033[0m %s\n' "$*" >&2; }
log_step()    { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

# create_backup DIR: copies the build output and the lock file of $APP_DIR
# into DIR (a new, timestamped directory) with a metadata.json.
create_backup() {
  local dir=$1
  mkdir -p "$dir"
  if [ -d "$APP_DIR/$BUILD_OUTPUT" ]; then
    cp -a "$APP_DIR/$BUILD_OUTPUT" "$dir/"
  fi
  for f in package-lock.json .env.local; do
    if [ -f "$APP_DIR/$f" ]; then cp -a "$APP_DIR/$f" "$dir/"; fi
  done
  printf '{"createdAt":"%s","commit":"%s","service":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(previous_commit)" "$SERVICE" > "$dir/metadata.json"
}

# restore_backup DIR: puts the backed-up build output (and lock file) back.
restore_backup() {
  local dir=$1
  if [ ! -d "$dir/$BUILD_OUTPUT" ]; then
    log_error "no build output in backup $dir: nothing to restore"
    return 1
  fi
  rm -rf "${APP_DIR:?}/$BUILD_OUTPUT"
  cp -a "$dir/$BUILD_OUTPUT" "$APP_DIR/"
  for f in package-lock.json .env.local; do
    if [ -f "$dir/$f" ]; then cp -a "$dir/$f" "$APP_DIR/"; fi
  done
}

# cleanup_old_backups: keeps the newest $KEEP_BACKUPS backups.
cleanup_old_backups() {
  local n=0 d
  for d in $(ls -1dt "$BACKUP_DIR"/*/ 2>/dev/null); do
    n=$((n + 1))
    if [ "$n" -gt "$KEEP_BACKUPS" ]; then rm -rf "$d"; fi
  done
}

previous_commit() {
  git -C "$APP_DIR" rev-parse HEAD 2>/dev/null || echo unknown
}

# pm2_reload_safe: a zero-downtime reload of the ecosystem's apps (started
# when they are not running yet), with the new environment.
pm2_reload_safe() {
  (cd "$APP_DIR" && $PM2 startOrReload "$ECOSYSTEM" --update-env) >&2
}
