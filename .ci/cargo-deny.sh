#!/usr/bin/env bash
# cargo deny with deny.toml: licenses, banned crates (the one-crypto-backend rule) and sources.
# Not advisories: their database is fetched from GitHub, which CI here cannot reach; the GitHub
# workflow checks them. cargo-deny is installed from crates.io with `cargo install --locked`
# into ~/.cargo/bin when that version is missing (a few minutes once; a rerun finds it).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.20.2

if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $version"; then
  echo "cargo-deny: installing cargo-deny $version from crates.io (cargo install --locked)" >&2
  cargo install --locked --quiet "cargo-deny@$version" >&2
fi
cargo deny --locked check --hide-inclusion-graph licenses bans sources
