# The demo node: built in a Rust image, run as a non-root user in a small Debian image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p demo-node \
 && strip target/release/demo-node

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/demo-node --create-home node
COPY --from=build /src/target/release/demo-node /usr/local/bin/demo-node
USER node
WORKDIR /var/lib/demo-node
ENV DEMO_RPC_ADDR=0.0.0.0:8545 \
    DEMO_P2P_ADDR=0.0.0.0:30303 \
    TELEMETRY_PROMETHEUS_ADDR=0.0.0.0:9464 \
    DEMO_DATA_DIR=/var/lib/demo-node/data
EXPOSE 8545 30303 9464
# bash's /dev/tcp: the image has no curl, and the bridge answering is what matters here.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464"]
ENTRYPOINT ["demo-node"]
