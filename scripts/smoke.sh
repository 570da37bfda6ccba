#!/usr/bin/env bash
# A smoke suite for one built qs-jwt binary, run the way a user runs it: the three key modes of
# both create commands, key files with Windows line ends and a byte order mark, QSJWTPRIVKEY,
# decode with the certificate, --output json, and the exit codes and messages of the main
# errors. Every token is verified independently with openssl (and with SMOKE_VERIFIER when
# set: a qs-jwt built for this machine, whose decode must accept it).
#
# Usage: scripts/smoke.sh <binary>
#   SMOKE_RUNNER   a program to run the binary with, such as Wine's wine64 (empty: run it)
#   SMOKE_VERIFIER a native qs-jwt whose `decode --cert-publickey-file` checks each token
#   SMOKE_SHOW_ACL a program printing a file's DACL in SDDL (scripts/wine/show-acl.c)
#
# A binary whose name ends in .exe is a Windows one: then the suite also gives it Windows paths
# (backslashes, a drive letter, a prefix with a folder), converted with winepath under Wine or
# cygpath in Git for Windows' bash, and checks that a new private key is not open to Everyone.
# The same script runs under Wine here (scripts/windows-smoke.sh), natively on the GitHub
# Windows job, and against the static Linux build (.ci/run). Ends with "N passed, N failed".
set -uo pipefail

