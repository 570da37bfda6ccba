# qs-jwt in an image of its own, for CI pipelines: the static (musl) binary and the CA
# certificates the login commands check servers against, and nothing else (FROM scratch: no
# shell, no package manager, no libc). Built for the platform it runs on (linux/amd64 or
# linux/arm64).
#
#   docker build -t qs-jwt .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" -w /work -e QSJWTPRIVKEY \
#     qs-jwt create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --sub anna \
#     --username "Anna Anderson" --useremail anna@example.com --useremail-verified true --expires 5m
#
# The login commands read the operating system's store of certificate authorities, which in
# this image is /etc/ssl/certs/ca-certificates.crt (Debian's Mozilla bundle); SSL_CERT_FILE or
# --cacert adds a company's own. Linted by hadolint in .ci/run.

FROM rust:1.95-slim AS build
# Debian's versions move with security fixes; pinning them would break the build, not secure it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .cargo/config.toml (in the copy) holds the crypto library's build setting; see
# docs/performance.md. aws-lc-sys compiles its C code with musl-gcc.
RUN target="$(uname -m)-unknown-linux-musl" \
    && rustup target add "$target" \
    && cargo build --release --locked --target "$target" \
    && cp "target/$target/release/qs-jwt" /qs-jwt

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /qs-jwt /qs-jwt
# Not root; give --user to write key files into a mounted folder as yourself.
USER 65534:65534
ENTRYPOINT ["/qs-jwt"]
