#!/usr/bin/env bash
# Builds the web UI into frontend/dist/, which `hakobu serve` serves (HAKOBU_STATIC_DIR).
#
# Idempotent: installs what is missing (the wasm target, wasm-bindgen-cli of exactly the
# version in Cargo.lock, npm binaryen for wasm-opt), and skips the build when nothing under
# frontend/ or core/ (nor Cargo.lock, the root Cargo.toml or this script) changed since the
# last one. Nothing is downloaded outside the package registries (crates.io, npm).
#
#   scripts/build-frontend.sh           build if needed
#   scripts/build-frontend.sh --force   build even if nothing changed
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DIST=$ROOT/frontend/dist
STAMP=$DIST/.build-stamp
TOOLS=$ROOT/.tools
BINARYEN_VERSION=132.0.0
CRATE=hakobu_frontend

log() { printf '[build-frontend] %s\n' "$*" >&2; }

# What the build depends on: every source file of the UI and of core, the lock file and
# the workspace manifest. Content, not timestamps, so a fresh clone or `touch` changes
# nothing.
fingerprint() {
    {
        find frontend core -type f \
            -not -path 'frontend/dist/*' -not -path '*/target/*' -print0 |
            sort -z | xargs -0 sha256sum
        sha256sum Cargo.lock Cargo.toml scripts/build-frontend.sh
    } | sha256sum | cut -d' ' -f1
}

FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

WANT=$(fingerprint)
if [[ $FORCE == 0 && -f $STAMP && $(cat "$STAMP") == "$WANT" && -f $DIST/index.html ]]; then
    log "frontend/dist is up to date"
    exit 0
fi

# --- tools -------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must be the exact version of the wasm-bindgen crate in Cargo.lock,
# otherwise the generated glue and the wasm disagree and the page stays blank.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ -z $WB_VERSION ]]; then
    log "wasm-bindgen is not in Cargo.lock; is hakobu-frontend a workspace member?"
    exit 1
fi
if ! command -v wasm-bindgen >/dev/null || [[ $(wasm-bindgen --version | awk '{print $2}') != "$WB_VERSION" ]]; then
    log "installing wasm-bindgen-cli $WB_VERSION (takes a few minutes, once)"
    # Not --locked: its lock file pins a webpki-roots the registry index no longer has.
    cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# Debian's binaryen is too old (its wasm-opt output fails to load); npm has a current one.
WASM_OPT=$TOOLS/node_modules/.bin/wasm-opt
if [[ ! -x $WASM_OPT ]] || [[ $("$WASM_OPT" --version | awk '{print $3}') != "${BINARYEN_VERSION%%.*}" ]]; then
    log "installing npm binaryen@$BINARYEN_VERSION into .tools/"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund --no-save "binaryen@$BINARYEN_VERSION" >&2
fi

# --- build -------------------------------------------------------------------------------
START=$(date +%s)
log "cargo build (wasm-release)"
cargo build -p hakobu-frontend --target wasm32-unknown-unknown --profile wasm-release
WASM=$TARGET_DIR/wasm32-unknown-unknown/wasm-release/$CRATE.wasm

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
log "wasm-bindgen"
wasm-bindgen --target web --no-typescript --out-dir "$OUT" "$WASM"
BOUND=$(stat -c %s "$OUT/${CRATE}_bg.wasm")
log "wasm-opt -Oz"
# The wasm's target-features section tells wasm-opt which features it may use.
"$WASM_OPT" -Oz "$OUT/${CRATE}_bg.wasm" -o "$OUT/${CRATE}_bg.opt.wasm"
mv "$OUT/${CRATE}_bg.opt.wasm" "$OUT/${CRATE}_bg.wasm"

# Content hashes in the URLs, so a new build is never mixed with a cached old one.
JS_HASH=$(sha256sum "$OUT/$CRATE.js" | cut -c1-12)
WASM_HASH=$(sha256sum "$OUT/${CRATE}_bg.wasm" | cut -c1-12)
CSS_HASH=$(sha256sum frontend/style.css | cut -c1-12)

# Write the new dist next to the old one and swap, so a running server never serves half
# a build.
NEW=$ROOT/frontend/dist.new
rm -rf "$NEW"
mkdir -p "$NEW"
cp "$OUT/$CRATE.js" "$OUT/${CRATE}_bg.wasm" "$NEW/"
cp frontend/style.css "$NEW/style.css"
# The page starts the app from a file, not an inline script: the Content-Security-Policy
# allows scripts from the app's own origin only.
sed -e "s/{{JS_HASH}}/$JS_HASH/g" -e "s/{{WASM_HASH}}/$WASM_HASH/g" frontend/boot.js >"$NEW/boot.js"
BOOT_HASH=$(sha256sum "$NEW/boot.js" | cut -c1-12)
sed -e "s/{{JS_HASH}}/$JS_HASH/g" -e "s/{{WASM_HASH}}/$WASM_HASH/g" -e "s/{{CSS_HASH}}/$CSS_HASH/g" \
    -e "s/{{BOOT_HASH}}/$BOOT_HASH/g" frontend/index.html >"$NEW/index.html"
echo "$WANT" >"$NEW/.build-stamp"
rm -rf "$DIST"
mv "$NEW" "$DIST"

RAW=$(stat -c %s "$WASM")
FINAL=$(stat -c %s "$DIST/${CRATE}_bg.wasm")
GZ=$(gzip -9 -c "$DIST/${CRATE}_bg.wasm" | wc -c)
JS=$(stat -c %s "$DIST/$CRATE.js")
log "done in $(($(date +%s) - START)) s: wasm $RAW bytes from cargo -> $BOUND after wasm-bindgen -> $FINAL bytes after wasm-opt ($GZ gzipped); js $JS bytes"
