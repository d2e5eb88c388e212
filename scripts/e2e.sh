#!/usr/bin/env bash
# Browser tests of the web UI against the real app and a fresh PostgreSQL database.
#
# Installs what is missing (Debian's Chromium, the npm packages of e2e/), builds the
# frontend and the `hakobu` and `hakobu-runner` binaries, creates a database
# `hakobu_t_e2e_<random>`, starts `hakobu serve` on a free port, runs `node --test` in
# e2e/, then stops the server and drops the database, also when a test fails or the run
# is interrupted. tests/transfers.test.js creates (and drops) two more databases of its own
# on the same server for a job's source and destination.
#
#   scripts/e2e.sh                    every test
#   scripts/e2e.sh tests/auth.test.js one file (path relative to e2e/)
#
# Mail the app sends goes to a local SMTP server (scripts/smtp.sh) and lands in the Maildir
# $HAKOBU_E2E_MAILDIR, where tests read it.
# Screenshots of each page land in e2e/screenshots/ (not committed).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PG_URL=${HAKOBU_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}

log() { printf '[e2e] %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------------
# A Japanese font, so the Japanese pages' screenshots show text rather than empty boxes.
if [[ ! -x /usr/bin/chromium ]] || [[ ! -d /usr/share/fonts/opentype/ipafont-gothic ]]; then
    log "installing Debian's chromium and a Japanese font"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-ipafont-gothic
fi
if [[ ! -d e2e/node_modules/playwright-core ]] || ! cmp -s e2e/package-lock.json e2e/node_modules/.package-lock.json.copy; then
    log "npm ci in e2e/"
    (cd e2e && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.package-lock.json.copy)
fi

scripts/build-frontend.sh
log "cargo build -p hakobu -p hakobu-runner"
# The local launcher starts `hakobu-runner` from beside `hakobu` for each run.
cargo build -p hakobu -p hakobu-runner
HAKOBU=$TARGET_DIR/debug/hakobu

# --- a fresh database and server ---------------------------------------------------------
DB=hakobu_t_e2e_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp -t hakobu-e2e-server.XXXXXX.log)
SERVER_PID=
SMTP_PID=
MAILDIR=$(mktemp -d -t hakobu-e2e-mail.XXXXXX)
# Each organization's files folder for local_files connections: <root>/<organization id>.
FILES_ROOT=$(mktemp -d -t hakobu-e2e-files.XXXXXX)
mkdir -p "$MAILDIR/tmp" "$MAILDIR/new" "$MAILDIR/cur"

cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n $SMTP_PID ]]; then
        kill "$SMTP_PID" 2>/dev/null || true
        wait "$SMTP_PID" 2>/dev/null || true
    fi
    rm -rf "$MAILDIR" "$FILES_ROOT"
    psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
        log "could not drop database $DB (drop it with: make clean-test-dbs)"
    if [[ $rc != 0 ]]; then
        log "server log (last 40 lines, full log in $LOG):"
        tail -n 40 "$LOG" >&2 || true
    else
        rm -f "$LOG"
    fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

export HAKOBU_DATABASE_URL=$PG_URL/$DB
export HAKOBU_BIND=127.0.0.1:$PORT
export HAKOBU_PUBLIC_URL=http://127.0.0.1:$PORT
export HAKOBU_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
export HAKOBU_SECRET_KEY=k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export HAKOBU_STATIC_DIR=$ROOT/frontend/dist
# Tests sign in with wrong passwords on purpose; keep the limits out of their way.
# The browser tests' sample databases are on this machine, beside Hakobu's own.
export HAKOBU_EGRESS_ALLOW="127.0.0.0/8, ::1, 127.0.0.1:5432"
export HAKOBU_LOGIN_MAX_FAILURES=50
export HAKOBU_LOGIN_MAX_FAILURES_PER_IP=500
# Every browser test signs up and probes from this one address.
export HAKOBU_ACCOUNT_ACTIONS_PER_ADDRESS=1000
export HAKOBU_PROBES_PER_USER=1000
export HAKOBU_PROBES_PER_ORGANIZATION=1000

# A local SMTP server (aiosmtpd from PyPI, scripts/smtp.sh) whose Maildir the tests read:
# password reset links arrive as real mail.
SMTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$(scripts/smtp.sh)" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" >>"$LOG" 2>&1 &
SMTP_PID=$!
export HAKOBU_SMTP_HOST=127.0.0.1 HAKOBU_SMTP_PORT=$SMTP_PORT HAKOBU_SMTP_SECURITY=none
export HAKOBU_SMTP_FROM='Hakobu <hakobu@example.com>'
export HAKOBU_E2E_MAILDIR=$MAILDIR
export HAKOBU_LOCAL_FILES_ROOT=$FILES_ROOT HAKOBU_E2E_FILES_ROOT=$FILES_ROOT

log "database $DB"
"$HAKOBU" migrate --create-database >>"$LOG" 2>&1
log "starting hakobu on $HAKOBU_PUBLIC_URL"
"$HAKOBU" serve >>"$LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$HAKOBU_PUBLIC_URL/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { log "hakobu serve exited"; exit 1; }
    sleep 0.2
done
curl -fsS "$HAKOBU_PUBLIC_URL/readyz" >/dev/null || { log "hakobu did not become ready"; exit 1; }

# --- tests -------------------------------------------------------------------------------
cd e2e
mkdir -p screenshots
if [[ $# -gt 0 ]]; then
    FILES=("$@")
else
    FILES=(tests/*.test.js)
fi
# One file at a time: they share one server and one 2-core machine.
HAKOBU_E2E_URL=$HAKOBU_PUBLIC_URL node --test --test-concurrency=1 "${FILES[@]}"
