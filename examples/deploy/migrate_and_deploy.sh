#!/usr/bin/env bash
# Option B, one command on the server: a migration generated against the live database, shown
# for review, applied, committed and pushed, then the app rebuilt and restarted.
#
#   migrate_and_deploy.sh "add notes field"
#
# Steps, in $DEPLOY_REPO (the server's git checkout of the app):
#   1. git pull (the model change was pushed without its migration, or is edited here);
#   2. qvdiff migrate --db <live database> -m MESSAGE --apply: writes the file, prints its
#      summary block and SQL, asks "Apply to …? [y/N]", and on yes upgrades the database (online
#      backup first). On no, nothing is applied and the file stays for review: this script stops;
#   3. git add, commit and push of the new migration file with the model changes of the
#      checkout (tracked files; the release is built from the commit, so both must be in it);
#   4. deploy.sh: build, restart, health check; an unhealthy release is rolled back and the
#      database restored from the backup step 2 took.
#
# Environment: APP_ROOT, QVDIFF, DEPLOY_REPO, DEPLOY_SERVICE as for deploy.sh;
# MIGRATE_YES=1 applies without asking (for a terminal-less run, after review elsewhere).

set -euo pipefail

APP_ROOT=${APP_ROOT:-/srv/inventory}
QVDIFF=${QVDIFF:-qvdiff}
DEPLOY_REPO=${DEPLOY_REPO:-$APP_ROOT/repo}
export APP_ROOT QVDIFF DEPLOY_REPO

say() { printf 'migrate_and_deploy: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then
    say "usage: migrate_and_deploy.sh \"what the migration does\""
    exit 2
fi
message=$1
here=$(cd "$(dirname "$0")" && pwd)
# The live database deploy.sh's releases share (an absolute sqlite:/// URL).
db="sqlite://$APP_ROOT/shared/instance/app.db"

cd "$DEPLOY_REPO"
git pull --ff-only
db_was=$("$QVDIFF" --db "$db" current 2>/dev/null)
yes=()
if [ "${MIGRATE_YES:-}" = 1 ]; then
    yes=(--yes --no-input)
fi
"$QVDIFF" --db "$db" migrate -m "$message" --apply "${yes[@]}"
# Exit 1 while a revision is pending: the answer was no.
if ! "$QVDIFF" --db "$db" check >/dev/null; then
    die "not applied: the new file stays in migrations/ for review; nothing was committed"
fi
git add -u
git add -- migrations
if git diff --cached --quiet; then
    say "no schema change; deploying the checkout as it is"
else
    git commit -q -m "Migration: $message"
    git push -q
fi
DEPLOY_DB_WAS=$db_was exec "$here/deploy.sh"
