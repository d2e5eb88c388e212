#!/usr/bin/env bash
# Starts a local BigQuery emulator (PyPI `bqemulator`) for tests (idempotent) and prints its
# REST endpoint URL:
#   eval "export HAKOBU_TEST_BIGQUERY_ENDPOINT=$(scripts/bqemulator.sh)"
# Its own venv (its pins conflict with the other tools), outside the checkout in
# $HAKOBU_TOOLS_DIR like moto's. bqemulator runs on DuckDB and loads DuckDB's spatial
# extension at start, which DuckDB would download (unreachable here): the extension comes
# from PyPI's `duckdb-extension-spatial` wheel and is copied where DuckDB looks for it.
# BQEMULATOR_PORT defaults to 9050 (REST); the gRPC port is the next one.
set -euo pipefail
PORT=${BQEMULATOR_PORT:-9050}
GRPC_PORT=$((PORT + 1))
URL="http://127.0.0.1:$PORT"
TOOLS=${HAKOBU_TOOLS_DIR:-$HOME/.cache/hakobu/tools}
VENV=$TOOLS/bqemulator-venv
LOG=$TOOLS/bqemulator-$PORT.log
DUCKDB_VERSION=1.5.5

healthy() { curl -sf -o /dev/null --max-time 2 "$URL/bigquery/v2/projects/p1/datasets"; }

if ! healthy; then
  if [ ! -x "$VENV/bin/bqemulator" ]; then
    echo "creating $VENV with bqemulator" >&2
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'bqemulator==1.4.0' \
      "duckdb==$DUCKDB_VERSION" "duckdb-extension-spatial==$DUCKDB_VERSION" numpy >&2
  fi
  EXT_DIR="$HOME/.duckdb/extensions/v$DUCKDB_VERSION/linux_amd64"
  if [ ! -f "$EXT_DIR/spatial.duckdb_extension" ]; then
    SRC=$(find "$VENV" -path "*extensions/v$DUCKDB_VERSION/spatial.duckdb_extension" | head -n1)
    [ -n "$SRC" ] || { echo "spatial.duckdb_extension not found in $VENV" >&2; exit 1; }
    mkdir -p "$EXT_DIR"
    cp "$SRC" "$EXT_DIR/"
  fi
  nohup "$VENV/bin/bqemulator" start --rest-host 127.0.0.1 --grpc-host 127.0.0.1 --rest-port "$PORT" --grpc-port "$GRPC_PORT" --project p1 > "$LOG" 2>&1 &
  for _ in $(seq 1 300); do
    healthy && break
    sleep 0.1
  done
  healthy || { echo "bqemulator did not answer on $URL; see $LOG" >&2; exit 1; }
fi
echo "$URL"
