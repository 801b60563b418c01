#!/usr/bin/env bash
# Runs every goldenpath test on a fresh machine of this kind.
#
# Installs what the tests need when it is missing (PostgreSQL server
# binaries, BIND and its tools, Python's venv, Node.js, Chromium and its
# WebDriver; needs root or sudo;
# moto's server and boto3 in .venv from PyPI; Backstage's catalog model in
# tests/backstage from npm), then runs formatting, lint, the
# build without the AWS SDK, and the whole test suite. The tests start their own throwaway servers;
# nothing has to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL, BIND, git, Python's venv, moto, Node.js with Backstage's catalog
# model (installed when missing);
# terraform required.
source scripts/prereqs.sh
prereqs_aws
prereqs_node
prereqs_browser

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The binary also builds without the AWS SDK (`--no-default-features`).
cargo check --locked -p goldenpath --no-default-features
cargo test --workspace --locked
# The repository passes its own docs-as-code gate.
cargo run --quiet --locked -p goldenpath -- docs check
