#!/usr/bin/env bash
# Benchmark: hakobu-runner against the physical limit on this machine (psql / mariadb
# pipes between the same databases). Prints seconds, rows/s, peak RSS and the ratio to
# the pipe, median of 3 runs, runner and pipe alternating.
#
#   bench/run.sh              # 2,000,000 rows (the data set is generated once and reused)
#   BENCH_ROWS=100000 bench/run.sh
#   BENCH_CASES="pg_my_insert pg_my" bench/run.sh   # only these cases
#   BENCH_CASES="$(bench/run.sh --modes)" bench/run.sh  # every load mode on both databases
#   BENCH_DB=hakobu_bench_x bench/run.sh   # its own databases (default hakobu_bench), beside other runs
#   BENCH_RUNNER=/tmp/hakobu-runner bench/run.sh   # that binary instead of building one
#   BENCH_WH_ROWS=100000 BENCH_CASES="pg_bq pg_sf" bench/run.sh   # the warehouses' row count
#
# Load modes: each against the pipe into the same kind of table (merge: COPY / LOAD DATA
# into the same keyed table, empty; replace: into a plain table the runner then replaces).
#
# Warehouses, on their emulators (started here when they do not answer; a case whose
# emulator cannot start is skipped with a line saying so): pg_bq (PostgreSQL -> BigQuery,
# mode append, on bqemulator) against a multipart upload load job of the same rows as an
# NDJSON file with curl (what `bq load` sends), pg_sf (PostgreSQL -> Snowflake, mode
# insert, on fakesnow) against `PUT file://... @stage` + `COPY INTO` of the same rows as a
# CSV file through the Python connector (bench/snowflake_copy.py). Both files are exported
# by psql once, before the runs, timed apart (printed under the table). Both move the
# first BENCH_WH_ROWS rows of `orders` (default 500,000, at most BENCH_ROWS): the
# emulators run on DuckDB in Python and would take minutes at 2,000,000 rows.
#
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), MariaDB on 127.0.0.1:3306
# (root, no password), psql, mariadb, GNU time (Debian package `time`); for pg_bq and pg_sf
# curl and what scripts/bqemulator.sh and scripts/fakesnow.sh install (their own venvs).
set -euo pipefail

ROWS=${BENCH_ROWS:-2000000}
RUNS=${BENCH_RUNS:-3}
MODE_CASES="pg_pg pg_pg_direct pg_pg_truncate pg_pg_replace pg_pg_merge pg_my pg_my_direct pg_my_truncate pg_my_replace pg_my_merge"
if [ "${1:-}" = --modes ]; then echo "$MODE_CASES"; exit 0; fi
CASES=${BENCH_CASES:-"pg_pg pg_pg2 my_pg my_pg2 pg_my_insert pg_csv one_row $MODE_CASES pg_bq pg_sf"}
# pg_pg and pg_my are in both lists: each case is run once.
CASES=$(echo "$CASES" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$ROOT/bench-results
DB=${BENCH_DB:-hakobu_bench}
PSQL=(psql -h 127.0.0.1 -U postgres -X -q -v ON_ERROR_STOP=1)
MARIADB=(mariadb -h 127.0.0.1 -uroot)
mkdir -p "$WORK"
WH_ROWS=${BENCH_WH_ROWS:-500000}
[ "$WH_ROWS" -le "$ROWS" ] || WH_ROWS=$ROWS

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (Debian package 'time')" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi

if [ -n "${BENCH_RUNNER:-}" ]; then
  RUNNER=$BENCH_RUNNER
else
  echo "building hakobu-runner --release" >&2
  (cd "$ROOT" && cargo build --release -q -p hakobu-runner)
  RUNNER=$TARGET_DIR/release/hakobu-runner
fi

# ---------------------------------------------------------------- data set
pg() { "${PSQL[@]}" -d "$DB" "$@"; }
my() { "${MARIADB[@]}" "$DB" "$@"; }

"${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
"${MARIADB[@]}" -e "CREATE DATABASE IF NOT EXISTS $DB CHARACTER SET utf8mb4"

have_pg=$(pg -tAc "SELECT count(*) FROM orders" 2>/dev/null || echo 0)
if [ "$have_pg" != "$ROWS" ]; then
  echo "generating $ROWS rows in PostgreSQL" >&2
  pg <<SQL
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
  id bigint PRIMARY KEY, customer_id bigint NOT NULL, note text, amount numeric(12,2),
  created_at timestamptz NOT NULL, shipped_at timestamp, paid boolean, attrs jsonb);
