#!/usr/bin/env bash
# Installs the programs the tests run when they are missing: bash, zsh and fish
# (tests/completions.rs drives them on the completion scripts qs-jwt prints), jq and openssl
# (tests/examples.rs runs the README's and docs' examples, which use them), ssh-keygen and
# puttygen (tests/keys.rs runs the commands qs-jwt gives for SSH and PuTTY keys), strace
# (tests/interrupted.rs kills --cert-create at each rename and unlink with its fault
# injection). Quiet and idempotent; Debian and Ubuntu only (apt-get), as on the Linux CI
# runner. Runs apt-get with sudo when not root.
set -euo pipefail

missing=()
for shell in bash zsh fish jq openssl strace; do
    command -v "$shell" >/dev/null 2>&1 || missing+=("$shell")
done
# Programs whose package has another name.
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v puttygen >/dev/null 2>&1 || missing+=(putty-tools)
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} not installed and apt-get not found; install them, or set QS_JWT_SKIP_SHELLS=1 to skip the tests that drive them" >&2
    exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: could not install ${missing[*]} with apt-get (output above)" >&2
    exit 1
fi
for shell in "${missing[@]}"; do
    case "$shell" in
        openssh-client) shell=ssh-keygen ;;
        putty-tools) shell=puttygen ;;
    esac
    command -v "$shell" >/dev/null 2>&1 || {
        echo "error: $shell is still not on PATH after apt-get install" >&2
        exit 1
    }
done
