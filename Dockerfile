# Build: the protos compile with protox (pure Rust), so the builder needs no protoc.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY src ./src
RUN cargo build --release --locked --bin spaceid

# Run: a slim image, an unprivileged user, the SQLite database in a volume.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 spaceid \
    && useradd --system --uid 10001 --gid spaceid --home-dir /data --shell /usr/sbin/nologin spaceid \
    && mkdir -p /data && chown spaceid:spaceid /data
COPY --from=build /src/target/release/spaceid /usr/local/bin/spaceid
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENV DATABASE_URL="sqlite:///data/spaceid.db?mode=rwc" \
    SPACEID_LISTEN="0.0.0.0:50051" \
    SPACEID_LOG_FORMAT="json"
EXPOSE 50051
# SERVING only while the database takes writes (see the README's Health and readiness).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s \
    CMD ["spaceid", "health", "--addr", "127.0.0.1:50051"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["spaceid"]
CMD ["serve"]
