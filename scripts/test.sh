#!/usr/bin/env bash
# Runs every goldenpath test on a fresh machine of this kind.
#
# Installs what the tests need when it is missing (PostgreSQL server
# binaries, BIND and its tools; needs root or sudo), then runs formatting,
# lint and the whole test suite. The tests start their own throwaway servers;
# nothing has to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have_pg() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
have_pg || need_pkgs+=(postgresql)
command -v named >/dev/null 2>&1 || need_pkgs+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need_pkgs+=(bind9-dnsutils)
command -v named-checkzone >/dev/null 2>&1 || need_pkgs+=(bind9-utils)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_pkgs[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  # The postgresql package starts a cluster of its own; the tests never use it.
  if [ -x /usr/sbin/service ] && [[ " ${need_pkgs[*]} " == *" postgresql "* ]]; then
    $SUDO service postgresql stop >/dev/null 2>&1 || true
  fi
fi

if ! command -v terraform >/dev/null 2>&1 && ! command -v tofu >/dev/null 2>&1; then
  echo "test.sh: the terraform (or tofu) CLI is needed on PATH" >&2
  exit 1
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