INSERT INTO orders
SELECT g, g % 100003,
  CASE WHEN g % 10 = 0 THEN NULL
       ELSE 'Order ' || g || E' 注文 "quoted", it''s\tTAB\nsecond line ' || md5(g::text) END,
  CASE WHEN g % 13 = 0 THEN NULL ELSE (g % 1000000) / 100.0 END,
  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
  CASE WHEN g % 5 = 0 THEN NULL ELSE timestamp '2024-01-02 00:00:00' + g * interval '1 second' END,
  CASE WHEN g % 17 = 0 THEN NULL ELSE g % 2 = 0 END,
  CASE WHEN g % 7 = 0 THEN NULL ELSE jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', g % 9, 'tags', jsonb_build_array('a', 'b')) END
FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE orders;
SQL
fi

have_my=$(my -N -e "SELECT count(*) FROM orders" 2>/dev/null || echo 0)
if [ "$have_my" != "$ROWS" ]; then
  echo "copying the data set into MariaDB" >&2
  my -e "DROP TABLE IF EXISTS orders; CREATE TABLE orders (
    id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, note TEXT, amount DECIMAL(12,2),
    created_at DATETIME(6) NOT NULL, shipped_at DATETIME(6), paid BOOLEAN, attrs JSON)"
  # PostgreSQL's text COPY format (tab, \N, backslash escapes) is LOAD DATA's default format.
  pg -c "\\copy (SELECT id, customer_id, note, amount, created_at AT TIME ZONE 'UTC', shipped_at, paid::int, attrs FROM orders ORDER BY id) TO '$WORK/orders.tsv'"
  my --local-infile=1 -e "LOAD DATA LOCAL INFILE '$WORK/orders.tsv' INTO TABLE orders CHARACTER SET utf8mb4"
  rm -f "$WORK/orders.tsv"
fi

pg -c "CREATE TABLE IF NOT EXISTS one_row (LIKE orders); TRUNCATE one_row; INSERT INTO one_row SELECT * FROM orders WHERE id = 1;
       CREATE TABLE IF NOT EXISTS orders_out (LIKE orders); CREATE TABLE IF NOT EXISTS one_row_out (LIKE orders);
       CREATE TABLE IF NOT EXISTS orders_keyed (LIKE orders INCLUDING ALL);"
my -e "CREATE TABLE IF NOT EXISTS orders_out LIKE orders; CREATE TABLE IF NOT EXISTS orders_keyed LIKE orders"

# ---------------------------------------------------------------- warehouses
# The warehouses' source: the first WH_ROWS rows (all of `orders` when that is all of them).
WH_TABLE=orders
wants_wh=$(echo " $CASES " | grep -Eo ' pg_(bq|sf) ' || true)
if [ -n "$wants_wh" ] && [ "$WH_ROWS" != "$ROWS" ]; then
  WH_TABLE=orders_wh
  have_wh=$(pg -tAc "SELECT count(*) FROM orders_wh" 2>/dev/null || echo 0)
  [ "$have_wh" = "$WH_ROWS" ] || pg -c "DROP TABLE IF EXISTS orders_wh; CREATE TABLE orders_wh AS SELECT * FROM orders WHERE id <= $WH_ROWS" >/dev/null
