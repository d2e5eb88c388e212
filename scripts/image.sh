#!/usr/bin/env bash
# Builds Hakobu's OCI images on this machine, offline, with podman: no base image is
# pulled (both are `FROM scratch` around static musl binaries), and the final stage is
# the one of runner-image/Dockerfile and the root Dockerfile, so `docker build` elsewhere
# gives the same contents (scripts/image-rootfs.sh lays out the files for both paths).
#
#   scripts/image.sh            both images (`make image`)
#   scripts/image.sh runner     localhost/hakobu-runner only (what the container tests need)
#   scripts/image.sh app        localhost/hakobu only
#
# Installs what is missing: podman and runc (Debian packages), musl-gcc (musl-tools, for
# aws-lc-sys's C code), busybox-static (the app image's `sh`), the Rust musl target.
# Prints each image's id and size. Builds are reproducible: every file time and the image
# creation time are the epoch, so the same sources give the same image id.
#
# Podman here: the vfs storage driver (no overlay in this sandbox) and runc (crun fails on
# "cgroups in hybrid mode"); HAKOBU_PODMAN overrides the command.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
WHAT=${1:-all}
TARGET=x86_64-unknown-linux-musl
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN_DIR=$TARGET_DIR/$TARGET/image
read -r -a PODMAN <<<"${HAKOBU_PODMAN:-podman --storage-driver vfs --runtime runc}"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

log() { printf '[image] %s\n' "$*" >&2; }

case $WHAT in
all | runner | app) ;;
*)
    echo "usage: scripts/image.sh [all|runner|app]" >&2
    exit 2
    ;;
esac

need_packages=()
command -v podman >/dev/null || need_packages+=(podman)
command -v runc >/dev/null || need_packages+=(runc)
command -v musl-gcc >/dev/null || need_packages+=(musl-tools)
command -v file >/dev/null || need_packages+=(file)
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || need_packages+=(ca-certificates)
if [[ $WHAT != runner ]] && ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
    need_packages+=(busybox-static)
fi
if ((${#need_packages[@]})); then
    log "installing ${need_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
    log "adding the Rust target $TARGET"
    rustup target add "$TARGET"
fi

export CC_x86_64_unknown_linux_musl=musl-gcc
log "cargo build --profile image --target $TARGET -p hakobu-runner"
cargo build --profile image --locked --target "$TARGET" -p hakobu-runner
if [[ $WHAT != runner ]]; then
    scripts/build-frontend.sh
    log "cargo build --release --target $TARGET -p hakobu"
    cargo build --release --locked --target "$TARGET" -p hakobu
fi
export APP_BIN_DIR=$TARGET_DIR/$TARGET/release

build_image() {
    local kind=$1 name=$2 dockerfile=$3
    local context
    context=$(mktemp -d "${TMPDIR:-/tmp}/hakobu-image.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$context'" RETURN
    scripts/image-rootfs.sh "$kind" "$context/rootfs" "$BIN_DIR" "$ROOT/frontend/dist"
    # The Dockerfile's own final stage, its files from the local root filesystem.
    scripts/image-containerfile.sh "$dockerfile" >"$context/Containerfile"
    log "building localhost/$name:$VERSION"
    "${PODMAN[@]}" build --quiet --timestamp 0 --pull=never \
        -t "localhost/$name:$VERSION" -t "localhost/$name:latest" \
        -f "$context/Containerfile" "$context" >/dev/null
    local id size
    id=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "localhost/$name:latest")
    size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "localhost/$name:latest")
    awk -v n="localhost/$name:$VERSION" -v id="${id:0:12}" -v s="$size" \
        'BEGIN { printf "%-28s %s  %6.1f MB\n", n, id, s / 1e6 }'
}

[[ $WHAT == app ]] || build_image runner hakobu-runner runner-image/Dockerfile
[[ $WHAT == runner ]] || build_image app hakobu Dockerfile
