#!/usr/bin/env bash
# Runs the e2e suite: starts a fresh local control plane in a temporary dir,
# runs the tests one at a time against it (they restart its components), and
# stops exactly the processes it started, also when a test fails.
# Arguments are passed to the test binaries (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d /tmp/netposture-e2e.XXXXXX)
trap 'e2e/cluster.sh down "$dir" >/dev/null 2>&1 || true' EXIT
e2e/cluster.sh up "$dir"

target=${CARGO_TARGET_DIR:-target}
cargo build --locked -p netposture
NETPOSTURE_CLUSTER_DIR=$dir NETPOSTURE_BIN=$target/debug/netposture \
  cargo test --locked -p netposture-e2e -- --test-threads=1 "$@"
