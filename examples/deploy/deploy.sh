#!/usr/bin/env bash
# Deploys a release of the inventory app on its server, and takes it back when it is unhealthy.
#
#   deploy.sh RELEASE_DIR   deploy a built release: a directory holding bin/inventory and the
#                           app's qvdiff.toml with what it names (migrations/, the model sources)
#   deploy.sh               deploy the newest commit: git pull in $DEPLOY_REPO, cargo build
#                           --release, and a release directory made from that commit
#
# Steps: the new release's models are checked against its migrations (`qvdiff check`); pending
# migrations are applied (`qvdiff upgrade`: an online backup first, all or nothing, the service
# keeps running); the `current` link moves to the new release and the service restarts; the
# health check runs (the service is alive, and `bin/inventory check` says the database holds
# exactly the migrations and tables compiled into the new binary). When the health check fails,
# the reason is printed, the new release is stopped, `current` goes back to the previous release,
# the database is restored from the backup the upgrade took (`qvdiff restore --revision`), and
# the previous release is started again. Exit code 0: deployed; 1: refused or rolled back (the
# previous release is running); 2: wrong usage.
#
# Layout under $APP_ROOT:
#   releases/<name>/        one directory per release; its `instance` links to shared/instance
#   current                 link to the release that runs
#   shared/instance/        app.db and backups/ (qvdiff.toml: sqlite://instance/app.db)
#   shared/log/             the service's output (process mode)
#   shared/run/             the pid file (process mode)
#
# Environment:
#   APP_ROOT          where the app lives (default /srv/inventory)
#   QVDIFF            the qvdiff command (default: qvdiff on the PATH)
#   DEPLOY_SERVICE    how the service is run: `systemd` (default: systemctl restart of
#                     $SERVICE_NAME, see inventory.service) or `process` (a background process
#                     with a pid file in shared/run/, for machines without systemd and for tests)
#   SERVICE_NAME      the systemd unit (default inventory)
#   SYSTEMCTL         how systemctl is called (default systemctl; `sudo -n systemctl` for a deploy
#                     user that sudoers allows to restart, stop and query the unit)
#   HEALTH_WAIT       seconds the new service must stay up before the check (default 3)
#   DEPLOY_REPO       the git checkout of the no-argument form (default $APP_ROOT/repo)
#   DEPLOY_BUILD      its build command, run there (default: cargo build --release --locked -p
#                     inventory)
#   DEPLOY_BINARY     the binary that build makes, relative to $DEPLOY_REPO or absolute (default
#                     target/release/inventory)
#   DEPLOY_DB_WAS     the database's revision before this deploy, as `qvdiff current` printed
#                     it, when something already migrated it (migrate_and_deploy.sh sets it):
#                     a rollback then restores the backup taken before those migrations too

set -euo pipefail

APP_ROOT=${APP_ROOT:-/srv/inventory}
QVDIFF=${QVDIFF:-qvdiff}
DEPLOY_SERVICE=${DEPLOY_SERVICE:-systemd}
SERVICE_NAME=${SERVICE_NAME:-inventory}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
HEALTH_WAIT=${HEALTH_WAIT:-3}
DEPLOY_REPO=${DEPLOY_REPO:-$APP_ROOT/repo}
DEPLOY_BUILD=${DEPLOY_BUILD:-cargo build --release --locked -p inventory}
DEPLOY_BINARY=${DEPLOY_BINARY:-target/release/inventory}

say() { printf 'deploy: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case "$DEPLOY_SERVICE" in
systemd | process) ;;
*)
    say "DEPLOY_SERVICE must be systemd or process, not \"$DEPLOY_SERVICE\""
    exit 2
    ;;
