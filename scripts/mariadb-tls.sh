#!/usr/bin/env bash
# Starts (once) a second MariaDB server with TLS on, for the engine's TLS tests, and prints
# its port and the path of the CA certificate that signed its certificate:
#   3307
#   /root/.cache/hakobu/mariadb-tls/ca.pem
# The main server on 3306 keeps TLS off, so both "server offers TLS" and "server does not"
# are tested. The server's certificate names `localhost` only: connecting to 127.0.0.1
# with verify-full is a host name mismatch, with verify-ca it passes.
# State lives in $HAKOBU_TOOLS_DIR/mariadb-tls (default ~/.cache/hakobu), outside the
# checkout. Port: MARIADB_TLS_PORT (default 3307). Idempotent; safe to run concurrently.
set -euo pipefail

port="${MARIADB_TLS_PORT:-3307}"
dir="${HAKOBU_TOOLS_DIR:-$HOME/.cache/hakobu}/mariadb-tls"
mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9

answers_with_tls() {
    mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root --ssl --skip-ssl-verify-server-cert \
        -N -e "SELECT @@have_ssl" 2>/dev/null | grep -qx YES
}

if ! answers_with_tls; then
    if [[ ! -f "$dir/server.pem" ]]; then
        (
            cd "$dir"
            openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Hakobu test CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -keyout ca-key.pem -out ca.pem 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
                -keyout server-key.pem -out server.csr 2>/dev/null
            printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=CA:FALSE" \
                "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
                -days 3650 -extfile server.ext -out server.pem 2>/dev/null
        )
    fi
    if [[ ! -d "$dir/data/mysql" ]]; then
        rm -rf "$dir/data"
        mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
    fi
    nohup mariadbd --no-defaults --datadir="$dir/data" --user="$(id -un)" \
        --bind-address=127.0.0.1 --port="$port" --socket="$dir/mariadbd.sock" \
        --pid-file="$dir/mariadbd.pid" --innodb-buffer-pool-size=32M \
        --ssl-ca="$dir/ca.pem" --ssl-cert="$dir/server.pem" --ssl-key="$dir/server-key.pem" \
        >>"$dir/mariadbd.log" 2>&1 9>&- &
    for _ in $(seq 1 100); do
        if mariadb --no-defaults -S "$dir/mariadbd.sock" -u root -e "SELECT 1" >/dev/null 2>&1; then
            break
        fi
        sleep 0.2
    done
    # TCP connections from 127.0.0.1 are not 'localhost' to MariaDB: let root in from there too.
    mariadb --no-defaults -S "$dir/mariadbd.sock" -u root -e "
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
        GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
        CREATE USER IF NOT EXISTS 'hakobu_tls_only'@'127.0.0.1' REQUIRE SSL;
        GRANT ALL ON *.* TO 'hakobu_tls_only'@'127.0.0.1';"
    if ! answers_with_tls; then
        echo "mariadb-tls.sh: the TLS server on port $port did not start; see $dir/mariadbd.log" >&2
        exit 1
    fi
fi
echo "$port"
echo "$dir/ca.pem"
