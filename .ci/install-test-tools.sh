#!/usr/bin/env bash
# Installs the programs the tests run when they are missing: bash, zsh and fish
# (tests/it/completions.rs drives them on the completion scripts qs-jwt prints), jq and openssl
# (tests/it/examples.rs runs the README's and docs' examples, which use them; passphrase.rs,
# setup.rs and streams.rs run openssl too), ssh-keygen and puttygen (tests/it/keys.rs runs the
# commands qs-jwt gives for SSH and PuTTY keys), strace (tests/it/interrupted.rs kills
# --cert-create at each rename and unlink with its fault injection), curl (tests/it/login.rs
# reads a cookie jar with it; examples.rs asks docs/serve.md's server with it), python3 (oauth.rs,
# streams.rs, examples.rs), chattr (hardening.rs) and chromium (serve.rs drives a headless browser
# on a page that asks serve for a token); then the engine session clients' libraries
# (tests/it/engine.rs runs examples/engine-session.py and .js): Python's websockets (pip) and
# Node's enigma.js and ws (npm, into target/node-tools).
# Without them `cargo test` skips those tests and lists them at its end; under CI=true a missing
# tool fails its test (tests/it/common/skip.rs). Quiet and idempotent; Debian and Ubuntu only
# (apt-get), as on the Linux CI runner. Runs apt-get with sudo when not root.
set -euo pipefail

missing=()
for shell in bash zsh fish jq openssl strace curl python3 chromium; do
    command -v "$shell" >/dev/null 2>&1 || missing+=("$shell")
done
# Programs whose package has another name.
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v puttygen >/dev/null 2>&1 || missing+=(putty-tools)
command -v chattr >/dev/null 2>&1 || missing+=(e2fsprogs)

# The engine session clients' libraries, whatever else is installed.
install_client_libraries() {
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import websockets' 2>/dev/null; then
        python3 -m pip install -q websockets >/dev/null 2>&1 ||
            python3 -m pip install -q --break-system-packages websockets >/dev/null ||
            { echo "error: pip could not install websockets" >&2; exit 1; }
    fi
    if ! command -v node >/dev/null 2>&1; then
        missing+=(nodejs npm)
    elif [ ! -d "$here/target/node-tools/node_modules/enigma.js" ] ||
        [ ! -d "$here/target/node-tools/node_modules/ws" ]; then
        mkdir -p "$here/target/node-tools"
        (cd "$here/target/node-tools" && npm install --silent --no-audit --no-fund enigma.js ws >/dev/null) ||
            { echo "error: npm could not install enigma.js and ws into target/node-tools" >&2; exit 1; }
    fi
}
install_client_libraries

[ ${#missing[@]} -eq 0 ] && exit 0

# Debian's chromium is a package; Ubuntu's is a snap, which a CI runner does not run. There the
# Chrome the runner has (google-chrome, the same engine) is linked as chromium.
if [[ " ${missing[*]} " == *" chromium "* ]] && ! apt-cache show chromium >/dev/null 2>&1; then
    chrome=$(command -v google-chrome || command -v google-chrome-stable || true)
    if [ -n "$chrome" ]; then
        sudo_ln=()
        [ "$(id -u)" -eq 0 ] || sudo_ln=(sudo)
        "${sudo_ln[@]}" ln -sf "$chrome" /usr/local/bin/chromium
        missing=("${missing[@]/chromium/}")
        read -r -a missing <<<"${missing[*]}"
        [ ${#missing[@]} -eq 0 ] && exit 0
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} not installed and apt-get not found; install them, or run cargo test without CI=true to skip the tests that need them" >&2
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
        e2fsprogs) shell=chattr ;;
        nodejs) shell=node ;;
    esac
    command -v "$shell" >/dev/null 2>&1 || {
        echo "error: $shell is still not on PATH after apt-get install" >&2
        exit 1
    }
done
# Node came with apt-get just now: its modules too.
install_client_libraries