fi
BQ_DATASET=$DB
SF_DB=$(echo "$DB" | tr '[:lower:]' '[:upper:]')
SF_PY=${HAKOBU_TOOLS_DIR:-$HOME/.cache/hakobu/tools}/fakesnow-venv/bin/python
skip_case() { echo "skipping $1: $2" >&2; SKIPPED="${SKIPPED:-}skipped $1: $2"$'\n'; CASES=$(echo " $CASES " | sed "s/ $1 / /"); }
bq_api() { curl -sS --max-time 600 -H 'content-type: application/json' "$@"; }
if [[ " $CASES " == *" pg_bq "* ]]; then
  if BQ_URL=$("$ROOT/scripts/bqemulator.sh" 2>"$WORK/bqemulator.err"); then
    bq_api -X POST -d "{\"datasetReference\":{\"projectId\":\"p1\",\"datasetId\":\"$BQ_DATASET\"}}" \
      "$BQ_URL/bigquery/v2/projects/p1/datasets" >/dev/null
    # The reference's file: one JSON object a row (PostgreSQL's own JSON of the row; CSV
    # with quote and delimiter characters JSON never holds raw, so nothing is escaped).
    t0=$(date +%s%N)
    pg -c "COPY (SELECT row_to_json(o) FROM $WH_TABLE o ORDER BY id) TO STDOUT (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')" > "$WORK/orders.ndjson"
    EXPORTED="${EXPORTED:-}pg_bq: NDJSON exported by psql in $(( ($(date +%s%N) - t0) / 1000000 )) ms, $(( $(stat -c %s "$WORK/orders.ndjson") / 1048576 )) MiB (not in the bq load time)"$'\n'
    # The load job's configuration: the columns hakobu-runner creates for `orders`.
    cat > "$WORK/bq_load.json" <<JSON
{"configuration":{"load":{"destinationTable":{"projectId":"p1","datasetId":"$BQ_DATASET","tableId":"orders_out"},
 "sourceFormat":"NEWLINE_DELIMITED_JSON","writeDisposition":"WRITE_APPEND","createDisposition":"CREATE_IF_NEEDED",
 "schema":{"fields":[{"name":"id","type":"INT64"},{"name":"customer_id","type":"INT64"},{"name":"note","type":"STRING"},
  {"name":"amount","type":"NUMERIC"},{"name":"created_at","type":"TIMESTAMP"},{"name":"shipped_at","type":"TIMESTAMP"},
  {"name":"paid","type":"BOOL"},{"name":"attrs","type":"JSON"}]}}}}
JSON
  else
    skip_case pg_bq "bqemulator did not start ($(tail -1 "$WORK/bqemulator.err"))"
  fi
fi
if [[ " $CASES " == *" pg_sf "* ]]; then
  if SF_URL=$("$ROOT/scripts/fakesnow.sh" 2>"$WORK/fakesnow.err") && "$SF_PY" "$ROOT/bench/snowflake_copy.py" setup "$SF_URL" "$SF_DB" 2>"$WORK/fakesnow.err"; then
    t0=$(date +%s%N)
    pg -c "COPY (SELECT * FROM $WH_TABLE ORDER BY id) TO STDOUT (FORMAT csv)" > "$WORK/orders.csv"
    EXPORTED="${EXPORTED:-}pg_sf: CSV exported by psql in $(( ($(date +%s%N) - t0) / 1000000 )) ms, $(( $(stat -c %s "$WORK/orders.csv") / 1048576 )) MiB (not in the COPY INTO time)"$'\n'
  else
    skip_case pg_sf "fakesnow did not start ($(tail -1 "$WORK/fakesnow.err"))"
  fi
fi

# ---------------------------------------------------------------- configs
conn_pg() { printf '  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: %s\n' "$DB"; }
conn_my() { printf '  type: mysql\n  host: 127.0.0.1\n  user: root\n  database: %s\n' "$DB"; }
{ echo "in:"; conn_pg; echo "  table: orders"; echo "out:"; conn_pg; echo "  table: orders_out"; echo "  mode: insert"; } > "$WORK/pg_pg.yml"
# The same transfer read in two key ranges of the primary key, one COPY session each.
{ cat "$WORK/pg_pg.yml"; echo "exec: {max_threads: 2}"; } > "$WORK/pg_pg2.yml"
{ echo "in:"; conn_my; echo "  table: orders"; echo "out:"; conn_pg; echo "  table: orders_out"; echo "  mode: insert"; } > "$WORK/my_pg.yml"
# MariaDB read in two key ranges (two sessions holding consistent snapshots).
{ cat "$WORK/my_pg.yml"; echo "exec: {max_threads: 2}"; } > "$WORK/my_pg2.yml"
# PostgreSQL -> MariaDB (mode insert: staged, then INSERT .. SELECT), with LOAD DATA LOCAL
# INFILE (the default) and with multi-row INSERTs (the fallback, forced by the option).
{ echo "in:"; conn_pg; echo "  table: orders"; echo "out:"; conn_my; echo "  table: orders_out"; echo "  mode: insert"; } > "$WORK/pg_my.yml"
{ cat "$WORK/pg_my.yml"; echo "  options: {allowLoadLocalInfile: 'false'}"; } > "$WORK/pg_my_insert.yml"
{ echo "in:"; conn_pg; echo "  table: orders"; echo "out:"; echo "  type: file"; echo "  path_prefix: $WORK/runner_"; echo "  file_ext: csv";
  echo "  sequence_format: ''"; echo "  formatter: {type: csv, newline: LF}"; } > "$WORK/pg_csv.yml"
