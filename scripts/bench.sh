#!/usr/bin/env bash
# Measures qs-jwt against openssl doing the same work, in one run, with hyperfine (no shell in
# between, -N, so a few milliseconds are measured as they are):
#   1. signing a token with an existing 4096-bit key  vs  openssl dgst -sha256 -sign
#   2. --cert-create (new 4096-bit key and certificate)  vs  openssl genrsa 4096
#   3. decode with signature verification  vs  openssl dgst -sha256 -verify
# then peak memory with /usr/bin/time -v, and
#   4. signing with the static (musl) build, which the release ships for Linux, vs the glibc one
#      (needs musl-tools and the x86_64-unknown-linux-musl target: scripts/linux-static.sh
#      installs both; skipped, and said so, without them).
# Prints the medians and the ratios (qs-jwt / openssl, below 1 means qs-jwt is faster; static /
# glibc) and leaves hyperfine's JSON in target/bench/ (or $BENCH_OUT).
#
# Usage: scripts/bench.sh            (RUNS=50 KEYGEN_RUNS=20 by default)
# Needs: cargo, openssl, python3, hyperfine and GNU time (both installed with apt-get if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-50}
keygen_runs=${KEYGEN_RUNS:-20}
out=${BENCH_OUT:-target/bench}

install_missing() {
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  [ -x /usr/bin/time ] || missing+=(time)
  [ ${#missing[@]} -eq 0 ] && return
  echo "installing ${missing[*]} from the system packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y "${missing[@]}" >/dev/null; }
}
install_missing
for tool in openssl python3; do
  command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done

cargo build --release --locked --quiet
bin=$PWD/target/release/qs-jwt
static_bin=
if command -v musl-gcc >/dev/null &&
  rustc --print target-libdir --target x86_64-unknown-linux-musl 2>/dev/null | xargs test -d; then
  cargo build --release --locked --quiet --target x86_64-unknown-linux-musl --target-dir target/musl
  static_bin=$PWD/target/musl/x86_64-unknown-linux-musl/release/qs-jwt
else
  echo "no musl-gcc or no x86_64-unknown-linux-musl target: the static build is not measured" >&2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The inputs: a 4096-bit key from openssl, a real token, and what its signature covers.
openssl genrsa -out key.pem 4096 2>/dev/null
openssl pkey -in key.pem -pubout -out public.pem
sign_qseow=("$bin" create-qseow --userdir GRUSGRUS --userid anna --audience hdJh34wkK
  --username "Anna Anderson" --useremail anna@grusgrus.com --groups group1 "group 2"
  --expires 60m --cert-privatekey-file key.pem --loglevel error)
"${sign_qseow[@]}" > token.txt
token=$(cat token.txt)
printf '%s' "${token%.*}" > input.txt # header.payload: the bytes a JWT signature covers
openssl dgst -sha256 -sign key.pem -out signature.bin input.txt
mkdir keys

quote() { printf '%q ' "$@"; }

echo "== 1. sign with an existing 4096-bit key ($runs runs)" >&2
hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$out/sign.json" \
  -n qs-jwt "$(quote "${sign_qseow[@]}")" \
  -n openssl "openssl dgst -sha256 -sign key.pem input.txt"

echo "== 2. a new 4096-bit key ($keygen_runs runs; compare medians)" >&2
create=("$bin" create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --sub anna
  --username "Anna Anderson" --useremail anna@grusgrus.com --useremail-verified true
  --expires 60m --cert-create true --cert-create-expires-days 30 --cert-file-prefix keys/run_
  --loglevel error)
hyperfine -N --style basic --warmup 2 --runs "$keygen_runs" --export-json "$out/keygen.json" \
  --prepare "find keys -name run_* -delete" \
  -n qs-jwt "$(quote "${create[@]}")" \
  -n openssl "openssl genrsa -out keys/genrsa.pem 4096"

echo "== 3. verify a token ($runs runs)" >&2
decode=("$bin" decode --jwt-file token.txt --cert-publickey-file public.pem --minimal-output)
hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$out/verify.json" \
  -n qs-jwt "$(quote "${decode[@]}")" \
  -n openssl "openssl dgst -sha256 -verify public.pem -signature signature.bin input.txt"

rm -f "$out/static.json"
if [ -n "$static_bin" ]; then
  echo "== 4. sign: the static (musl) build vs the glibc build ($runs runs)" >&2
  sign_static=("$static_bin" "${sign_qseow[@]:1}")
  hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$out/static.json" \
    -n static "$(quote "${sign_static[@]}")" \
    -n glibc "$(quote "${sign_qseow[@]}")"
fi

peak() { # peak resident memory of one run, in KiB
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}
rm -f keys/run_*
{
  echo "sign $(peak "${sign_qseow[@]}") $(peak openssl dgst -sha256 -sign key.pem input.txt)"
  echo "keygen $(peak "${create[@]}") $(peak openssl genrsa -out keys/genrsa.pem 4096)"
  echo "verify $(peak "${decode[@]}") $(peak openssl dgst -sha256 -verify public.pem \
    -signature signature.bin input.txt)"
} > "$out/memory.txt"

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
memory = {}
for line in open(f"{out}/memory.txt"):
    name, ours, theirs = line.split()
    memory[name] = (int(ours) / 1024, int(theirs) / 1024)
print()
print(f"{'task':<8} {'qs-jwt median':>14} {'openssl median':>15} {'ratio':>6}  {'qs-jwt peak':>11} {'openssl peak':>12}")
for name in ["sign", "keygen", "verify"]:
    results = {r["command"]: r for r in json.load(open(f"{out}/{name}.json"))["results"]}
    ours, theirs = results["qs-jwt"]["median"], results["openssl"]["median"]
    mem_ours, mem_theirs = memory[name]
    print(f"{name:<8} {ours * 1000:>11.1f} ms {theirs * 1000:>12.1f} ms {ours / theirs:>6.2f}"
          f"  {mem_ours:>7.1f} MiB {mem_theirs:>8.1f} MiB")
print(f"\nratio = qs-jwt median / openssl median; hyperfine's JSON is in {out}")
try:
    results = {r["command"]: r for r in json.load(open(f"{out}/static.json"))["results"]}
except FileNotFoundError:
    sys.exit(0)
static, glibc = results["static"]["median"], results["glibc"]["median"]
print(f"\nsign, static (musl) {static * 1000:.2f} ms, glibc {glibc * 1000:.2f} ms: "
      f"ratio {static / glibc:.2f} (below 1: the static build is faster)")
EOF
