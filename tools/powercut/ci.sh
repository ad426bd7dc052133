#!/usr/bin/env bash
# The CI stage of the power-loss test: makes sure FUSE can be mounted, builds the harness, and
# runs it against the debug binary that `cargo test` has already built. Fails (never skips) when
# FUSE is unavailable.
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir="${CARGO_TARGET_DIR:-target}"
binary="$target_dir/debug/tailledger"

if [[ ! -x "$binary" ]]; then
    echo "powercut: $binary is missing; run \`cargo test\` or \`cargo build\` first" >&2
    exit 2
fi
# A machine where the fuse module is built in or loadable but the device node was not created
# (some containers): load it and create the node. Anything else is reported by the harness.
if [[ ! -e /dev/fuse ]]; then
    modprobe fuse 2>/dev/null || true
    if grep -qw fuse /proc/filesystems 2>/dev/null; then
        mknod -m 0666 /dev/fuse c 10 229 || true
    fi
fi
if [[ ! -e /dev/fuse ]]; then
    echo "powercut: FAILED: /dev/fuse is missing and cannot be created; the power-loss test cannot run here" >&2
    exit 2
fi

cargo build -p powercut
# Bounded: the run takes about two minutes here; the timeout only stops a hang.
timeout 900 "$target_dir/debug/powercut" --binary "$binary" all