# (the runner writes $WORK/runner_csv: path_prefix + empty sequence + file_ext)
{ echo "in:"; conn_pg; echo "  table: one_row"; echo "out:"; conn_pg; echo "  table: one_row_out"; echo "  mode: insert"; } > "$WORK/one_row.yml"
# Every load mode: PostgreSQL -> PostgreSQL and -> MariaDB (LOAD DATA).
mode_yml() { { echo "in:"; conn_pg; echo "  table: orders"; echo "out:"; $1; echo "  table: $2"; echo "  mode: $3"; } > "$WORK/$4.yml"; }
for db in pg my; do
  mode_yml conn_$db orders_out insert_direct ${db/my/pg_my}_direct
  mode_yml conn_$db orders_out truncate_insert ${db/my/pg_my}_truncate
  mode_yml conn_$db orders_replaced replace ${db/my/pg_my}_replace
  mode_yml conn_$db orders_keyed merge ${db/my/pg_my}_merge
done
for m in direct truncate replace merge; do mv "$WORK/pg_$m.yml" "$WORK/pg_pg_$m.yml"; done
wh_in() { echo "in:"; conn_pg; echo "  table: $WH_TABLE"; echo "out:"; }
{ wh_in; printf '  type: bigquery\n  project: p1\n  dataset: %s\n  endpoint: %s\n  auth_method: access_token\n  access_token: bench\n  table: orders_out\n  mode: append\n' \
  "$BQ_DATASET" "${BQ_URL:-}"; } > "$WORK/pg_bq.yml"
{ wh_in; printf '  type: snowflake\n  account: bench\n  endpoint: %s\n  user: bench\n  password: bench\n  database: %s\n  table: orders_out\n  mode: insert\n' \
  "${SF_URL:-}" "$SF_DB"; } > "$WORK/pg_sf.yml"

# ---------------------------------------------------------------- cases
# Each command runs under GNU time; prints "seconds max_rss_kib".
measure() {
  local t0 t1
  t0=$(date +%s%N)
  if ! /usr/bin/time -f "%M" -o "$WORK/rss" bash -o pipefail -c "$1" > /dev/null 2> "$WORK/stderr"; then
    echo "FAILED: $1" >&2; cat "$WORK/stderr" >&2; exit 1
  fi
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $(tail -1 "$WORK/rss")"
}

# Every run must have moved every row, or its time means nothing.
verify() {
  local want=$1 got
  case $2 in
    # CSV values contain newlines: count records by loading the file back.
    pg_csv) got=$(pg -tA -c "CREATE TEMP TABLE c (LIKE orders)" -c "\\copy c FROM '$3' (FORMAT csv, HEADER)" -c "SELECT count(*) FROM c" | tail -1);;
    one_row) got=$(pg -tAc "SELECT count(*) FROM one_row_out");;
    pg_my_replace) got=$(my -N -e "SELECT count(*) FROM orders_replaced");;
    pg_my_merge) got=$(my -N -e "SELECT count(*) FROM orders_keyed");;
    pg_my*) got=$(my -N -e "SELECT count(*) FROM orders_out");;
    pg_pg_replace) got=$(pg -tAc "SELECT count(*) FROM orders_replaced");;
    pg_pg_merge) got=$(pg -tAc "SELECT count(*) FROM orders_keyed");;
    pg_bq) got=$(bq_api -X POST -d "{\"query\":\"SELECT COUNT(*) FROM \`p1.$BQ_DATASET.orders_out\`\",\"useLegacySql\":false}" \
             "$BQ_URL/bigquery/v2/projects/p1/queries" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["f"][0]["v"])');;
    pg_sf) got=$("$SF_PY" "$ROOT/bench/snowflake_copy.py" count "$SF_URL" "$SF_DB" ORDERS_OUT);;
    *) got=$(pg -tAc "SELECT count(*) FROM orders_out");;
  esac
  [ "$got" = "$want" ] || { echo "FAILED: $2 moved $got rows, expected $want" >&2; exit 1; }
}

