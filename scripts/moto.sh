#!/usr/bin/env bash
# Starts a local moto S3/ECS server for tests (idempotent) and prints its endpoint URL.
#   eval "export HAKOBU_TEST_S3_ENDPOINT=$(scripts/moto.sh)"
# The venv lives in .tools/moto-venv (gitignored); MOTO_PORT defaults to 5055.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${MOTO_PORT:-5055}
URL="http://127.0.0.1:$PORT"
VENV=$ROOT/.tools/moto-venv

answers() { curl -s -o /dev/null --max-time 1 "$URL/moto-api/" ; }

if ! answers; then
  if [ ! -x "$VENV/bin/moto_server" ]; then
    echo "creating $VENV with moto[server]" >&2
    mkdir -p "$ROOT/.tools"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]' >&2
  fi
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" > "$ROOT/.tools/moto-$PORT.log" 2>&1 &
  for _ in $(seq 1 100); do
    answers && break
    sleep 0.1
  done
  answers || { echo "moto_server did not answer on $URL; see .tools/moto-$PORT.log" >&2; exit 1; }
fi
echo "$URL"
