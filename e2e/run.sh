#!/usr/bin/env bash
# Runs the e2e suite: starts a fresh local control plane in a temporary dir,
# runs the tests one at a time against it (they restart its components), and
# stops exactly the processes it started, also when a test fails.
#
#   e2e/run.sh [FILE...] [ARGS...]
#
# Leading words that start the names of test files select those files
# (`faults` runs e2e/tests/faults*.rs); the remaining arguments are passed to
# the test binaries (e.g. a test name filter). At the end it prints the time
# to recover that each fault test recorded (e2e/src/lib.rs record_recovery).
set -euo pipefail
cd "$(dirname "$0")/.."

tests=()
while (($#)) && [[ $1 != -* ]] && compgen -G "e2e/tests/$1*.rs" >/dev/null; do
  for file in e2e/tests/"$1"*.rs; do tests+=(--test "$(basename "$file" .rs)"); done
  shift
done

dir=$(mktemp -d /tmp/netposture-e2e.XXXXXX)
trap 'e2e/cluster.sh down "$dir" >/dev/null 2>&1 || true' EXIT
e2e/cluster.sh up "$dir"

target=$(scripts/target-dir)
cargo build --locked -p netposture
status=0
NETPOSTURE_CLUSTER_DIR=$dir NETPOSTURE_BIN=$target/debug/netposture \
  NETPOSTURE_RECOVERY_FILE=$dir/recovery.tsv \
  cargo test --locked -p netposture-e2e "${tests[@]}" -- --test-threads=1 "$@" || status=$?
if [[ -s $dir/recovery.tsv ]]; then
  echo "== time to recover, from the end of each fault until the reports were right again"
  awk -F '\t' '{ printf "%-64s %6.1f s\n", $1, $2 }' "$dir/recovery.tsv"
fi
exit "$status"
