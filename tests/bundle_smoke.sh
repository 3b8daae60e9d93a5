#!/usr/bin/env bash
# Bundle smoke test (issue 9): `deno bundle` mod.ts, code-split as `deno task bundle` and
# `deno task compile` do (issue 18: mod.js plus lazily imported chunks), then run it from an empty
# DENO_DIR, with no config file next to it and no network (a fresh network namespace when
# `unshare -n` is available; always with --no-remote --no-npm --cached-only).
# Proves the code is compile-ready: static specifiers, JSON via import attributes, no runtime reads
# of files beside the source.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/aphex-bundle.XXXXXX)
trap 'rm -rf "$work"' EXIT

deno bundle --quiet --platform deno --code-splitting --outdir "$work/bundle" "$root/mod.ts"
echo "bundle: $(cat "$work/bundle/"*.js | wc -c) bytes in $(ls "$work/bundle" | wc -l) files, entry $(wc -c <"$work/bundle/mod.js") bytes"

mkdir -p "$work/deno-dir" "$work/repo"
cp "$root/aphex-config.yaml" "$work/repo/"
isolate=()
if unshare -n true 2>/dev/null; then isolate=(unshare -n); else echo "note: unshare -n unavailable; relying on --no-remote/--no-npm"; fi

aphex() {
  (cd "$work/repo" && DENO_DIR="$work/deno-dir" "${isolate[@]}" deno run --quiet --no-config --no-lock \
    --no-remote --no-npm --cached-only --allow-read --allow-write --allow-env "$work/bundle/mod.js" "$@")
}

aphex --version | grep -E '^aphex [0-9]+\.[0-9]+\.[0-9]+$'
aphex validate --skip-paths | grep -F 'aphex-config.yaml: valid (3 environments, 6 stacks)'
aphex generate --out manifests
cmp -s <(cat "$work/repo/manifests/"*.yaml) <(cat "$root/manifests/"*.yaml) \
  || { echo "generate from the bundle differs from the committed manifests"; exit 1; }
payload="$root/tests/fixtures/webhooks/push.drone.branch-commit.json"
aphex event parse --file "$payload" --event push | grep -F '"commitSha"'
for command in build deploy test pipeline-update apply report; do
  aphex "$command" --help | grep "^Usage: aphex $command \[options\]" >/dev/null
done
echo "bundle smoke test: ok"
