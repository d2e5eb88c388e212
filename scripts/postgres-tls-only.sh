#!/usr/bin/env bash
# Starts (once) a second PostgreSQL that accepts only encrypted connections, for the
# engine's "TLS required" test, and prints its port:
#   5434
# pg_hba.conf has a single `hostssl` line, so a plain connection gets PostgreSQL's own
# refusal ("no pg_hba.conf entry ..., no encryption"), which the engine must call
# tls_required rather than a wrong password. It uses Debian's snakeoil certificate, like
# the main server, and runs as the `postgres` user (initdb refuses root). State lives in
# /var/lib/postgresql/hakobu-tls-only (default) outside the checkout. Port: PG_TLS_ONLY_PORT
# (default 5434). Idempotent; safe to run concurrently.
set -euo pipefail

port="${PG_TLS_ONLY_PORT:-5434}"
dir="${PG_TLS_ONLY_DIR:-/var/lib/postgresql/hakobu-tls-only}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { if [[ $(id -un) == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi; }

mkdir -p "$dir"
chown postgres: "$dir"
exec 9>"$dir/lock"
flock 9

answers_with_tls() {
    psql "host=127.0.0.1 port=$port user=postgres dbname=postgres sslmode=require connect_timeout=2" \
        -Atc "SELECT 1" >/dev/null 2>&1
}

if ! answers_with_tls; then
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        rm -rf "$dir/data"
        as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log" 2>&1
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
ssl = on
ssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'
ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'
shared_buffers = 16MB
max_connections = 20
CONF
        printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 trust" >"$dir/data/pg_hba.conf"
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null 9>&-
    if ! answers_with_tls; then
        echo "postgres-tls-only.sh: the server on port $port did not start; see $dir/server.log" >&2
        exit 1
    fi
fi
echo "$port"
