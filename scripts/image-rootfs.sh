#!/usr/bin/env bash
# Lays out the root filesystem of an image, the one set of steps both paths share: the
# Dockerfiles run it in their build stage, `scripts/image.sh` runs it here, and each copies
# the result into an empty (`FROM scratch`) image, so both give the same contents.
#
#   scripts/image-rootfs.sh runner OUT BIN_DIR        hakobu-runner only
#   scripts/image-rootfs.sh app OUT BIN_DIR DIST_DIR  hakobu, hakobu-runner, the web UI, busybox sh
#
# BIN_DIR holds the static (x86_64-unknown-linux-musl) binaries of the `image` profile;
# APP_BIN_DIR (default BIN_DIR) the app's `hakobu`, which the release profile builds (its
# size matters less than the build's time). What goes in:
# the binaries, stripped; Debian's CA bundle (/etc/ssl/certs/ca-certificates.crt, from the
# ca-certificates package) for HTTPS to the app, S3 and databases; /etc/passwd and
# /etc/group naming the unprivileged user 10001 the images run as; /tmp writable by it.
# The runner image has no shell. The app image carries busybox's `sh` (Debian's
# busybox-static) because its local launcher sets the runner's memory limit with
# `ulimit`; BUSYBOX (default /bin/busybox) names that static busybox. Every file's time
# is SOURCE_DATE_EPOCH (default 0), so the same inputs give the same layer.
set -euo pipefail

KIND=${1:?runner or app}
OUT=${2:?output directory}
BIN_DIR=${3:?directory of the musl release binaries}
DIST_DIR=${4:-}
EPOCH=${SOURCE_DATE_EPOCH:-0}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

case $KIND in
runner) BINARIES=(hakobu-runner) ;;
app)
    BINARIES=(hakobu hakobu-runner)
    [[ -n $DIST_DIR && -f $DIST_DIR/index.html ]] || {
        echo "image-rootfs: the app image needs the built web UI (DIST_DIR with index.html)" >&2
        exit 1
    }
    ;;
*)
    echo "image-rootfs: the kind is runner or app, not '$KIND'" >&2
    exit 1
    ;;
esac
[[ -f $CA_BUNDLE ]] || {
    echo "image-rootfs: $CA_BUNDLE is missing (apt-get install ca-certificates)" >&2
    exit 1
}

rm -rf "$OUT"
mkdir -p "$OUT/usr/local/bin" "$OUT/etc/ssl/certs" "$OUT/tmp"
for bin in "${BINARIES[@]}"; do
    from=$BIN_DIR
    [[ $bin == hakobu ]] && from=${APP_BIN_DIR:-$BIN_DIR}
    # A glibc binary would not start in an empty image: refuse anything dynamic.
    if file -L "$from/$bin" | grep -q 'dynamically linked'; then
        echo "image-rootfs: $from/$bin is dynamically linked; build it for x86_64-unknown-linux-musl" >&2
        exit 1
    fi
    install -m 0755 "$from/$bin" "$OUT/usr/local/bin/$bin"
    strip "$OUT/usr/local/bin/$bin"
done
install -m 0644 "$CA_BUNDLE" "$OUT/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nhakobu:x:10001:10001:hakobu:/tmp:/sbin/nologin\n' >"$OUT/etc/passwd"
printf 'root:x:0:\nhakobu:x:10001:\n' >"$OUT/etc/group"
chmod 0644 "$OUT/etc/passwd" "$OUT/etc/group"
chmod 1777 "$OUT/tmp"

if [[ $KIND == app ]]; then
    BUSYBOX=${BUSYBOX:-/bin/busybox}
    [[ -x $BUSYBOX ]] || {
        echo "image-rootfs: $BUSYBOX is missing (apt-get install busybox-static)" >&2
        exit 1
    }
    file -L "$BUSYBOX" | grep -q 'statically linked' || {
        echo "image-rootfs: $BUSYBOX is not static (install busybox-static, not busybox)" >&2
        exit 1
    }
    mkdir -p "$OUT/bin" "$OUT/usr/share/hakobu"
    install -m 0755 "$BUSYBOX" "$OUT/bin/busybox"
    ln -s busybox "$OUT/bin/sh"
    cp -r "$DIST_DIR" "$OUT/usr/share/hakobu/dist"
    rm -f "$OUT/usr/share/hakobu/dist/.build-stamp"
fi

find "$OUT" -exec touch -h -d "@$EPOCH" {} +
