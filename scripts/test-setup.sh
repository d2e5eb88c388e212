#!/usr/bin/env bash
# Installs or starts what the test suite needs beyond the databases: the moto server
# (S3 and ECS APIs) and the local SMTP server the email tests start (aiosmtpd).
# Idempotent; prints nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x scripts/moto.sh ]; then
  scripts/moto.sh >/dev/null
fi
if [ -x scripts/smtp.sh ]; then
  scripts/smtp.sh >/dev/null
fi
