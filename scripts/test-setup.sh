#!/usr/bin/env bash
# Installs or starts what the test suite needs beyond the databases: the bzip2 tool,
# OpenSSH's server (the SSH tunnel tests start their own sshd), the moto server (S3 and ECS APIs), the BigQuery emulator, the fakesnow server (Snowflake) and the local SMTP server the email tests start (aiosmtpd).
# Idempotent; prints nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
# The bzip2 tool: the codec tests check Hakobu's bzip2 against it.
if ! command -v bzip2 >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bzip2 >/dev/null
fi
# sshd: the SSH tunnel tests start one per test on a free port with its own config and
# host key (testkit `Sshd`); the package's own service is not used.
if [ ! -x /usr/sbin/sshd ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
fi
if [ -x scripts/moto.sh ]; then
  scripts/moto.sh >/dev/null
fi
# The BigQuery emulator (bqemulator, its own venv; see the script).
if [ -x scripts/bqemulator.sh ]; then
  scripts/bqemulator.sh >/dev/null
fi
# The Snowflake emulator (fakesnow[server], its own venv; see the script).
if [ -x scripts/fakesnow.sh ]; then
  scripts/fakesnow.sh >/dev/null
fi
if [ -x scripts/smtp.sh ]; then
  scripts/smtp.sh >/dev/null
fi