bin=${1:?usage: scripts/smoke.sh <qs-jwt binary>}
case $bin in /*) ;; [A-Za-z]:*) ;; *) bin=$PWD/$bin ;; esac
read -r -a runner <<<"${SMOKE_RUNNER:-}"
windows=false
[[ $bin == *.exe ]] && windows=true
# Git for Windows' bash rewrites arguments that look like Unix paths; the suite converts the
# paths it means to give as Windows paths itself.
export MSYS2_ARG_CONV_EXCL='*'
unset QSJWTPRIVKEY NO_COLOR RUST_LOG

command -v openssl >/dev/null || { echo "smoke.sh needs openssl" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
not_ok() {
  failed=$((failed + 1))
  echo "FAIL $1: $2"
  [ -s stderr.txt ] && sed 's/^/     stderr: /' stderr.txt | head -5
}

# qs <args...>: runs the binary; stdout in stdout.txt, stderr in stderr.txt, exit code in $code.
qs() {
  "${runner[@]}" "$bin" "$@" >stdout.txt 2>stderr.txt
  code=$?
}

# A Windows path for a file or folder here (Z:\... under Wine, C:\... or D:\... on Windows).
winpath() {
  local path=$work/$1
  if command -v cygpath >/dev/null; then
    cygpath -w "$path"
  else
    "${runner[@]}" winepath -w "$path" 2>/dev/null | tr -d '\r'
  fi
}

b64url_decode() {
  local s
  s=$(printf '%s' "$1" | tr '_-' '/+')
  while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | openssl base64 -d -A
}

# verify <token> <public key or certificate (PEM)>: RS256 checked by openssl, and by the
# native qs-jwt's decode when there is one.
verify() {
  local token=$1 key=$2
  if grep -q 'BEGIN CERTIFICATE' "$key"; then
    openssl x509 -in "$key" -pubkey -noout >verify-key.pem || return 1
  else
    cp "$key" verify-key.pem
  fi
  printf '%s' "${token%.*}" >signed.txt
  b64url_decode "${token##*.}" >signature.bin
  openssl dgst -sha256 -verify verify-key.pem -signature signature.bin signed.txt >/dev/null ||
    return 1
  if [ -n "${SMOKE_VERIFIER:-}" ]; then
    "$SMOKE_VERIFIER" decode --jwt "$token" --cert-publickey-file "$key" --minimal-output \
      >/dev/null 2>&1 || return 1
  fi
}

payload() { local token=$1 rest; rest=${token#*.}; b64url_decode "${rest%%.*}"; }

# expect_token <name> <public key> <payload text that must appear>: the last run printed one
# token and a newline (no carriage return), exited 0, and the token verifies with the key.
expect_token() {
  local name=$1 key=$2 claim=$3 token
  if [ "$code" -ne 0 ]; then not_ok "$name" "exit $code"; return; fi
  if [ "$(wc -l <stdout.txt | tr -d ' ')" != 1 ] || grep -q $'\r' stdout.txt; then
    not_ok "$name" "stdout is not one line ending in LF: $(od -c stdout.txt | tail -3)"
    return
  fi
  token=$(cat stdout.txt)
  if ! verify "$token" "$key"; then not_ok "$name" "the token does not verify"; return; fi
  if ! payload "$token" | grep -qF "$claim"; then
    not_ok "$name" "payload lacks $claim: $(payload "$token")"
    return
  fi
  ok "$name"
  printf '%s' "$token" >last-token.txt
}

# expect_error <name> <exit code> <text in stderr>: nothing on stdout, one error line.
expect_error() {
  local name=$1 want=$2 text=$3
  if [ "$code" -ne "$want" ]; then not_ok "$name" "exit $code, not $want"; return; fi
  if [ -s stdout.txt ]; then not_ok "$name" "stdout not empty: $(head -c 200 stdout.txt)"; return; fi
  if ! grep -qF -- "$text" stderr.txt; then not_ok "$name" "stderr lacks '$text'"; return; fi
  if grep -qiE 'panicked|RUST_BACKTRACE' stderr.txt; then not_ok "$name" "panicked"; return; fi
  ok "$name"
}

hash_of() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }

qseow=(create-qseow --userdir GRUSGRUS --userid anna --audience hdJh34wkK --username "Anna Anderson"
  --groups group1 "group 2" --expires 60m)
qscloud=(create-qscloud --issuer mytenant.eu.qlikcloud.com --keyid my-key-id --sub anna
  --username "Anna Anderson" --useremail anna@example.com --useremail-verified true --expires 60m)

echo "smoke: ${runner[*]:+${runner[*]} }$bin" >&2

qs --version
if [ "$code" -eq 0 ] && grep -q '^qs-jwt ' stdout.txt; then ok "--version"; else not_ok "--version" "exit $code"; fi

# --- a new key: --cert-create, both commands, a prefix with a folder ------------------------
mkdir keys
qs "${qscloud[@]}" --cert-create true --cert-create-expires-days 30 --cert-file-prefix keys/qsjwt_
expect_token "create-qscloud --cert-create, prefix keys/qsjwt_" keys/qsjwt_publickey.pem '"sub":"anna"'
for f in privatekey.pem publickey.pem publickey.cer; do
  [ -s "keys/qsjwt_$f" ] || not_ok "--cert-create wrote keys/qsjwt_$f" "missing"
done
key=keys/qsjwt_privatekey.pem
cer=keys/qsjwt_publickey.cer
pub=keys/qsjwt_publickey.pem

mkdir other
qs "${qseow[@]}" --cert-create --cert-create-expires-days 1 --cert-file-prefix other/
expect_token "create-qseow --cert-create (bare flag), prefix other/" other/publickey.cer '"userDirectory":"GRUSGRUS"'

# --- the three key modes of both commands ---------------------------------------------------
qs "${qseow[@]}" --cert-privatekey-file "$key"
expect_token "create-qseow --cert-privatekey-file" "$cer" '"group":["group1","group 2"]'
qs "${qscloud[@]}" --cert-privatekey-file "$key"
expect_token "create-qscloud --cert-privatekey-file" "$cer" '"aud":"qlik.api/login/jwt-session"'
qs "${qseow[@]}" --cert-privatekey "$(cat "$key")"
expect_token "create-qseow --cert-privatekey <pem>" "$cer" '"userId":"anna"'
qs "${qscloud[@]}" --cert-privatekey "$(cat "$key")"
expect_token "create-qscloud --cert-privatekey <pem>" "$cer" '"iss":"mytenant.eu.qlikcloud.com"'
QSJWTPRIVKEY=$(cat "$key") qs "${qseow[@]}"
expect_token "create-qseow with QSJWTPRIVKEY" "$cer" '"aud":"hdJh34wkK"'
QSJWTPRIVKEY=$(cat "$key") qs "${qscloud[@]}"
expect_token "create-qscloud with QSJWTPRIVKEY" "$cer" '"email_verified":true'
"${runner[@]}" "$bin" "${qseow[@]}" --cert-privatekey-file - <"$key" >stdout.txt 2>stderr.txt
code=$?
expect_token "create-qseow --cert-privatekey-file - (standard input)" "$cer" '"userId":"anna"'

# --- key files as Windows editors and PowerShell write them ---------------------------------
sed 's/$/\r/' "$key" >crlf.pem
qs "${qseow[@]}" --cert-privatekey-file crlf.pem
expect_token "a key file with CRLF line ends" "$cer" '"userId":"anna"'
{ printf '\357\273\277'; cat crlf.pem; } >bom.pem
qs "${qscloud[@]}" --cert-privatekey-file bom.pem
expect_token "a key file with a byte order mark and CRLF" "$cer" '"sub":"anna"'
QSJWTPRIVKEY=$(tr '\n' ' ' <"$key") qs "${qseow[@]}"
expect_token "QSJWTPRIVKEY with line breaks turned into spaces" "$cer" '"userId":"anna"'

# --- Windows paths --------------------------------------------------------------------------
if $windows; then
  qs "${qseow[@]}" --cert-privatekey-file 'keys\qsjwt_privatekey.pem'
  expect_token 'a relative path with a backslash (keys\qsjwt_privatekey.pem)' "$cer" '"userId":"anna"'
  drive_key=$(winpath "$key")
  qs "${qscloud[@]}" --cert-privatekey-file "$drive_key"
  case $drive_key in
    [A-Za-z]:\\*) expect_token "an absolute path with a drive letter ($drive_key)" "$cer" '"sub":"anna"' ;;
    *) not_ok "a drive-letter path" "no Windows path for $key: '$drive_key'" ;;
  esac
  mkdir 'win keys'
  qs "${qseow[@]}" --cert-create true --cert-create-expires-days 30 \
    --cert-file-prefix "$(winpath 'win keys')\\run_"
  expect_token "--cert-create with a prefix 'X:\\...\\win keys\\run_'" 'win keys/run_publickey.cer' '"userId":"anna"'
  qs "${qseow[@]}" --cert-create true --cert-create-expires-days 30 --cert-file-prefix 'win keys'
  expect_token "--cert-file-prefix 'win keys' (a folder) puts the files into it" 'win keys/publickey.cer' '"userId":"anna"'
  qs "${qseow[@]}" --cert-privatekey-file 'win keys\run_privatekey.pem'
  expect_token 'signing with win keys\run_privatekey.pem' 'win keys/run_publickey.pem' '"userId":"anna"'
fi

# --- decode with the certificate, --output json ---------------------------------------------
qs "${qscloud[@]}" --cert-privatekey-file "$key"
cp stdout.txt token.txt
qs decode --jwt-file token.txt --cert-publickey-file "$cer" --check qscloud
if [ "$code" -eq 0 ] && grep -q 'valid' stdout.txt && grep -q 'Check qscloud: passed' stdout.txt; then
  ok "decode --cert-publickey-file <.cer> --check qscloud"
else
  not_ok "decode with the .cer" "exit $code: $(head -c 300 stdout.txt)"
fi
qs decode --jwt-file token.txt --cert-publickey-file "$cer" --minimal-output
if [ "$code" -eq 0 ] && grep -q '"integrity": *true' stdout.txt; then
  ok "decode --minimal-output (JSON)"
else
  not_ok "decode --minimal-output" "exit $code: $(head -c 300 stdout.txt)"
fi
qs decode --jwt-file token.txt --cert-publickey-file other/publickey.cer
# decode still prints its report (which says why) on stdout.
if [ "$code" -eq 1 ] && grep -q 'signature does not match' stderr.txt; then
  ok "decode with another key's certificate: exit 1, the signature does not match"
else
  not_ok "decode with another key's certificate" "exit $code"
fi

qs "${qseow[@]}" --cert-privatekey-file "$key" --output json
json_token=$(sed -n 's/^{"token":"\([^"]*\)".*/\1/p' stdout.txt)
if [ "$code" -eq 0 ] && [ "$(wc -l <stdout.txt | tr -d ' ')" = 1 ] &&
  grep -q '"expiresAt":"' stdout.txt && [ -n "$json_token" ] && verify "$json_token" "$cer"; then
  ok "--output json: one line of JSON holding a token that verifies"
