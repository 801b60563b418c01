#!/usr/bin/env bash
# golden-v1 end to end against a local AWS endpoint: moto's server on a free
# loopback port, the zone, state bucket and lock table created with boto3,
# then the V1 story (secrets in Secrets Manager, records in Route 53, state
# in S3 with DynamoDB locks), the teardowns, and what the four services hold
# at the end.
#
#   examples/golden-v1/local-aws/run.sh [WORKDIR]
#
# Needs: a Python virtual environment with moto's server and boto3 at
# $GP_TEST_VENV or .venv at the repository root (scripts/prereqs.sh makes
# it), terraform on PATH, PostgreSQL's server binaries (the managed local
# rds), and goldenpath ($GOLDENPATH, else target/debug/goldenpath, built
# when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${GP_TEST_VENV:-$repo/.venv}"
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "no moto server at $venv: python3 -m venv $venv && $venv/bin/pip install 'moto[server]' boto3" >&2
  exit 1
fi
gp="${GOLDENPATH:-}"
if [ -z "$gp" ]; then
  (cd "$repo" && cargo build --quiet -p goldenpath)
  gp="${CARGO_TARGET_DIR:-$repo/target}/debug/goldenpath"
fi
work="${1:-$(mktemp -d)}"
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work.moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=eu-west-2 AWS_DEFAULT_REGION=eu-west-2 AWS_EC2_METADATA_DISABLED=true
# moto's server takes seconds to import on a loaded machine: wait up to a
# minute, and say so when it never answers.
up=""
for _ in $(seq 600); do
  if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
    up=1
    break
  fi
  sleep 0.1
done
if [ -z "$up" ]; then
  echo "moto's server did not answer on 127.0.0.1:$port within a minute:" >&2
  cat "$work.moto.log" >&2
  exit 1
fi
"$venv/bin/python" "$here/local_aws.py" prepare "$work"
cd "$work"
chmod 755 "$work"
run() { echo "+ goldenpath $*" >&2; "$gp" "$@"; }
run validate
# On golden-v1 every cluster lives in the environment's VPC: the
# foundational plane comes first (vpc, rds with its databases and their
# secrets, the zone).
run deploy --env dev --foundational
# The JSON outcome goes to a file first, so that a failed deploy shows
# what it said.
if ! run deploy --env dev --build-id auto --output json >"$work.deploy.json"; then
  cat "$work.deploy.json" >&2
  exit 1
fi
build="$("$venv/bin/python" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["outcome"]["deployment"])' "$work.deploy.json")"
echo "build $build" >&2
run deploy --env dev --build-id "$build"   # again: nothing changes
run status --env dev --build-id "$build"
run verify propagation --env dev --build-id "$build"
run teardown --env dev --build-id "$build"
run orphans --env dev --build-id "$build"
run teardown --env dev --foundational --confirm --break-glass rds --reason "local-aws example: everything goes"
run registry verify
"$venv/bin/python" "$here/local_aws.py" inventory
