# The operator image: a static (musl) binary on a distroless base, running as
# a non-root user with nothing else in the image.
#   docker build -t ghcr.io/netposture/netposture:0.1.0 .
FROM docker.io/library/rust:1.89-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# No debug info and no symbols in the shipped binary.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols
RUN cargo build --release --locked -p netposture --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/netposture /netposture

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /netposture /usr/local/bin/netposture
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/netposture"]
CMD ["operator"]
