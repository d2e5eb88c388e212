#!/usr/bin/env bash
# Starts the local PostgreSQL and MariaDB when they are installed but not running, and
# fails with a clear message when they are missing. Idempotent; used by `make run`/`make test`.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
maria_up() { mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres, trust auth)." >&2; exit 1; }
fi

if ! maria_up; then
  if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
    echo "starting MariaDB" >&2
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
  for _ in $(seq 1 30); do maria_up && break; sleep 1; done
  maria_up || { echo "MariaDB is not reachable at 127.0.0.1:3306 (user root, empty password)." >&2; exit 1; }
fi
