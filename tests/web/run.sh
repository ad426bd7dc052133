#!/usr/bin/env bash
# The web console in a real browser (tests/web/console.py): the demo serves its ledger with the
# debug binary `cargo test` built, and Playwright for Python drives Debian's headless Chromium
# (/usr/bin/chromium; no browser is downloaded) through it as an admin, a reviewer and an auditor.
# Playwright lives in a virtual environment in the target directory (.ci/run installs it, and
# Chromium, when missing). Without them the test says SKIPPED and passes, unless CI is set.
# `--screenshots DIR` also writes DIR/web-overview.png and DIR/web-review.png (docs/ holds them).
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="${CARGO_TARGET_DIR:-target}"
binary="$target_dir/debug/tailledger"
venv="$target_dir/web-venv"
if [[ ! -x "$binary" ]]; then
    echo "web console: $binary is missing; run \`cargo build\` first" >&2
    exit 2
fi
missing=""
[[ -x /usr/bin/chromium ]] || missing="Debian's chromium (apt-get install chromium)"
"$venv/bin/python" -c 'import playwright' 2>/dev/null ||
    missing="${missing:+$missing and }Playwright for Python in $venv (python3 -m venv $venv && $venv/bin/pip install playwright==1.65.3)"
if [[ -n "$missing" ]]; then
    echo "SKIPPED: the web console browser test needs $missing" >&2
    [[ -z "${CI:-}" ]] || exit 1
    exit 0
fi

tmp="$(mktemp -d)"
server_pid=""
# shellcheck disable=SC2317  # Only the trap calls it.
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill -INT "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
timeout --signal=INT --kill-after=20 300 \
    "$binary" demo --listen "127.0.0.1:$port" --data-dir "$tmp/ledger" >"$tmp/server.log" 2>&1 &
server_pid=$!
# The demo prints the console's address once it serves; waited for with a deadline.
if ! timeout 180 bash -c "until grep -q 'sign in with demo-admin' '$tmp/server.log'; do
        kill -0 $server_pid 2>/dev/null || exit 1; sleep 0.2; done"; then
    echo "web console FAILED: the demo never served its console" >&2
    tail -n 20 "$tmp/server.log" >&2
    exit 1
fi
url="$(grep -oE 'http://127\.0\.0\.1:[0-9]+/ +sign in' "$tmp/server.log" | head -n 1 | cut -d/ -f1-3)"
timeout 240 "$venv/bin/python" tests/web/console.py "$url" "127.0.0.1:$port" "$binary" "$@"
