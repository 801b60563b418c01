#!/usr/bin/env bash
# Installs, when missing, the programs goldenpath's demo and tests run:
# PostgreSQL's server binaries, BIND with its tools, and git, from Debian's
# packages (needs root or sudo, and the package registry). Terraform (or
# OpenTofu) must already be on PATH. Sourced by demo.sh and test.sh.
need_pkgs=()
have_pg() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
have_pg || need_pkgs+=(postgresql)
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need_pkgs+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need_pkgs+=(bind9-dnsutils)
command -v named-checkzone >/dev/null 2>&1 || [ -x /usr/sbin/named-checkzone ] || need_pkgs+=(bind9-utils)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing ${need_pkgs[*]} (apt-get; needs root or sudo)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "cannot install ${need_pkgs[*]}: run as root, or install sudo" >&2
      exit 1
    }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  # The postgresql package starts a cluster of its own; goldenpath never
  # uses it (it creates its own under the state directory).
  if [ -x /usr/sbin/service ] && [[ " ${need_pkgs[*]} " == *" postgresql "* ]]; then
    $SUDO service postgresql stop >/dev/null 2>&1 || true
  fi
fi

if ! command -v terraform >/dev/null 2>&1 && ! command -v tofu >/dev/null 2>&1; then
  echo "the terraform (or tofu) CLI is needed on PATH: https://developer.hashicorp.com/terraform/install" >&2
  exit 1
fi
