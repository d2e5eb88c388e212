#!/usr/bin/env bash
# Makes sure a local SMTP server (Python aiosmtpd, from PyPI) is installed for the tests,
# and prints the Python interpreter that runs it. Each test starts its own server on a
# free port with a Maildir of its own:
#   $(scripts/smtp.sh) -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox DIR
# The venv lives outside the checkout, in $HAKOBU_TOOLS_DIR (default ~/.cache/hakobu/tools),
# beside the moto venv, so fresh clones reuse it. Idempotent.
set -euo pipefail
TOOLS=${HAKOBU_TOOLS_DIR:-$HOME/.cache/hakobu/tools}
VENV=$TOOLS/smtp-venv
if ! "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  echo "creating $VENV with aiosmtpd" >&2
  mkdir -p "$TOOLS"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'aiosmtpd>=1.4,<2' >&2
fi
echo "$VENV/bin/python"
