#!/usr/bin/env bash
# Measures qs-jwt against openssl doing the same work, in one run, with hyperfine (no shell in
# between, -N, so a few milliseconds are measured as they are):
#   1. signing a token with an existing 4096-bit key  vs  openssl dgst -sha256 -sign
#   2. --cert-create (new 4096-bit key and certificate)  vs  openssl genrsa 4096
#   3. decode with signature verification  vs  openssl dgst -sha256 -verify
#   4. --users with 10,000 users, 4096- and 2048-bit keys  vs  the machine's limit, openssl speed
#      -multi <cores> (signatures a second on every core), and vs a shell loop of one qs-jwt
#      process a user, as scripts do it without --users
#   6. --users at scale: peak memory and tokens a second for 1,000,000 users, and for 64 MiB of
#      short rows with one bad row at the end (refused); and the checking pass of issue 31: 64 MiB
#      of one-column rows (7,600,001, the last a duplicate of the first: refused), and the same
#      without the duplicate, checked and stopped at a key file that is not there (the key is read
#      after the check), each beside 642aa5c's figures from issue 31
#   5. signing with the static (musl) build, which the release ships for Linux, vs the glibc one
#      (needs musl-tools and the x86_64-unknown-linux-musl target: scripts/linux-static.sh
#      installs both; skipped, and said so, without them)
#   7. serve: serve-qseow minting an RS256 JWT (2048-bit key) a request, vs an Express +
#      jsonwebtoken server minting the same JWT (the samples' way; npm installs express and
#      jsonwebtoken into target/bench/express), both on 127.0.0.1 with keep-alive, loaded by wrk
#      (a POST /token {"user": "anna"} a request): requests a second and p99 latency, beside
#      openssl speed -multi <cores> rsa2048 (target: serve at least 0.8 of its signatures a
#      second). ONLY=serve runs this section alone
#   8. engine (issue 28): the whole engine proof, `qs-jwt create-qseow | qs-jwt login-qseow` (HTTP
#      login, CSRF token, WebSocket, OnConnected, GetAuthenticatedUser, EngineVersion, session
#      end) vs scripts/enigma-jwt.js, enigma.js's JWT example doing the same (jsonwebtoken, ws,
#      enigma.js; npm installs them into target/bench/enigma), both against the test crate's
#      QSEoW stand-in (the ignored test engine::bench_stand_in), hyperfine (target: qs-jwt at
#      most half enigma.js's wall time). ONLY=engine runs this section alone
# then peak memory with /usr/bin/time -v (and of --users with 100,000 users). Prints the medians
# and the ratios (qs-jwt / openssl, below 1 means qs-jwt is faster; for --users, tokens a second
# over openssl's signatures a second, above 0.9 is the target; static / glibc) and leaves
# hyperfine's JSON in target/bench/ (or $BENCH_OUT).
#
# Usage: scripts/bench.sh            (RUNS=50 KEYGEN_RUNS=20 USERS=10000 BATCH_RUNS=3 by default;
#                                     LOOP=0 skips the shell loop, about a minute; HUGE=1 adds
#                                     10,000,000 users to section 6, several minutes)
# Needs: cargo, openssl, python3, hyperfine, GNU time and wrk (installed with apt-get if missing),
# and node with npm for sections 7 and 8.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-50}
keygen_runs=${KEYGEN_RUNS:-20}
users=${USERS:-10000}
batch_runs=${BATCH_RUNS:-3}
loop=${LOOP:-1}
only=${ONLY:-}
cores=$(nproc)
out=${BENCH_OUT:-target/bench}

