#!/usr/bin/env bash
# The runner `make run` starts for each transfer: `.run/hakobu-runner`, a link to the
# debug build at first (ready now), switched to the optimised build once a background
# `cargo build --release` has made it. The app starts a fresh runner process per run and
# per probe, so the switch needs no restart: the first transfers take the debug runner
# (about 2.4x slower), the rest the release one. Prints the path for HAKOBU_RUNNER_BIN.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo=${CARGO:-cargo}
mkdir -p "$root/.run"
link=$root/.run/hakobu-runner
log=$root/.run/runner-release.log

# Points the link at $1 in one step (rename), so a run never finds it missing.
switch_to() {
  ln -sfn "$1" "$link.new"
  mv -T "$link.new" "$link"
}

if [ ! -e "$link" ] || [ "$(readlink "$link")" != "$target/release/hakobu-runner" ]; then
  switch_to "$target/debug/hakobu-runner"
fi
# Also when the link already names the release build: the sources may have changed since.
# `cargo build` takes a second when it is up to date; until it ends, the link stays as it
# is (an older release build, or the debug one just built).
(
  if "$cargo" build --release -q -p hakobu-runner >"$log" 2>&1; then
    switch_to "$target/release/hakobu-runner"
    echo "$(date -u +%FT%TZ) transfers now use the optimised runner" >>"$log"
  else
    switch_to "$target/debug/hakobu-runner"
  fi
) </dev/null >/dev/null 2>&1 &
disown
echo "$link"
