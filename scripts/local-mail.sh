#!/usr/bin/env bash
# For `make run`: a local mail catcher, so invitations, password resets and email
# notifications can be tried without a real mail server. Starts Python's aiosmtpd (from
# PyPI, the same venv the tests use) on 127.0.0.1:${HAKOBU_LOCAL_SMTP_PORT:-1025} when
# nothing listens there, storing every message as a file in .local-mail/new/. Idempotent.
set -euo pipefail
port=${HAKOBU_LOCAL_SMTP_PORT:-1025}
dir=${HAKOBU_LOCAL_MAIL_DIR:-$PWD/.local-mail}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
if ! listening; then
  python=$("$(dirname "$0")/smtp.sh")
  mkdir -p "$dir/new" "$dir/cur" "$dir/tmp"
  nohup "$python" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$dir" \
    > "$dir/server.log" 2>&1 &
  for _ in $(seq 1 50); do listening && break; sleep 0.1; done
  listening || { echo "the local mail catcher did not start; see $dir/server.log" >&2; exit 1; }
fi
echo "  Mail Hakobu sends (invitations, password resets, notifications) lands in $dir/new/"
