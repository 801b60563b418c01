#!/usr/bin/env bash
# Runs every goldenpath test on a fresh machine of this kind.
#
# Installs what the tests need when it is missing (PostgreSQL server
# binaries, BIND and its tools; needs root or sudo), then runs formatting,
# lint and the whole test suite. The tests start their own throwaway servers;
# nothing has to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL, BIND, git (installed when missing); terraform required.
source scripts/prereqs.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The repository passes its own docs-as-code gate.
cargo run --quiet --locked -p goldenpath -- docs check