else
  not_ok "--output json" "exit $code: $(head -c 300 stdout.txt)"
fi

qs completions powershell
if [ "$code" -eq 0 ] && grep -q 'Register-ArgumentCompleter' stdout.txt; then
  ok "completions powershell"
else
  not_ok "completions powershell" "exit $code"
fi

# --- errors: exit codes and messages --------------------------------------------------------
qs "${qseow[@]}"
expect_error "no key: exit 2" 2 "no signing key"
qs "${qseow[@]}" --cert-privatekey-file missing.pem
expect_error "a key file that does not exist: exit 1" 1 "missing.pem"
qs "${qseow[@]}" --cert-privatekey-file "$pub"
expect_error "a public key given as the private key: exit 1" 1 "holds a public key"
qs "${qseow[@]}" --cert-privatekey-file "$key" --cert-privatekey "$(cat "$key")"
expect_error "two key sources: exit 2" 2 "each give a signing key"
if grep -q 'PRIVATE KEY-----' stderr.txt; then not_ok "two key sources" "the key text is in stderr"; fi
qs "${qseow[@]}" --cert-privatekey-file "$key" --expires 5
expect_error "--expires 5: exit 2" 2 "--expires"
qs "${qseow[@]}" --cert-privatekey-file "$key" --no-such-option
expect_error "an unknown option: exit 2" 2 "--no-such-option"
qs create-qseow --userid anna --audience x --expires 1h --cert-privatekey-file "$key"
expect_error "a missing required option: exit 2" 2 "--userdir"
qs "${qseow[@]}" --cert-create true --cert-create-expires-days 30 --cert-file-prefix nofolder/k_
expect_error "--cert-file-prefix in a folder that does not exist: exit 1" 1 "does not exist"
qs "${qseow[@]}" --cert-create true
expect_error "--cert-create without --cert-create-expires-days: exit 2" 2 "--cert-create-expires-days"

