#!/usr/bin/env bash
# bench/scan-e2e.sh - `netposture scan -f` end to end (read, index,
# evaluate, print) on generated manifests: wall time and peak RSS at
# 2,000 namespaces / 100,000 pods / 20,000 policies, as ratios to Python's
# json.load of the same file and to the file's size, then next to NCA
# (network-config-analyzer from PyPI) at the sizes NCA can do.
#
# The clusters come from netposture-testgen (seed 42): 50 pods and 10
# policies per namespace, plus 12 kube-system pods; the large scan uses style
# mixed, the NCA comparison each of BENCH_STYLES. NCA computes a pod-to-pod
# connectivity map, so netposture is timed on the same question too
# (`netposture connectivity -o pairs`, and `-o grouped`, its default, class
# to class) besides its own (`scan`).
#
# Environment:
#   NCA_SIZES    pods per NCA comparison, multiples of 50 (default "500 1000 2000";
#                NCA refuses more than 10,000 pods and its time grows ~ size^2.8)
#   NCA_TIMEOUT  seconds before an NCA run is given up (default 300)
#   SCAN_PODS    pods of the end-to-end scan (default 100000)
#   BENCH_STYLES testgen styles of the NCA comparison (default "mixed realistic")
#   BENCH_DIR    where the manifests go (default a temporary directory, removed)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

readonly PODS_PER_NAMESPACE=50
readonly POLICIES_PER_NAMESPACE=10
readonly NCA_SIZES="${NCA_SIZES:-500 1000 2000}"
readonly NCA_TIMEOUT="${NCA_TIMEOUT:-300}"
readonly SCAN_PODS="${SCAN_PODS:-100000}"
readonly BENCH_STYLES="${BENCH_STYLES:-mixed realistic}"

work="${BENCH_DIR:-}"
if [[ -z $work ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

ensure_time
ensure_nca
build_release

seconds_of() { awk '{ print $1 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

namespaces=$((SCAN_PODS / PODS_PER_NAMESPACE))
log "generating $namespaces namespaces, $SCAN_PODS pods, $((namespaces * POLICIES_PER_NAMESPACE)) policies"
generate "$work/large.json" "$namespaces" $PODS_PER_NAMESPACE $POLICIES_PER_NAMESPACE
log "netposture scan -f on $(du -m "$work/large.json" | cut -f1) MiB of JSON"
measure "$work/large.scan" "$NETPOSTURE" scan -f "$work/large.json"
log "Python json.load of the same file (the reading speed the scan is held to)"
python_seconds=$(python3 -c 'import json,sys,time; t=time.time(); json.load(open(sys.argv[1])); print(time.time()-t)' "$work/large.json")
file_kib=$(($(stat -c %s "$work/large.json") / 1024))
read -r scan_seconds scan_kib _ <"$work/large.scan"

echo
echo "== netposture scan -f, end to end, $SCAN_PODS pods / $namespaces namespaces / $((namespaces * POLICIES_PER_NAMESPACE)) policies"
row_large='%-32s %-36s %s\n'
# shellcheck disable=SC2059 # the format is the row's
{
  printf "$row_large" "measure" "measured" "target"
  printf "$row_large" "scan -f (wall time, peak RSS)" "$(describe "$work/large.scan")" "<= 1.0 s"
  printf "$row_large" "scan time / Python json.load" \
    "$(awk -v s="$scan_seconds" -v p="$python_seconds" 'BEGIN { printf "%.2f (%.2f s / %.2f s)", s / p, s, p }')" "<= 0.5"
  printf "$row_large" "peak RSS / file size" \
    "$(awk -v r="$scan_kib" -v f="$file_kib" 'BEGIN { printf "%.2f (%.0f MiB / %.0f MiB)", r / f, r / 1024, f / 1024 }')" "<= 2"
}

echo
echo "== against NCA $NCA_VERSION on the same manifests (cap $NCA_TIMEOUT s per NCA run)"
row='%-10s %-6s %-9s %-18s %-18s %-18s %-22s %s\n'
# shellcheck disable=SC2059 # the format is the row's
printf "$row" style pods policies "netposture scan" "connectivity pairs" "connectivity grouped" "NCA connectivity" "NCA / netposture pairs"
for style in $BENCH_STYLES; do
  for pods in $NCA_SIZES; do
    namespaces=$((pods / PODS_PER_NAMESPACE))
    manifest="$work/nca-$style-$pods.json"
    result="$work/$style-$pods"
    generate "$manifest" "$namespaces" $PODS_PER_NAMESPACE $POLICIES_PER_NAMESPACE --style "$style"
    log "$style, $pods pods: netposture scan, netposture connectivity (pairs, grouped), NCA"
    measure "$result.scan" "$NETPOSTURE" scan -f "$manifest"
    measure "$result.pairs" "$NETPOSTURE" connectivity -o pairs -f "$manifest"
    measure "$result.grouped" "$NETPOSTURE" connectivity -o grouped -f "$manifest"
    measure "$result.nca" timeout "$NCA_TIMEOUT" "$NCA_VENV/bin/nca" --connectivity -r "$manifest" \
      --output_format txt_no_fw_rules --output_endpoints pods --file_out "$result.nca.txt"
    nca_ratio=-
    if [[ $(awk '{ print $3 }' "$result.nca") == 0 ]]; then
      nca_ratio=$(ratio "$(seconds_of "$result.nca")" "$(seconds_of "$result.pairs")")
    fi
    # shellcheck disable=SC2059
    printf "$row" "$style" "$((pods + 12))" $((namespaces * POLICIES_PER_NAMESPACE)) \
      "$(describe "$result.scan")" "$(describe "$result.pairs")" "$(describe "$result.grouped")" \
      "$(describe "$result.nca")" "$nca_ratio"
  done
done
echo
echo "Pods include the 12 generated kube-system pods. Reproduce: NCA_SIZES=\"$NCA_SIZES\" BENCH_STYLES=\"$BENCH_STYLES\" bench/scan-e2e.sh"
