#!/usr/bin/env bash
# Starts a local fakesnow server (Snowflake's connector protocol over HTTP, backed by DuckDB)
# for the Snowflake tests (idempotent) and prints its endpoint URL.
#   eval "export HAKOBU_TEST_SNOWFLAKE_ENDPOINT=$(scripts/fakesnow.sh)"
# Its venv lives beside moto's, in $HAKOBU_TOOLS_DIR (default ~/.cache/hakobu/tools), and
# apart from every other tool: fakesnow pins snowflake-connector-python below 4 (5.x breaks
# its import). FAKESNOW_PORT defaults to 5066.
set -euo pipefail
PORT=${FAKESNOW_PORT:-5066}
URL="http://127.0.0.1:$PORT"
TOOLS=${HAKOBU_TOOLS_DIR:-$HOME/.cache/hakobu/tools}
VENV=$TOOLS/fakesnow-venv
LOG=$TOOLS/fakesnow-$PORT.log

# fakesnow has no health route; a login request answers when it is up.
healthy() {
  curl -sf -o /dev/null --max-time 2 -X POST -H 'Content-Type: application/json' \
    -d '{"data":{"SESSION_PARAMETERS":{}}}' "$URL/session/v1/login-request"
}

if ! healthy; then
  if [ ! -x "$VENV/bin/fakesnow" ]; then
    echo "creating $VENV with fakesnow[server]" >&2
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'fakesnow[server]==0.12.1' 'snowflake-connector-python<4' >&2
  fi
  mkdir -p "$TOOLS"
  nohup "$VENV/bin/fakesnow" -s -p "$PORT" > "$LOG" 2>&1 &
  for _ in $(seq 1 150); do
    healthy && break
    sleep 0.2
  done
  healthy || { echo "fakesnow did not answer on $URL; see $LOG" >&2; exit 1; }
fi
echo "$URL"
