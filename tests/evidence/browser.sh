#!/usr/bin/env bash
# The evidence pack in a real browser (docs/reference/ledger.md#evidence-pack): the demo writes its
# pack with the debug binary `cargo test` built, headless Chromium renders its index.html, and
# tests/evidence/dom.py checks the DOM Chromium dumps: every check's timeline bar with its
# intervals, the offboarding table and the signed checkpoint. `sha256sum -c` checks the
# manifest, and the pack's own scripts its checkpoint. With --screenshot
# FILE it also writes a screenshot of the page (docs/evidence-pack.png was made so). Chromium is
# Debian's `chromium` package; .ci/run installs it when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="${CARGO_TARGET_DIR:-target}"
binary="$target_dir/debug/tailledger"
if [[ ! -x "$binary" ]]; then
    echo "evidence browser: $binary is missing; run \`cargo build\` first" >&2
    exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

timeout 180 "$binary" demo --no-serve --data-dir "$tmp/demo" >"$tmp/demo.log" 2>&1 || {
    echo "evidence browser FAILED: the demo did not run" >&2
    tail -n 20 "$tmp/demo.log" >&2
    exit 1
}
pack="$tmp/demo/evidence"
(cd "$pack" && sha256sum --quiet -c MANIFEST.sha256)
# The pack's checkpoint, by its own scripts, with the key the demo printed.
key="$(sed -n 's/^key: *\([^ ]*\) .*/\1/p' "$tmp/demo.log")"
python3 "$pack/verify_checkpoint.py" "$pack/checkpoint.txt" "$key"
python3 "$pack/check_proof.py" export "$pack/checkpoint.txt" "$pack/ledger.jsonl" "$pack/consistency_proof.json"

# The page holds no script (dom.py checks it), so what Chromium renders is what a reader with
# scripts off sees; scripts stay on for Chromium itself, whose --dump-dom serialises the DOM
# with one. --no-sandbox because CI runs as root.
chrome=(chromium --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile")
timeout 120 "${chrome[@]}" --dump-dom "file://$pack/index.html" >"$tmp/dom.html" 2>"$tmp/chromium.log" || {
    echo "evidence browser FAILED: chromium did not render the page" >&2
    tail -n 20 "$tmp/chromium.log" >&2
    exit 1
}
python3 tests/evidence/dom.py "$tmp/dom.html"

if [[ "${1:-}" == "--screenshot" ]]; then
    timeout 120 "${chrome[@]}" --hide-scrollbars --window-size=1280,2150 \
        --screenshot="$2" "file://$pack/index.html" 2>>"$tmp/chromium.log"
    echo "evidence browser: screenshot written to $2"
fi
