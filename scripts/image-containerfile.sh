#!/usr/bin/env bash
# Prints the Containerfile `scripts/image.sh` builds for a Dockerfile: the Dockerfile's own
# final stage (from its `FROM scratch` on), with the one line that copies the build stage's
# root filesystem reading it from the local context instead. Everything else (USER,
# WORKDIR, ENV, EXPOSE, ENTRYPOINT, CMD) is taken as it is, so the local image and a
# `docker build` elsewhere cannot differ in them. A final stage that copies, adds or runs
# anything else is refused: the local path could not give the same contents.
#
#   scripts/image-containerfile.sh runner-image/Dockerfile
set -euo pipefail

DOCKERFILE=${1:?a Dockerfile}
STAGE=$(sed -n '/^FROM scratch$/,$p' "$DOCKERFILE")
[[ -n $STAGE ]] || {
    echo "image-containerfile: $DOCKERFILE has no final stage 'FROM scratch'" >&2
    exit 1
}
if [[ $(grep -c '^FROM ' <<<"$STAGE") != 1 ]]; then
    echo "image-containerfile: $DOCKERFILE has a stage after 'FROM scratch'" >&2
    exit 1
fi
if [[ $(grep -cx 'COPY --from=build /rootfs/ /' <<<"$STAGE") != 1 ]]; then
    echo "image-containerfile: the final stage of $DOCKERFILE must have the line 'COPY --from=build /rootfs/ /' once" >&2
    exit 1
fi
other=$(grep -E '^(COPY|ADD|RUN)\b' <<<"$STAGE" | grep -vx 'COPY --from=build /rootfs/ /' || true)
if [[ -n $other ]]; then
    echo "image-containerfile: the final stage of $DOCKERFILE may only copy /rootfs/ (scripts/image-rootfs.sh lays out every file); found: $other" >&2
    exit 1
fi
sed 's#^COPY --from=build /rootfs/ /$#COPY rootfs/ /#' <<<"$STAGE"
