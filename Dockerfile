# The Hakobu app image: the `hakobu` control plane, the web UI, and `hakobu-runner` for the
# local launcher. (ECS/Kubernetes launchers run runner-image/Dockerfile instead.)
#   docker build -t hakobu .
# Not built on the development machine (no Docker engine there); kept in step with the
# Makefile's build steps.

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/build-frontend.sh \
 && cargo build --release --locked -p hakobu -p hakobu-runner \
 && mkdir -p /out \
 && cp target/release/hakobu target/release/hakobu-runner /out/ \
 && cp -r frontend/dist /out/dist \
 && strip /out/hakobu /out/hakobu-runner

# A shell is needed: the local launcher sets the runner's memory limit with `ulimit`.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 hakobu
COPY --from=build /out/hakobu /out/hakobu-runner /usr/local/bin/
COPY --from=build /out/dist /usr/share/hakobu/dist
ENV HAKOBU_BIND=0.0.0.0:8080 \
    HAKOBU_STATIC_DIR=/usr/share/hakobu/dist \
    HAKOBU_LOG_FORMAT=json
USER hakobu
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/hakobu"]
CMD ["serve"]
