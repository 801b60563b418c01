#!/usr/bin/env bash
# The main job on the local example: builds goldenpath and runs it against
# examples/local on the embedded defaults, in a scratch copy so the
# repository stays clean. Set KEEP=1 to keep the scratch directory.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -p goldenpath >&2
gp="${CARGO_TARGET_DIR:-$repo/target}/release/goldenpath"

work="$(mktemp -d -t goldenpath-demo-XXXXXX)"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi
"$gp" init --example local "$work/platform" 2>/dev/null
cd "$work/platform"

step() { printf '\n\033[1m$ goldenpath %s\033[0m\n' "$*"; "$gp" "$@"; }

step validate
step contract --env dev
step contract --env dev --build-id 23-01-26-01
