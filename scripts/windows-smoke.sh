#!/usr/bin/env bash
# Cross-builds the Windows release binary (x86_64-pc-windows-gnu, with mingw-w64) and runs the
# smoke suite (scripts/smoke.sh) on it under Wine, each token checked by openssl and by the
# Linux build's decode. Called by .ci/run; also runs alone.
#
# Installs what is missing, quietly: mingw-w64 and wine64 with apt-get (sudo when not root),
# the Rust target with rustup. Builds into target/windows, apart from the other builds, and
# keeps a private Wine prefix in target/wine-smoke (WINEDEBUG=-all, no X display needed), so
# a second run only rebuilds what changed.
#
# Wine 8 (Debian 12) lacks bcryptprimitives.dll, whose ProcessPrng Rust's standard library
# needs since 1.78: a test-only stand-in is built here from scripts/wine/bcryptprimitives.c and
# put beside the .exe. scripts/wine/show-acl.c reads back the access control list of the new
# private key. Neither is shipped; neither is committed as a binary.
#
# What Wine cannot show: Wine keeps no access control list of its own for a file here; it makes
# one from the Unix mode (the new private key's owner-only list becomes mode 750 and reads back
# as the user and SYSTEM, without the protected flag or Administrators). The GitHub Windows job
# reads the real list back with icacls (.github/workflows/ci.yml).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
out=target/wine-smoke
started=$SECONDS

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
apt_install() {
  command -v apt-get >/dev/null || {
    echo "error: $* missing and apt-get not found; install them" >&2
    exit 1
  }
  echo "windows-smoke: installing $* with apt-get" >&2
  local log
  log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "error: could not install $* with apt-get (output above)" >&2
    exit 1
  fi
  rm -f "$log"
}

find_wine() {
  local candidate
  for candidate in wine64 /usr/lib/wine/wine64 wine; do
    if command -v "$candidate" >/dev/null; then
      command -v "$candidate"
      return
    fi
  done
}

missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v x86_64-w64-mingw32-dlltool >/dev/null || missing+=(binutils-mingw-w64-x86-64)
[ -n "$(find_wine)" ] || missing+=(wine64)
command -v openssl >/dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
wine=$(find_wine)

if ! rustc --print target-libdir --target "$target" 2>/dev/null | xargs test -d; then
  rustup target add "$target" >&2
fi

echo "windows-smoke: building qs-jwt.exe ($target, release)" >&2
cargo build --release --locked --quiet --target "$target" --target-dir target/windows
# The native build, whose decode checks each token the .exe makes (cargo test built it).
cargo build --locked --quiet
verifier=$PWD/target/debug/qs-jwt

mkdir -p "$out/bin"
cp "target/windows/$target/release/qs-jwt.exe" "$out/bin/"
x86_64-w64-mingw32-gcc -O2 -shared -s -o "$out/bin/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c -ladvapi32
x86_64-w64-mingw32-gcc -O2 -municode -s -o "$out/bin/show-acl.exe" \
  scripts/wine/show-acl.c -ladvapi32

export WINEPREFIX=$PWD/$out/prefix WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko installer prompts, and no window: nothing here needs a display.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
wineserver=$(dirname "$(readlink -f "$wine")")/wineserver
command -v "$wineserver" >/dev/null || wineserver=wineserver
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "windows-smoke: making the Wine prefix $WINEPREFIX" >&2
  "$wine" wineboot --init >/dev/null 2>&1 || true
fi
# One wineserver for the whole suite (each run of the .exe would otherwise start one), stopped
# at the end.
"$wineserver" -p >/dev/null 2>&1 || true
trap '"$wineserver" -k >/dev/null 2>&1 || true' EXIT
"$wine" "$out/bin/qs-jwt.exe" --version >/dev/null

status=0
SMOKE_RUNNER=$wine SMOKE_VERIFIER=$verifier SMOKE_SHOW_ACL=$PWD/$out/bin/show-acl.exe \
  bash scripts/smoke.sh "$PWD/$out/bin/qs-jwt.exe" || status=$?

# The library's unit tests, built for Windows and run under Wine: the key files, their lock and
# the owner-only access control list as Windows code paths (cfg(windows)).
echo "windows-smoke: the library's unit tests under Wine" >&2
tests=$(cargo test --locked --lib --no-run --target "$target" --target-dir target/windows \
  2>&1 | sed -n 's/^ *Executable unittests src\/lib.rs (\(.*\))$/\1/p')
if [ -z "$tests" ] || [ ! -f "$tests" ]; then
  echo "error: the unit tests for $target were not built" >&2
  exit 1
fi
cp "$out/bin/bcryptprimitives.dll" "$(dirname "$tests")/"
"$wine" "$tests" --quiet || status=$?
echo "windows-smoke: $((SECONDS - started)) s in all (build included)" >&2
exit "$status"
