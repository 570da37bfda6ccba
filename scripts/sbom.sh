#!/usr/bin/env bash
# The SBOM of the release binary for one target: CycloneDX 1.5 JSON listing every crate compiled
# into it, with versions, licenses and hashes (the release workflow puts it in each archive and
# beside it).
#
# Usage: scripts/sbom.sh <target> <output file>     (needs cargo-cyclonedx and python3)
#
# cargo-cyclonedx (0.5) reads `cargo metadata`, whose resolve lists more than the binary holds:
# crates behind a weak feature that is never turned on (ring, through rustls-webpki's
# "ring?/alloc", rust-lang/cargo#10801) and crates that only the dev-dependencies' features pull
# in. This keeps the components that `cargo tree -e normal --target <target>` (cargo's own
# feature resolution, no dev- or build-dependencies) says are compiled in, and fails if
# cargo-cyclonedx lacks one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/sbom.sh <target> <output file>}
output=${2:?usage: scripts/sbom.sh <target> <output file>}
python=$(command -v python3 || command -v python)

work=$(mktemp -d)
trap 'rm -rf "$work" qs-jwt_bin.cdx.json' EXIT
cargo cyclonedx --format json --spec-version 1.5 --target "$target" --describe binaries \
  --no-build-deps --quiet
cargo tree --locked -e normal --target "$target" --prefix none --format '{p}' |
  sed -e 's/ (.*//' -e 's/ v/@/' | sort -u >"$work/built.txt"

"$python" - qs-jwt_bin.cdx.json "$work/built.txt" "$output" <<'EOF'
import json, sys
sbom_path, built_path, out_path = sys.argv[1:]
sbom = json.load(open(sbom_path, encoding="utf-8"))
built = {line.strip() for line in open(built_path, encoding="utf-8") if line.strip()}
root = sbom["metadata"]["component"]
built.discard(f"{root['name']}@{root['version']}")

def ident(component):
    return f"{component['name']}@{component['version']}"

kept = [c for c in sbom["components"] if ident(c) in built]
dropped = sorted(ident(c) for c in sbom["components"] if ident(c) not in built)
missing = sorted(built - {ident(c) for c in kept})
if missing:
    sys.exit(f"sbom.sh: cargo-cyclonedx left out crates cargo builds: {', '.join(missing)}")
refs = {c["bom-ref"] for c in kept} | {root["bom-ref"]}
for sub in root.get("components", []):
    refs.add(sub["bom-ref"])
sbom["components"] = kept
sbom["dependencies"] = [
    {**d, "dependsOn": [r for r in d.get("dependsOn", []) if r in refs]}
    for d in sbom.get("dependencies", [])
    if d["ref"] in refs
]
with open(out_path, "w", encoding="utf-8") as out:
    json.dump(sbom, out, indent=2)
    out.write("\n")
print(f"sbom.sh: {out_path}: {len(kept)} crates; left out, not built: {', '.join(dropped) or 'none'}",
      file=sys.stderr)
EOF