reset_out() {
  case $1 in
    # Each run creates the target: the runner from the source's columns, the reference
    # from the same columns (a load job's schema, CREATE TABLE).
    pg_bq) curl -sS -o /dev/null -X DELETE "$BQ_URL/bigquery/v2/projects/p1/datasets/$BQ_DATASET/tables/orders_out"; return;;
    pg_sf) "$SF_PY" "$ROOT/bench/snowflake_copy.py" drop "$SF_URL" "$SF_DB" ORDERS_OUT; return;;
  esac
  pg -c "TRUNCATE orders_out; TRUNCATE one_row_out; TRUNCATE orders_keyed; DROP TABLE IF EXISTS orders_replaced; CREATE TABLE orders_replaced (LIKE orders)" >/dev/null
  my -e "TRUNCATE orders_out; TRUNCATE orders_keyed; DROP TABLE IF EXISTS orders_replaced; CREATE TABLE orders_replaced LIKE orders"
  rm -f "$WORK"/pipe.csv "$WORK"/runner_csv
}

declare -A PIPE=(
  [pg_pg]="${PSQL[*]} -d $DB -c 'COPY orders TO STDOUT (FORMAT binary)' | ${PSQL[*]} -d $DB -c 'COPY orders_out FROM STDIN (FORMAT binary)'"
  [pg_pg2]="${PSQL[*]} -d $DB -c 'COPY orders TO STDOUT (FORMAT binary)' | ${PSQL[*]} -d $DB -c 'COPY orders_out FROM STDIN (FORMAT binary)'"
  [my_pg]="${MARIADB[*]} $DB --batch --quick -N -e 'SELECT * FROM orders' | ${PSQL[*]} -d $DB -c \"COPY orders_out FROM STDIN (FORMAT text, NULL 'NULL')\""
  [my_pg2]="${MARIADB[*]} $DB --batch --quick -N -e 'SELECT * FROM orders' | ${PSQL[*]} -d $DB -c \"COPY orders_out FROM STDIN (FORMAT text, NULL 'NULL')\""
  [pg_csv]="${PSQL[*]} -d $DB -c 'COPY orders TO STDOUT (FORMAT csv, HEADER)' > $WORK/pipe.csv"
  [pg_my]="${PSQL[*]} -d $DB -c \"COPY (SELECT id, customer_id, note, amount, created_at AT TIME ZONE 'UTC', shipped_at, paid::int, attrs FROM orders) TO STDOUT\" | ${MARIADB[*]} --local-infile=1 $DB -e \"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE orders_out CHARACTER SET utf8mb4\""
  [one_row]="${PSQL[*]} -d $DB -c 'COPY one_row TO STDOUT (FORMAT binary)' | ${PSQL[*]} -d $DB -c 'COPY one_row_out FROM STDIN (FORMAT binary)'"
)
# The pipes of the load modes: the same stream into the same kind of table.
PG_COPY="${PSQL[*]} -d $DB -c 'COPY orders TO STDOUT (FORMAT binary)' | ${PSQL[*]} -d $DB -c"
PIPE[pg_pg_direct]=${PIPE[pg_pg]}
PIPE[pg_pg_truncate]=${PIPE[pg_pg]}
PIPE[pg_pg_replace]="$PG_COPY 'COPY orders_replaced FROM STDIN (FORMAT binary)'"
PIPE[pg_pg_merge]="$PG_COPY 'COPY orders_keyed FROM STDIN (FORMAT binary)'"
PIPE[pg_my_direct]=${PIPE[pg_my]}
PIPE[pg_my_truncate]=${PIPE[pg_my]}
PIPE[pg_my_replace]=${PIPE[pg_my]//INTO TABLE orders_out/INTO TABLE orders_replaced}
PIPE[pg_my_merge]=${PIPE[pg_my]//INTO TABLE orders_out/INTO TABLE orders_keyed}
# The warehouses' own bulk loads of the same rows. A multipart upload's load job answers
# when the job is done; its answer is checked for an error like the count after it.
PIPE[pg_bq]="{ printf -- '--hakobu_bench\\r\\nContent-Type: application/json; charset=UTF-8\\r\\n\\r\\n'; cat $WORK/bq_load.json;
  printf -- '\\r\\n--hakobu_bench\\r\\nContent-Type: application/octet-stream\\r\\n\\r\\n'; cat $WORK/orders.ndjson; printf -- '\\r\\n--hakobu_bench--\\r\\n'; } |
  curl -sS --fail-with-body --max-time 3600 -X POST -T - -H 'Expect:' -H 'Content-Type: multipart/related; boundary=hakobu_bench' \
    '${BQ_URL:-}/upload/bigquery/v2/projects/p1/jobs?uploadType=multipart' > $WORK/bq_job.json && ! grep -q errorResult $WORK/bq_job.json"
PIPE[pg_sf]="$SF_PY $ROOT/bench/snowflake_copy.py load ${SF_URL:-} $SF_DB ORDERS_OUT $WORK/orders.csv"
declare -A REF=([pg_bq]="bq load" [pg_sf]="COPY INTO")
declare -A LABEL=([pg_bq]="PG->BigQuery append" [pg_sf]="PG->Snowflake insert" [pg_pg_direct]="PG->PG insert_direct" [pg_pg_truncate]="PG->PG truncate_insert" [pg_pg_replace]="PG->PG replace" [pg_pg_merge]="PG->PG merge (keyed)"
  [pg_my_direct]="PG->MariaDB insert_direct" [pg_my_truncate]="PG->MariaDB truncate_ins" [pg_my_replace]="PG->MariaDB replace" [pg_my_merge]="PG->MariaDB merge (keyed)"
  [pg_pg]="PostgreSQL -> PostgreSQL" [pg_pg2]="PG -> PG, max_threads 2" [my_pg]="MariaDB -> PostgreSQL" [my_pg2]="MariaDB->PG, max_threads 2" [pg_csv]="PostgreSQL -> CSV file" [pg_my]="PG -> MariaDB, LOAD DATA" [pg_my_insert]="PG -> MariaDB, INSERTs" [one_row]="1 row PG -> PG")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '\n%-30s %-9s %9s %12s %10s %8s\n' "case ($ROWS rows)" tool seconds rows/s "RSS MiB" ratio
# PostgreSQL's text COPY format is LOAD DATA's default format (tab, \\N, backslash escapes).
PIPE[pg_my_insert]=${PIPE[pg_my]}
for case in $CASES; do
  rows=$ROWS; [ "$case" = one_row ] && rows=1
  case $case in pg_bq|pg_sf) rows=$WH_ROWS;; esac
  : > "$WORK/$case.runner"; : > "$WORK/$case.pipe"
  for i in $(seq 1 "$RUNS"); do
    reset_out "$case"; measure "${PIPE[$case]}" >> "$WORK/$case.pipe"; verify "$rows" "$case" "$WORK/pipe.csv"
    reset_out "$case"; measure "$RUNNER run $WORK/$case.yml" >> "$WORK/$case.runner"; verify "$rows" "$case" "$WORK/runner_csv"
  done
  p_ms=$(cut -d' ' -f1 "$WORK/$case.pipe" | median); p_kb=$(cut -d' ' -f2 "$WORK/$case.pipe" | median)
  r_ms=$(cut -d' ' -f1 "$WORK/$case.runner" | median); r_kb=$(cut -d' ' -f2 "$WORK/$case.runner" | median)
  for tool in pipe runner; do
    if [ $tool = pipe ]; then ms=$p_ms; kb=$p_kb; ratio=1.00; t=${REF[$case]:-pipe}; else t=runner; ms=$r_ms; kb=$r_kb; ratio=$(awk "BEGIN {printf \"%.2f\", $r_ms / ($p_ms > 0 ? $p_ms : 1)}"); fi
    label=${LABEL[$case]}; [ "$rows" = "$ROWS" ] || [ "$rows" = 1 ] || label="$label ($rows)"
    awk -v c="$label" -v t="$t" -v ms="$ms" -v kb="$kb" -v rows="$rows" -v r="$ratio" \
      'BEGIN { s = ms / 1000; printf "%-30s %-9s %9.3f %12.0f %10.1f %8s\n", c, t, s, (s > 0 ? rows / s : 0), kb / 1024, r }'
  done
done
rm -f "$WORK/orders.ndjson" "$WORK/orders.csv"
echo
echo "targets: runner/pipe <= 1.10 for PG->PG and PG->CSV, <= 1.00 for MariaDB->PG, RSS < 150 MiB, 1 row < 30 ms"
printf '%s' "${EXPORTED:-}" "${SKIPPED:-}"
if [[ " $CASES " == *" pg_bq "* || " $CASES " == *" pg_sf "* ]]; then
  echo "note: warehouses on their emulators (bqemulator, fakesnow: DuckDB in Python) at BENCH_WH_ROWS=$WH_ROWS rows; the emulator's own work is most of both times, its memory is not counted (RSS is the client's); 'bq load' is curl's multipart load job, 'COPY INTO' includes the Python connector's start"
fi
echo "note: the MariaDB pipe drops --raw: raw output cannot carry the newlines inside values of this data set, batch mode's escaping is exactly PostgreSQL's text COPY format"