esac
if [ $# -gt 1 ]; then
    say "usage: deploy.sh [RELEASE_DIR]"
    exit 2
fi

mkdir -p "$APP_ROOT/releases" "$APP_ROOT/shared/instance" "$APP_ROOT/shared/log" \
    "$APP_ROOT/shared/run"
# One deploy at a time.
exec 9>"$APP_ROOT/shared/run/deploy.lock"
flock -n 9 || die "another deploy is running (lock: $APP_ROOT/shared/run/deploy.lock)"

PID_FILE=$APP_ROOT/shared/run/$SERVICE_NAME.pid
LOG_FILE=$APP_ROOT/shared/log/$SERVICE_NAME.log

# --- the service ---------------------------------------------------------------------------

service_stop() {
    if [ "$DEPLOY_SERVICE" = systemd ]; then
        $SYSTEMCTL stop "$SERVICE_NAME"
        return
    fi
    [ -f "$PID_FILE" ] || return 0
    local pid
    pid=$(cat "$PID_FILE")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$PID_FILE"
}

service_start() {
    if [ "$DEPLOY_SERVICE" = systemd ]; then
        $SYSTEMCTL restart "$SERVICE_NAME"
        return
    fi
    # The same command as the unit's ExecStart, from the same working directory.
    # The service must not hold the deploy lock (fd 9).
    (cd "$APP_ROOT/current" && exec bin/inventory serve) </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    echo $! >"$PID_FILE"
}

service_running() {
    if [ "$DEPLOY_SERVICE" = systemd ]; then
        $SYSTEMCTL is-active --quiet "$SERVICE_NAME"
    else
        [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
    fi
}

# Prints why the running release is unhealthy; silent (and status 0) when it is healthy: the
# service is still up after $HEALTH_WAIT seconds and the app's own check passes.
health_problem() {
    local waited=0 check_output check_status=0
    while [ "$waited" -lt "$HEALTH_WAIT" ] && service_running; do
        sleep 1
        waited=$((waited + 1))
    done
    check_output=$(cd "$APP_ROOT/current" && bin/inventory check 2>&1) || check_status=$?
    if ! service_running; then
        echo "the service stopped after it started; its last output:"
        if [ "$DEPLOY_SERVICE" = systemd ]; then
            journalctl -u "$SERVICE_NAME" -n 20 --no-pager 2>&1 || true
        else
            tail -n 20 "$LOG_FILE" 2>&1 || true
        fi
    fi
    if [ "$check_status" -ne 0 ]; then
        echo "bin/inventory check failed:"
        echo "$check_output"
    fi
    service_running && [ "$check_status" -eq 0 ]
}

switch_current() {
    # A new link renamed over the old one: `current` is never missing.
    ln -sfn "$1" "$APP_ROOT/current.new"
    mv -T "$APP_ROOT/current.new" "$APP_ROOT/current"
}

# --- the release ---------------------------------------------------------------------------

stamp=$(date -u +%Y%m%d-%H%M%S)
if [ $# -eq 1 ]; then
    if ! [ -x "$1/bin/inventory" ] || ! [ -f "$1/qvdiff.toml" ]; then
        say "$1 is not a release directory (it needs bin/inventory and qvdiff.toml); nothing changed"
        exit 2
    fi
    release=$APP_ROOT/releases/$(basename "$1")-$stamp
    cp -a "$1" "$release"
else
    say "pulling $DEPLOY_REPO"
    git -C "$DEPLOY_REPO" pull --ff-only
    (cd "$DEPLOY_REPO" && $DEPLOY_BUILD) || die "the build failed; nothing changed"
    case $DEPLOY_BINARY in
    /*) binary=$DEPLOY_BINARY ;;
    *) binary=$DEPLOY_REPO/$DEPLOY_BINARY ;;
    esac
    release=$APP_ROOT/releases/$(git -C "$DEPLOY_REPO" rev-parse --short HEAD)-$stamp
    mkdir -p "$release/bin"
    # The committed tree, not the checkout: what was reviewed is what runs.
    git -C "$DEPLOY_REPO" archive --format=tar HEAD | tar -x -C "$release"
    cp "$binary" "$release/bin/inventory"
fi
rm -rf "$release/instance"
ln -s "$APP_ROOT/shared/instance" "$release/instance"
previous=$(readlink "$APP_ROOT/current" 2>/dev/null || true)
say "release $release"

# Everything below runs qvdiff with the new release's qvdiff.toml.
cd "$release"

say "checking the models against the migrations"
# Before the upgrade nothing has changed, and the unused release directory goes.
refuse() {
    cd "$APP_ROOT"
    rm -rf "$release"
    die "$1"
}

"$QVDIFF" check || refuse "the release's models and migrations differ (see above); nothing changed"

# `current` also says on stderr what is pending.
db_before=${DEPLOY_DB_WAS:-$("$QVDIFF" current)}
say "applying pending migrations (an online backup is taken first)"
"$QVDIFF" upgrade || refuse "the upgrade failed and changed nothing; the previous release still runs"
db_after=$("$QVDIFF" current 2>/dev/null)
head_revision=$("$QVDIFF" heads | awk 'NR == 1 { print $1 }')

switch_current "$release"
say "restarting $SERVICE_NAME"
service_stop
service_start

if problem=$(health_problem); then
    say "deployed $release (database at ${db_after%%  *})"
    exit 0
fi

# --- the way back --------------------------------------------------------------------------

say "health check failed: $problem"
say "rolling back"
service_stop
if [ "$db_before" != "$db_after" ]; then
    # The backup `upgrade` took: the newest one from before the new head was applied. Rows the
    # new release wrote meanwhile are listed by restore and kept in the backup it takes first.
    "$QVDIFF" restore --revision "$head_revision" --yes ||
        die "restoring the database failed (see above); the service is stopped"
fi
if [ -z "$previous" ]; then
    die "no previous release to go back to; the service is stopped"
fi
switch_current "$previous"
service_start
if problem=$(health_problem); then
    die "rolled back to $previous; the release $release was not deployed"
fi
die "rolled back to $previous, but it is unhealthy too: $problem"