install_missing() {
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v wrk >/dev/null || missing+=(wrk)
  [ -x /usr/bin/time ] || missing+=(time)
  [ ${#missing[@]} -eq 0 ] && return
  echo "installing ${missing[*]} from the system packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y "${missing[@]}" >/dev/null; }
}
install_missing
for tool in openssl python3 node npm; do
  command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done

cargo build --release --locked --quiet
bin=$PWD/target/release/qs-jwt
static_bin=
if [ "$only" != serve ] && [ "$only" != engine ] && command -v musl-gcc >/dev/null &&
  rustc --print target-libdir --target x86_64-unknown-linux-musl 2>/dev/null | xargs test -d; then
  cargo build --release --locked --quiet --target x86_64-unknown-linux-musl --target-dir target/musl
  static_bin=$PWD/target/musl/x86_64-unknown-linux-musl/release/qs-jwt
else
  echo "no musl-gcc or no x86_64-unknown-linux-musl target (or ONLY=serve or engine): the static build is not measured" >&2
fi
express_dir=$PWD/target/bench/express
if [ ! -d "$express_dir/node_modules/express" ] || [ ! -d "$express_dir/node_modules/jsonwebtoken" ]; then
  mkdir -p "$express_dir"
  (cd "$express_dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund --silent express@4 jsonwebtoken@9 >/dev/null)
fi
enigma_dir=$PWD/target/bench/enigma
if [ "$only" = engine ] && { [ ! -d "$enigma_dir/node_modules/enigma.js" ] ||
  [ ! -d "$enigma_dir/node_modules/ws" ] || [ ! -d "$enigma_dir/node_modules/jsonwebtoken" ]; }; then
  mkdir -p "$enigma_dir"
  (cd "$enigma_dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund --silent enigma.js@2 ws@8 jsonwebtoken@9 >/dev/null)
fi
repo=$PWD
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

quote() { printf '%q ' "$@"; }

# 8. engine: the whole engine proof against the QSEoW stand-in (the test crate's, started by the
# ignored test engine::bench_stand_in, which writes url, ca.pem, key.pem and audience into
# $QS_JWT_BENCH_DIR and serves until a file stop appears there), qs-jwt vs enigma.js's JWT way.
engine_bench() {
  local runs=${ENGINE_RUNS:-20} dir=$work/stand-in pid
  echo "== 8. engine proof against the QSEoW stand-in ($runs runs)" >&2
  mkdir -p "$dir"
  (cd "$repo" && QS_JWT_BENCH_DIR=$dir exec cargo test --release --locked --quiet --test it \
    -- --ignored --exact engine::bench_stand_in) > "$dir/stand-in.log" 2>&1 &
  pid=$!
  for _ in $(seq 1800); do # the test binary may need building first: up to 30 minutes
    [ -f "$dir/url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/stand-in.log" >&2; exit 1; }
    sleep 1
  done
  [ -f "$dir/url" ] || { echo "the stand-in did not start" >&2; touch "$dir/stop"; exit 1; }
  local url audience qs enigma
  chmod 600 "$dir/key.pem"
  url=$(cat "$dir/url")
  audience=$(cat "$dir/audience")
  qs="$(quote "$bin" create-qseow --userdir CORP --userid anna --audience "$audience" \
    --expires 5m --cert-privatekey-file "$dir/key.pem") | $(quote "$bin" login-qseow \
    --server "$url" --jwt-file - --cacert "$dir/ca.pem")"
  enigma="$(quote node "$repo/scripts/enigma-jwt.js" "$url" "$dir/key.pem" "$audience")"
  # Both prove the engine before they are timed.
  bash -c "$qs" 2>/dev/null | grep -q '^Engine: *proven' || { echo "qs-jwt did not prove the engine" >&2; touch "$dir/stop"; exit 1; }
  export NODE_EXTRA_CA_CERTS=$dir/ca.pem NODE_PATH=$enigma_dir/node_modules
  node "$repo/scripts/enigma-jwt.js" "$url" "$dir/key.pem" "$audience" | grep -q 'UserId=anna' ||
    { echo "enigma.js did not prove the engine" >&2; touch "$dir/stop"; exit 1; }
  hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$out/engine.json" \
    -n qs-jwt "$(quote bash -c "$qs")" -n enigma.js "$enigma"
  touch "$dir/stop"
  # The stand-in checks that every session opened was ended.
  wait "$pid" || { cat "$dir/stand-in.log" >&2; echo "the stand-in failed" >&2; exit 1; }
  python3 - "$out/engine.json" <<'PY2'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
q, e = r["qs-jwt"]["median"], r["enigma.js"]["median"]
print(f"\nengine proof (login, CSRF token, WebSocket, OnConnected, user, version, session end)")
print(f"qs-jwt (create-qseow | login-qseow, through bash -c): median {q * 1000:.1f} ms")
print(f"enigma.js (node scripts/enigma-jwt.js):               median {e * 1000:.1f} ms")
print(f"qs-jwt / enigma.js: {q / e:.2f} (target: at most 0.5)")
PY2
}
if [ "$only" = engine ]; then
  engine_bench
  exit 0
fi
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


# 7. serve: requests a second and p99 latency over keep-alive connections, for serve-qseow and
# for the samples' Express + jsonwebtoken server, each minting the same RS256 JWT (2048-bit key)
# a request; openssl's RSA 2048 signatures a second on every core as the limit.
serve_bench() {
  local seconds=${SERVE_SECONDS:-10} connections=${SERVE_CONNECTIONS:-16}
  echo "== 7. serve: wrk, $connections keep-alive connections, ${seconds}s each" >&2
  [ -f key2048.pem ] || openssl genrsa -out key2048.pem 2048 2>/dev/null
  cat > post.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"user": "anna"}'
wrk.headers["Content-Type"] = "application/json"
LUA
  # The samples' server: a JWT with create-qseow's claims, signed by jsonwebtoken, a request.
  cat > express-server.js <<'JS'
const fs = require("fs");
const express = require("express");
const jwt = require("jsonwebtoken");
const key = fs.readFileSync(process.argv[2]);
const app = express();
app.use(express.json({ limit: "16kb" }));
app.post("/token", (req, res) => {
  const token = jwt.sign(
    { userId: req.body.user, userDirectory: "ACME" },
    key,
    { algorithm: "RS256", audience: "qlik.example.com", expiresIn: "5m" },
  );
  res.json({ token });
});
const server = app.listen(0, "127.0.0.1", () => console.log(`http://127.0.0.1:${server.address().port}`));
JS
  local url pid
  : > "$out/serve.txt"
  for name in qs-jwt express; do
    if [ "$name" = qs-jwt ]; then
      coproc SERVER { exec "$bin" serve-qseow --userdir ACME --audience qlik.example.com \
        --cert-privatekey-file key2048.pem --user anna --port 0 2>/dev/null; }
    else
      coproc SERVER { NODE_PATH="$express_dir/node_modules" exec node express-server.js key2048.pem; }
    fi
    pid=$SERVER_PID
    read -r url <&"${SERVER[0]}"
    # A check that the server mints: a token, not a refusal, before the load.
    curl -s -X POST "$url/token" -H 'Content-Type: application/json' -d '{"user": "anna"}' |
      grep -q '"token":"ey' || { echo "$name at $url gives no token" >&2; kill "$pid"; exit 1; }
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s post.lua "$url/token" > "wrk-$name.txt"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    awk -v name="$name" '/Requests\/sec:/ {rate = $2} / 99% / {p99 = $2}
      /Non-2xx/ {bad = $NF} END {print name, rate, p99, bad + 0}' "wrk-$name.txt" >> "$out/serve.txt"
  done
  local limit
  limit=$(openssl speed -multi "$cores" -seconds 5 rsa2048 2>/dev/null |
    awk '/^rsa +2048 bits/ {print $6}')
  python3 - "$out/serve.txt" "$limit" "$cores" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
limit, cores = float(sys.argv[2]), sys.argv[3]
print(f"\nserve, RS256 with a 2048-bit key, {cores} cores, keep-alive, server and wrk on one machine")
print(f"{'server':<8} {'requests/s':>10} {'p99':>9} {'non-2xx':>8} {'of openssl -multi':>18}")
for name, rate, p99, bad in rows:
    print(f"{name:<8} {float(rate):>10.0f} {p99:>9} {bad:>8} {float(rate) / limit:>18.2f}")
print(f"openssl speed -multi {cores} rsa2048: {limit:.0f} signs/s (target: serve at least 0.8 of it)")
PY
}
if [ "$only" = serve ]; then
  serve_bench
  exit 0
fi

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

echo "== 4. --users: $users users on $cores cores ($batch_runs runs each)" >&2
# Users as an identity provider's export would hold them: a name, an email, two groups, a
# department as an extra claim.
users_file() { # users_file <count>
  python3 - "$1" <<'PY'
import sys
print("sub,name,email,email_verified,groups,claim.department")
for n in range(int(sys.argv[1])):
    print(f"user{n},User {n},user{n}@example.com,true,group{n % 10};all,dept{n % 7}")
PY
}
users_file "$users" > users.csv
openssl genrsa -out key2048.pem 2048 2>/dev/null
batch() { # batch <key>: the whole file, one run
  printf '%s ' "$bin" create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id \
    --expires 60m --cert-privatekey-file "$1" --users users.csv --loglevel error
}
hyperfine -N --style basic --warmup 1 --runs "$batch_runs" --export-json "$out/batch.json" \
  -n users4096 "$(batch key.pem)" -n users2048 "$(batch key2048.pem)"
# The limit: RSA signatures a second on every core, by openssl, in the same run.
openssl speed -multi "$cores" -seconds 5 rsa4096 rsa2048 2>/dev/null |
  awk '/^rsa +[0-9]+ bits/ {print $2, $6}' > "$out/openssl-speed.txt"
# A shell loop of one process a user, reading the key every time: what --users replaces.
: > "$out/loop.txt"
if [ "$loop" = 1 ]; then
  for key in key.pem key2048.pem; do
    start=$(date +%s.%N)
    tail -n +2 users.csv | while IFS=, read -r sub name email _ groups department; do
      "$bin" create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --expires 60m \
        --cert-privatekey-file "$key" --sub "$sub" --username "$name" --useremail "$email" \
        --useremail-verified true --groups "${groups%%;*}" all --claim "department=$department" \
        --loglevel error
    done > loop-tokens.txt
    end=$(date +%s.%N)
    echo "$key $(wc -l < loop-tokens.txt) $start $end" >> "$out/loop.txt"
  done
fi

rm -f "$out/static.json"
if [ -n "$static_bin" ]; then
  echo "== 5. sign: the static (musl) build vs the glibc build ($runs runs)" >&2
  sign_static=("$static_bin" "${sign_qseow[@]:1}")
  hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$out/static.json" \
    -n static "$(quote "${sign_static[@]}")" \
    -n glibc "$(quote "${sign_qseow[@]}")"
fi

peak() { # peak resident memory of one run, in KiB
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}
rm -f keys/run_*
users_file 100000 > users100k.csv
{
  echo "sign $(peak "${sign_qseow[@]}") $(peak openssl dgst -sha256 -sign key.pem input.txt)"
  echo "keygen $(peak "${create[@]}") $(peak openssl genrsa -out keys/genrsa.pem 4096)"
  echo "verify $(peak "${decode[@]}") $(peak openssl dgst -sha256 -verify public.pem \
    -signature signature.bin input.txt)"
  echo "users100k $(peak "$bin" create-qscloud --issuer i --keyid k --expires 60m \
    --cert-privatekey-file key2048.pem --users users100k.csv --loglevel error) 0"
} > "$out/memory.txt"

# --users at scale (issue 21): peak memory and tokens a second for 1,000,000 users (a name, an
# email, email_verified, three groups), and for 64 MiB of short rows with one bad row at the
# end (refused: nothing signed). HUGE=1 adds 10,000,000 users (several minutes).
echo "== 6. --users at scale: 1,000,000 users; 64 MiB of short rows, one bad" >&2
big_users() { # big_users <count>
  python3 - "$1" <<'PY'
import sys
out = sys.stdout
out.write("sub,name,email,email_verified,groups\n")
for n in range(int(sys.argv[1])):
    out.write(f"user{n},User {n},user{n}@example.com,true,group{n % 10};all;team{n % 100}\n")
PY
}
short_rows() { # 64 MiB of u1, u2, ... and one bad row at the end
  python3 - <<'PY'
import sys
out = sys.stdout
out.write("sub,email_verified\n")
size, n = 0, 0
while size < 64 * 1024 * 1024:
    line = f"u{n},true\n"
    out.write(line)
    size += len(line)
    n += 1
out.write("bad,maybe\n")
PY
}
scale() { # scale <name> <users file>: "name users peak_kib seconds exit"
  local report
  # GNU time's report to a file of its own: the run's stderr is dropped.
  /usr/bin/time -v -o time.txt "$bin" create-qscloud --issuer i --keyid k --expires 60m \
    --cert-privatekey-file key2048.pem --users "$2" --loglevel error >/dev/null 2>/dev/null || true
  report=$(cat time.txt)
  local kib seconds
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' <<<"$report")
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' <<<"$report" |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  echo "$1 $(($(wc -l < "$2") - 1)) $kib $seconds"
}
one_column() { # 7,600,000 one-column rows u0 ... and, with "dup", u0 again at the end
  python3 - "$1" <<'PY'
import sys
out = sys.stdout
out.write("sub\n")
for n in range(7_600_000):
    out.write(f"u{n}\n")
if sys.argv[1] == "dup":
    out.write("u0\n")
PY
}
check() { # check <name> <users file> <key>: "name users peak_kib seconds", exit 1 expected
  local report
  /usr/bin/time -v -o time.txt "$bin" create-qscloud --issuer i --keyid k --expires 60m \
    --cert-privatekey-file "$3" --users "$2" --loglevel error >/dev/null 2>/dev/null || true
  report=$(cat time.txt)
  local kib seconds
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' <<<"$report")
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' <<<"$report" |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  echo "$1 $(($(wc -l < "$2") - 1)) $kib $seconds"
}
{
  one_column dup > dup.csv
  for run in 1 2 3; do check dup64mib dup.csv key2048.pem; done
  rm -f dup.csv
  one_column valid > valid.csv
  for run in 1 2 3; do check valid64mib valid.csv no-such-key.pem; done
  rm -f valid.csv
} > "$out/check.txt"
{
  big_users 1000000 > users1m.csv
  scale users1m users1m.csv
  rm -f users1m.csv
  short_rows > short.csv
  scale short64mib short.csv
  rm -f short.csv
  if [ "${HUGE:-0}" = 1 ]; then
    big_users 10000000 > users10m.csv
    scale users10m users10m.csv
    rm -f users10m.csv
  fi
} > "$out/scale.txt"

python3 - "$out" "$users" "$cores" <<'EOF'
import json, sys
out, users, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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

speed = {}
for line in open(f"{out}/openssl-speed.txt"):
    bits, per_second = line.split()
    speed[bits] = float(per_second)
loops = {}
for line in open(f"{out}/loop.txt"):
    key, count, start, end = line.split()
    loops["4096" if key == "key.pem" else "2048"] = (int(count), float(end) - float(start))
batch = {r["command"]: r for r in json.load(open(f"{out}/batch.json"))["results"]}
print(f"\n--users, {users} users, {cores} cores")
print(f"{'key':<9} {'median':>8} {'tokens/s':>9} {'openssl -multi sign/s':>22} {'ratio':>6} {'shell loop':>11} {'speed-up':>9}")
for bits in ["4096", "2048"]:
    median = batch[f"users{bits}"]["median"]
    rate = users / median
    limit = speed.get(bits, float("nan"))
    loop = ""
    speedup = ""
    if bits in loops:
        count, seconds = loops[bits]
        loop = f"{seconds:.1f} s"
        speedup = f"{seconds / median:.1f}x"
    print(f"{bits + '-bit':<9} {median:>6.2f} s {rate:>9.0f} {limit:>22.0f} {rate / limit:>6.2f} {loop:>11} {speedup:>9}")
print(f"ratio = tokens a second / openssl's signatures a second (target: at least 0.9)")
print(f"peak memory, --users with 100,000 users: {memory['users100k'][0]:.1f} MiB (target: under 64)")
print(f"\n--users at scale, 2048-bit key, {cores} cores")
targets = {"users1m": "at most 64 MiB", "short64mib": "refused within 160 MiB", "users10m": "bounded"}
for line in open(f"{out}/scale.txt"):
    name, rows, kib, seconds = line.split()
    rows, mib, seconds = int(rows), int(kib) / 1024, float(seconds)
    rate = ""
    if name != "short64mib":
        tokens = rows / seconds
        rate = f", {tokens:.0f} tokens/s ({tokens / speed.get('2048', float('nan')):.2f} of openssl -multi)"
    print(f"{name:<11} {rows:>9} rows: peak {mib:.1f} MiB ({targets[name]}), {seconds:.1f} s{rate}")
print(f"\n--users, the checking pass (issue 31), 3 runs each: min / median wall time, peak memory")
runs = {}
for line in open(f"{out}/check.txt"):
    name, rows, kib, seconds = line.split()
    runs.setdefault(name, []).append((float(seconds), int(kib) / 1024, int(rows)))
reference = {
    "dup64mib": "refused; 642aa5c: 4.9 to 5.4 s, 1,762 MiB; 62db7ff: 27.1 to 27.8 s, 64 MiB",
    "valid64mib": "checked, stopped at the missing key",
}
for name, results in runs.items():
    times = sorted(t for t, _, _ in results)
    peak = max(m for _, m, _ in results)
    print(f"{name:<11} {results[0][2]:>9} rows: {times[0]:.1f} / {times[len(times) // 2]:.1f} s, "
          f"peak {peak:.1f} MiB ({reference[name]})")
try:
    results = {r["command"]: r for r in json.load(open(f"{out}/static.json"))["results"]}
except FileNotFoundError:
    sys.exit(0)
static, glibc = results["static"]["median"], results["glibc"]["median"]
print(f"\nsign, static (musl) {static * 1000:.2f} ms, glibc {glibc * 1000:.2f} ms: "
      f"ratio {static / glibc:.2f} (below 1: the static build is faster)")
EOF

serve_bench
