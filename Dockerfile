# The Hakobu app image: the `hakobu` control plane, the web UI, and `hakobu-runner` for the
# local launcher. (The container, ECS and Kubernetes launchers run runner-image/Dockerfile.)
#   docker build -t hakobu .
# On a machine without Docker (and where base images cannot be pulled), `make image`
# (scripts/image.sh) builds the same final stage with podman from a local musl build.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm musl-tools ca-certificates file busybox-static \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    export CC_x86_64_unknown_linux_musl=musl-gcc \
 && scripts/build-frontend.sh \
 && cargo build --profile image --locked --target x86_64-unknown-linux-musl -p hakobu-runner \
 && cargo build --release --locked --target x86_64-unknown-linux-musl -p hakobu \
 && APP_BIN_DIR=target/x86_64-unknown-linux-musl/release \
    scripts/image-rootfs.sh app /rootfs target/x86_64-unknown-linux-musl/image frontend/dist

# The final stage: scripts/image.sh builds exactly these lines, taking /rootfs from its own
# run of scripts/image-rootfs.sh. Static binaries, the web UI, Debian's CA bundle, and
# busybox's `sh` (the local launcher sets the runner's memory limit with `ulimit`).
FROM scratch
COPY --from=build /rootfs/ /
ENV HAKOBU_BIND=0.0.0.0:8080 \
    HAKOBU_STATIC_DIR=/usr/share/hakobu/dist \
    HAKOBU_LOG_FORMAT=json \
    PATH=/usr/local/bin:/bin
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/hakobu"]
CMD ["serve"]
