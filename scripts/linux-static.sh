#!/usr/bin/env bash
# Builds the static Linux binary (x86_64-unknown-linux-musl, what the release ships for Linux),
# checks that it is static (no dynamic loader, no shared library), runs the smoke suite
# (scripts/smoke.sh) on it with the glibc build's decode as second verifier, and runs it in an
# empty root, as in a FROM scratch container, where that can be done without privileges.
# Called by .ci/run; also runs alone.
#
# Installs what is missing, quietly: musl-tools with apt-get (sudo when not root; aws-lc-sys
# compiles its C code with musl-gcc for this target), the Rust target with rustup. Builds into
# target/musl, apart from the other builds.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
started=$SECONDS

if ! command -v musl-gcc >/dev/null; then
  command -v apt-get >/dev/null || {
    echo "error: musl-gcc missing and apt-get not found; install musl-tools" >&2
    exit 1
  }
  echo "linux-static: installing musl-tools with apt-get" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends musl-tools; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: could not install musl-tools with apt-get (output above)" >&2
    exit 1
  fi
  rm -f "$log"
fi
if ! rustc --print target-libdir --target "$target" 2>/dev/null | xargs test -d; then
  rustup target add "$target" >&2
fi

echo "linux-static: building qs-jwt ($target, release)" >&2
cargo build --release --locked --quiet --target "$target" --target-dir target/musl
bin=$PWD/target/musl/$target/release/qs-jwt
cargo build --locked --quiet
verifier=$PWD/target/debug/qs-jwt

# Static: no program interpreter (the dynamic loader) and no shared library needed.
if readelf -lW "$bin" | grep -q 'INTERP' || readelf -dW "$bin" | grep -q '(NEEDED)'; then
  echo "error: $bin is not static:" >&2
  readelf -dW "$bin" | grep NEEDED >&2 || true
  exit 1
fi
echo "linux-static: $bin is static, $(wc -c <"$bin") bytes" >&2

SMOKE_VERIFIER=$verifier bash scripts/smoke.sh "$bin"

# An empty root: the binary alone, and the CA certificates the Dockerfile adds. Needs an
# unprivileged user namespace (unshare -r); skipped, and said so, where there is none.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/ssl/certs" "$root/work"
cp "$bin" "$root/qs-jwt"
cp tests/fixtures/rsa2048-pkcs8.pem "$root/work/privatekey.pem"
chmod 600 "$root/work/privatekey.pem"
if unshare -r true 2>/dev/null; then
  # Nothing here at all: signing needs no file of the system.
  token=$(unshare -r chroot "$root" /qs-jwt create-qseow --userdir D --userid u --audience a \
    --expires 5m --cert-privatekey-file /work/privatekey.pem)
  "$verifier" decode --jwt "$token" --cert-publickey-file tests/fixtures/rsa2048-public.pem \
    --minimal-output >/dev/null
  for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    [ -f "$bundle" ] && cp "$bundle" "$root/etc/ssl/certs/ca-certificates.crt" && break
  done
  # The login commands find the CA certificates where the Dockerfile puts them.
  # (Nothing listens on port 9: the login fails, after reading the store.)
  found=$({ unshare -r chroot "$root" /qs-jwt login-qseow --server https://127.0.0.1:9/jwt \
    --jwt "$token" --loglevel verbose 2>&1 || true; } |
    sed -n 's/^VERBOSE \([0-9]*\) certificate authorities from the operating.*/\1/p')
  if [ "${found:-0}" -lt 1 ]; then
    echo "error: in an empty root with $root/etc/ssl/certs/ca-certificates.crt the login commands found no CA certificate" >&2
    exit 1
  fi
  echo "linux-static: signs in an empty root; finds $found CA certificates at /etc/ssl/certs/ca-certificates.crt" >&2
else
  echo "linux-static: no unprivileged user namespace here: the empty-root run is skipped" >&2
fi
echo "linux-static: $((SECONDS - started)) s in all (build included)" >&2
