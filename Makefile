# Hakobu: `make run` starts the app locally, `make test` sets up and runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help run test test-setup lint bench faults build clean-test-dbs e2e image image-runner

help:
	@echo "make run    set up and start Hakobu on http://127.0.0.1:8080 with a demo organization"
	@echo "make test   set up what is missing and run fmt, clippy and every test"
	@echo "make bench  run the benchmarks and print their tables"
	@echo "make faults run the fault suite at full size and print its table (docs/reliability.md)"
	@echo "make image  build the hakobu and hakobu-runner images with podman (offline) and print their sizes"

build:
	$(CARGO) build -p hakobu -p hakobu-runner

TARGET_DIR = $(or $(CARGO_TARGET_DIR),target)

run: build
	@scripts/build-frontend.sh
	@scripts/ensure-services.sh
	@scripts/env-local.sh .env.local
	@scripts/local-mail.sh
	@set -a && source .env.local && set +a && \
	  export HAKOBU_RUNNER_BIN="$${HAKOBU_RUNNER_BIN:-$$(CARGO=$(CARGO) scripts/run-runner.sh)}" && \
	  export HAKOBU_EGRESS_ALLOW="$${HAKOBU_EGRESS_ALLOW-127.0.0.1, ::1, 127.0.0.1:5432}" && \
	  export HAKOBU_SMTP_HOST="$${HAKOBU_SMTP_HOST:-127.0.0.1}" HAKOBU_SMTP_PORT="$${HAKOBU_SMTP_PORT:-$${HAKOBU_LOCAL_SMTP_PORT:-1025}}" \
	    HAKOBU_SMTP_SECURITY="$${HAKOBU_SMTP_SECURITY:-none}" HAKOBU_SMTP_FROM="$${HAKOBU_SMTP_FROM:-Hakobu <hakobu@localhost>}" && \
	  $(TARGET_DIR)/debug/hakobu migrate --create-database && \
	  HAKOBU_ADMIN_PASSWORD="$$HAKOBU_DEMO_PASSWORD" $(TARGET_DIR)/debug/hakobu create-admin --organization "Demo" --name "Demo Admin" --email "$$HAKOBU_DEMO_EMAIL" && \
	  echo "" && \
	  echo "  Hakobu is starting on http://127.0.0.1:8080" && \
	  echo "  Sign in as $$HAKOBU_DEMO_EMAIL with password $$HAKOBU_DEMO_PASSWORD (also in .env.local)" && \
	  echo "  Transfers use the debug runner until the optimised one is built in the background" && \
	  echo "  (a few minutes the first time; .run/runner-release.log says when)." && \
	  echo "  Demo only: connections may reach this machine ($$HAKOBU_EGRESS_ALLOW), Hakobu's own" && \
	  echo "  database server included. A shared install leaves HAKOBU_EGRESS_ALLOW empty (docs/security.md)." && \
	  echo "" && \
	  exec $(TARGET_DIR)/debug/hakobu serve

# Every check CI runs. Installs or starts what it needs first.
test: test-setup lint
	$(CARGO) build -p hakobu-runner
	HAKOBU_TEST_S3_ENDPOINT="$${HAKOBU_TEST_S3_ENDPOINT:-http://127.0.0.1:$${MOTO_PORT:-5055}}" \
	HAKOBU_TEST_BIGQUERY_ENDPOINT="$${HAKOBU_TEST_BIGQUERY_ENDPOINT:-http://127.0.0.1:$${BQEMULATOR_PORT:-9050}}" \
	  $(CARGO) test --workspace --no-fail-fast
	scripts/e2e.sh

# The browser tests alone.
e2e:
	@scripts/ensure-services.sh
	scripts/e2e.sh

test-setup:
	@scripts/ensure-services.sh
	@scripts/test-setup.sh

lint:
	$(CARGO) fmt --all -- --check
	python3 scripts/import-loops.py
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench:
	@scripts/ensure-services.sh
	@bench/run.sh
	$(CARGO) run --release -q -p hakobu --example bench_dispatch
	$(CARGO) run --release -q -p hakobu --example bench_api
	$(CARGO) build --release -q -p hakobu-runner
	$(CARGO) run --release -q -p hakobu --example bench_probe

# The fault suite (app/tests/api/faults.rs) at full size: every scenario against the real
# app, PostgreSQL and runners, one after another, then the table of what was lost or
# doubled. `make test` runs the same scenarios at a tenth of the size.
FAULTS_REPORT = $(TARGET_DIR)/faults.jsonl
HAKOBU_FAULTS_SCALE ?= 1
faults: test-setup
	$(CARGO) build -p hakobu-runner -p hakobu --bin hakobu
	@rm -f $(FAULTS_REPORT)
	HAKOBU_FAULTS_SCALE=$(HAKOBU_FAULTS_SCALE) HAKOBU_FAULTS_REPORT=$(abspath $(FAULTS_REPORT)) \
	  HAKOBU_TEST_S3_ENDPOINT="$${HAKOBU_TEST_S3_ENDPOINT:-http://127.0.0.1:$${MOTO_PORT:-5055}}" \
	  $(CARGO) test -p hakobu --test api faults:: -- --test-threads=1 --nocapture; \
	  status=$$?; python3 scripts/faults-table.py $(FAULTS_REPORT); exit $$status

# The OCI images, built offline with podman from static musl binaries (scripts/image.sh):
# localhost/hakobu-runner and localhost/hakobu, the same contents as the Dockerfiles give.
image:
	scripts/image.sh all

# The runner image alone: what the container launcher's tests run.
image-runner:
	scripts/image.sh runner

# Test databases left behind by an interrupted run.
clean-test-dbs:
	@psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'hakobu_t%'" | \
	  while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$$db\" WITH (FORCE)"; done
