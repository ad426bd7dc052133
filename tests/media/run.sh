#!/usr/bin/env bash
# Offline reads on read-only media (docs/reference/time-and-durability.md#offline-reads): a copy of
# a ledger on a read-only filesystem is verified and exported without writing to it. Needs root to
# mount a tmpfs; CI runs as root. Runs the debug binary that `cargo test` has built.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${TAILLEDGER_BIN:-target/debug/tailledger}
[ -x "$bin" ] || { echo "media: $bin is missing; run cargo test first" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
  echo "media: FAILED: mounting a read-only filesystem needs root" >&2
  exit 1
fi
work=$(mktemp -d)
media="$work/media"
mkdir "$media"
cleanup() { umount "$media" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mount -t tmpfs -o size=16m tmpfs "$media" || { echo "media: FAILED: cannot mount a tmpfs" >&2; exit 1; }
cp -a tests/ledgers/v0.1 "$media/ledger"
mount -o remount,ro "$media"
if touch "$media/ledger/probe" 2>/dev/null; then
  echo "media: FAILED: the filesystem is not read-only" >&2
  exit 1
fi
before=$(cd "$media" && find . -type f -exec sha256sum {} + | sort)
"$bin" verify --data-dir "$media/ledger"
"$bin" export --data-dir "$media/ledger" --out "$work/ledger.jsonl"
"$bin" verify-export "$work/ledger.jsonl"
after=$(cd "$media" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || { echo "media: FAILED: the read-only ledger changed" >&2; exit 1; }
echo "media: 1 passed, 0 failed: verify and export of a ledger on read-only media"
