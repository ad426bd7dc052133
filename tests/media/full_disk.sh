#!/usr/bin/env bash
# A full disk under `serve` (docs/reference/time-and-durability.md#append-failure):
# tests/full_disk.rs on a small tmpfs mounted here. Needs root to mount; CI runs as root. Fails
# loudly when it cannot mount.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "full disk: FAILED: mounting a small filesystem needs root" >&2
  exit 1
fi
mountpoint=$(mktemp -d)
cleanup() { umount "$mountpoint" 2>/dev/null || true; rmdir "$mountpoint"; }
trap cleanup EXIT
mount -t tmpfs -o size=8m,mode=0700 tmpfs "$mountpoint" \
  || { echo "full disk: FAILED: cannot mount a tmpfs" >&2; exit 1; }
TAILLEDGER_FULL_DISK_DIR="$mountpoint" timeout 600 cargo test --test full_disk -- --nocapture