before=$(hash_of "$key")
qs "${qseow[@]}" --cert-create true --cert-create-expires-days 30 --cert-file-prefix keys/qsjwt_
expect_error "key files that exist, without --force: exit 1" 1 "already exist"
[ "$(hash_of "$key")" = "$before" ] || not_ok "key files that exist" "the private key changed"
qs "${qseow[@]}" --cert-create true --cert-create-expires-days 30 --cert-file-prefix keys/qsjwt_ --force
expect_token "--force replaces the key files" keys/qsjwt_publickey.cer '"userId":"anna"'
left=$(find keys -name '*.qs-jwt-old' -o -name '*.tmp')
if [ "$(hash_of "$key")" = "$before" ] || [ -n "$left" ]; then
  not_ok "--force" "the key is the same, or old or temporary files are left: $(ls -a keys)"
fi
echo "not a token" >bad-token.txt
qs decode --jwt-file bad-token.txt
expect_error "decode of a malformed token: exit 1" 1 "error:"
qs login-qseow --server https://127.0.0.1:9/jwt --jwt-file token.txt --timeout 5s
expect_error "login to a server that is not there: exit 1" 1 "error:"
qs login-qseow --server http://127.0.0.1:9/jwt --jwt-file token.txt
expect_error "login over http://: exit 2" 2 "https"

# --- who may read the private key -----------------------------------------------------------
qs "${qseow[@]}" --cert-privatekey-file "$key"
if [ "$code" -eq 0 ] && ! grep -q 'WARN' stderr.txt; then
  ok "no warning for the new private key (owner-only)"
else
  not_ok "owner-only new key" "exit $code, or a warning"
fi
if $windows && [ -n "${SMOKE_SHOW_ACL:-}" ]; then
  "${runner[@]}" "$SMOKE_SHOW_ACL" "$key" "$pub" >acl.txt 2>stderr.txt
  key_acl=$(sed -n 1p acl.txt | tr -d '\r')
  pub_acl=$(sed -n 2p acl.txt | tr -d '\r')
  # WD Everyone, BU Users, AU Authenticated Users: none may read the private key.
  if [[ $key_acl == D:* ]] && ! [[ $key_acl =~ \;(WD|BU|AU)\) ]]; then
    ok "the private key's DACL names no Everyone, Users or Authenticated Users ($key_acl)"
  else
    not_ok "the private key's DACL" "'$key_acl' (public key: '$pub_acl')"
  fi
fi
cp "$key" shared.pem
if $windows && command -v icacls >/dev/null; then
  icacls "$(winpath shared.pem)" /grant '*S-1-1-0:(R)' >/dev/null
else
  chmod 644 shared.pem # Wine makes its access control list from the Unix mode
fi
qs "${qseow[@]}" --cert-privatekey-file shared.pem
if [ "$code" -eq 0 ] && grep -q '^WARN .*shared.pem.* can be read by' stderr.txt; then
  ok "a key file others can read: a warning, and the token ($(grep -o 'can be read by[^;]*' stderr.txt))"
else
  not_ok "a key file others can read" "exit $code, no warning"
fi
if ! $windows && [ "$(uname -s)" = Linux ]; then
  mode=$(stat -c %a "$key")
  if [ "$mode" = 600 ]; then ok "the new private key has mode 600"; else not_ok "mode 600" "mode $mode"; fi
fi

# --- standard output: /dev/null opened read-write is a sink, a closed one a failure ----------
# What Python's subprocess.DEVNULL and service managers give: exit 0. Told apart from a closed
# standard output before Rust's runtime starts (.init_array), which the static build must do too.
if ! $windows; then
  "$bin" "${qseow[@]}" --cert-privatekey-file "$key" 1<>/dev/null 2>stderr.txt
  code=$?
  if [ "$code" -eq 0 ]; then ok "standard output on /dev/null opened read-write: exit 0"; else
    not_ok "1<>/dev/null" "exit $code"; fi
  "$bin" "${qseow[@]}" --cert-privatekey-file "$key" >&- 2>stderr.txt
  code=$?
  if [ "$code" -eq 1 ] && grep -q 'standard output is closed' stderr.txt; then
    ok "a closed standard output: exit 1"
  else
    not_ok ">&-" "exit $code"
  fi
fi

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
