#!/usr/bin/env bash
# The main job: the platform's V1 story on one machine, on the embedded
# defaults (SQLite registry, managed local PostgreSQL, local encrypted
# secrets, zone-file DNS), with the local example in a scratch directory.
#
#   1. deploy a build before the foundational plane exists: infrastructure
#      deploys, backstage waits for rds/backstage (and says what to run)
#   2. deploy the foundational plane: the database instance, its two app
#      databases and their secrets, the DNS zone
#   3. deploy the same build again: backstage renders, its record is published
#   4. verify propagation; resolve the build's hostname (named loading the
#      zone file, when BIND is installed)
#   5. tear the build down: the orphan check reports nothing left behind,
#      and `registry verify` checks every row of the registry
#   6. export the registry as CSV: every phase with durations and exit codes
#
# Then it stops the local PostgreSQL. Set KEEP=1 to keep the scratch
# directory (and the server running); GP=path to use a built binary.
#
# Needs: the Rust toolchain and terraform on PATH; PostgreSQL's server
# binaries, BIND and git are installed from Debian's packages when missing
# (root or sudo, and the package registry).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/prereqs.sh"
if [ -z "${GP:-}" ]; then
  # The local story calls no AWS API: built without the AWS SDK (half of a
  # cold build's time). `cargo build --release` builds the whole binary.
  cargo build --release --locked --no-default-features --manifest-path "$repo/Cargo.toml" -p goldenpath >&2
  GP="${CARGO_TARGET_DIR:-$repo/target}/release/goldenpath"
fi
gp="$GP"

work="$(mktemp -d -t goldenpath-demo-XXXXXX)"
chmod 755 "$work"
"$gp" init --example local "$work/platform" >/dev/null 2>&1
cd "$work/platform"
export GOLDENPATH_ACTOR="${GOLDENPATH_ACTOR:-demo}"

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $work" >&2
    return
  fi
  # Stop the managed PostgreSQL through goldenpath: a break-glass teardown
  # of the protected instance, recorded like any other.
  "$gp" teardown --env dev --foundational --confirm --break-glass rds \
    --reason "demo cleanup" >/dev/null 2>&1 || true
  [ -n "${named_pid:-}" ] && kill "$named_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$1" >&2; }
# The command line goes to stderr, so a pipe after `run` only sees output.
run() { printf '\033[2m$ goldenpath %s\033[0m\n' "$*" >&2; "$gp" "$@"; }

step "0. the spec, and what a build would do"
run validate
run plan --env dev --build-id auto

step "1. a build before the foundational plane exists"
run deploy --env dev --build-id auto
build="$("$gp" builds list --env dev --limit 1 --output json \
  | sed -n 's/.*"buildId": *"\([0-9-]*\)".*/\1/p' | head -1)"
[ -n "$build" ] || { echo "the first deploy did not reserve a build id" >&2; exit 1; }
run contract --env dev --build-id "$build"
run status --env dev --build-id "$build"

step "2. the foundational plane"
run deploy --env dev --foundational
run db list --env dev

step "3. the same build again: backstage recovers"
run deploy --env dev --build-id "$build"
run status --env dev --build-id "$build"

step "4. propagation, and the build's hostname from the zone"
run verify propagation --env dev --build-id "$build"
run dns list --env dev --build-id "$build"
host="backstage.b-$build.dev.goldenpath.test"
named_bin="$(command -v named || ls /usr/sbin/named 2>/dev/null || true)"
dig_bin="$(command -v dig || true)"
if [ -n "$named_bin" ] && [ -n "$dig_bin" ]; then
  ns="$work/named"; mkdir -p "$ns"; chmod 755 "$ns"
  cp .goldenpath/dns/goldenpath.test.zone "$ns/zone"
  port=$(( 20000 + RANDOM % 20000 ))
  cat > "$ns/named.conf" <<CONF
options { directory "$ns"; pid-file "$ns/named.pid"; listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; }; recursion no; dnssec-validation no; };
controls { };
zone "goldenpath.test" { type primary; file "$ns/zone"; };
CONF
  "$named_bin" -g -c "$ns/named.conf" >"$ns/log" 2>&1 &
  named_pid=$!
  for _ in $(seq 50); do grep -q ' running$' "$ns/log" && break; sleep 0.1; done
  printf '\033[2m$ dig @127.0.0.1 -p %s %s A +short\033[0m\n' "$port" "$host"
  "$dig_bin" @127.0.0.1 -p "$port" "$host" A +short
  kill "$named_pid"; named_pid=""
else
  echo "(named/dig not installed: apt-get install bind9 bind9-dnsutils to resolve $host)"
  grep "^$host" .goldenpath/dns/goldenpath.test.zone
fi

step "5. teardown of the build, and the registry checked"
run teardown --env dev --build-id "$build"
run registry verify
run status --env dev --foundational

step "6. the registry as CSV (build_timings.csv's 12 columns)"
run registry export --format csv --out timings.csv
column -s, -t < timings.csv
run registry report --env dev
