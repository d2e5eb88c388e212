#!/usr/bin/env bash
# Starts a local moto S3/ECS server for tests (idempotent) and prints its endpoint URL.
#   eval "export HAKOBU_TEST_S3_ENDPOINT=$(scripts/moto.sh)"
# The venv lives outside the checkout, in $HAKOBU_TOOLS_DIR (default ~/.cache/hakobu/tools),
# so a server started from one clone keeps working after that clone is deleted (CI clones
# anew each run) and later runs reuse it. MOTO_PORT defaults to 5055.
set -euo pipefail
PORT=${MOTO_PORT:-5055}
URL="http://127.0.0.1:$PORT"
TOOLS=${HAKOBU_TOOLS_DIR:-$HOME/.cache/hakobu/tools}
VENV=$TOOLS/moto-venv
LOG=$TOOLS/moto-$PORT.log

# Healthy means a 2xx answer: a server whose files were deleted under it answers 500.
healthy() { curl -sf -o /dev/null --max-time 2 "$URL/moto-api/"; }
listening() { curl -s -o /dev/null --max-time 1 "$URL/moto-api/"; }

if ! healthy; then
  if listening; then
    echo "moto on $URL answers with errors; restarting it" >&2
    pkill -f "moto_server -H 127.0.0.1 -p $PORT" || true
    for _ in $(seq 1 50); do listening || break; sleep 0.1; done
  fi
  if [ ! -x "$VENV/bin/moto_server" ]; then
    echo "creating $VENV with moto[server]" >&2
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]' >&2
  fi
  mkdir -p "$TOOLS"
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" > "$LOG" 2>&1 &
  for _ in $(seq 1 100); do
    healthy && break
    sleep 0.1
  done
  healthy || { echo "moto_server did not answer on $URL; see $LOG" >&2; exit 1; }
fi
echo "$URL"
