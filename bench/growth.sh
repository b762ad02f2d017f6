#!/usr/bin/env bash
# bench/growth.sh - how time and memory grow with the cluster, on the
# realistic style (per-ReplicaSet and per-StatefulSet-pod labels, versions):
# `scan -f`, `connectivity` (grouped) and the operator's start-up, at each
# size, as wall time and peak RSS and both per pod.
#
#   bench/growth.sh                                     (every size below)
#   GROWTH_PODS="1000 3000" OPERATOR_PODS=1000 bench/growth.sh
#
# Environment:
#   GROWTH_PODS    sizes for scan and connectivity, in pods
#                  (default "1000 3000 10000 25000 100000 200000"; empty skips them)
#   OPERATOR_PODS  sizes for the operator's start-up (default "1000 3000
#                  10000 25000"; empty skips it). Each gets a fresh local
#                  control plane (e2e/cluster.sh), loaded with
#                  bench/apply-generated.sh, then the operator is started
#                  and timed until its first full pass and until every
#                  namespace has its report.
#   GROWTH_OUT     a file that gets the table too (default: stdout only)
# Each size has 50 pods and 10 policies per namespace, seed 42; testgen adds
# the kube-system pods, so the pod counts are a few above the size asked.
# Connectivity's output is discarded; its first line (pods and classes) is
# read by a second run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

readonly PODS_PER_NAMESPACE=50
readonly POLICIES_PER_NAMESPACE=10
readonly GROWTH_PODS="${GROWTH_PODS-1000 3000 10000 25000 100000 200000}"
readonly OPERATOR_PODS="${OPERATOR_PODS-1000 3000 10000 25000}"

work=$(mktemp -d)
cluster_dir=
operator_pid=
cleanup() {
  [[ -z $operator_pid ]] || kill "$operator_pid" 2>/dev/null || true
  [[ -z $cluster_dir ]] || NETPOSTURE_STOP_GRACE=3 e2e/cluster.sh down "$cluster_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
readonly OUT="${GROWTH_OUT:-/dev/null}"

ensure_time
build_release

namespaces_for() { echo $((($1 + PODS_PER_NAMESPACE - 1) / PODS_PER_NAMESPACE)); }
testgen_args() {
  echo --namespaces "$(namespaces_for "$1")" --pods-per-namespace $PODS_PER_NAMESPACE \
    --policies-per-namespace $POLICIES_PER_NAMESPACE --style realistic --seed 42
}
# timed RESULT CMD...: like measure (bench/lib.sh), with the CPU time too:
# "SECONDS MAX_RSS_KIB EXIT CPU_SECONDS". Other work on the machine
# stretches the wall time; the CPU time much less.
timed() {
  local result=$1
  shift
  local status=0 wall rss user system
  /usr/bin/time -f '%e %M %U %S' -o "$result.time" "$@" >/dev/null 2>"$result.stderr" || status=$?
  read -r wall rss user system < <(tail -n 1 "$result.time")
  echo "$wall $rss $status $(awk -v u="$user" -v s="$system" 'BEGIN { print u + s }')" >"$result"
}
# Wall time, CPU time and peak RSS of a `timed` result, each also per pod ($2 pods).
per_pod() {
  local wall rss status cpu
  read -r wall rss status cpu <"$1"
  if [[ $status != 0 ]]; then
    describe "$1"
    return
  fi
  awk -v w="$wall" -v c="$cpu" -v k="$rss" -v p="$2" 'BEGIN {
    printf "%.2f s (CPU %.2f s), %.0f MiB; a pod: %.0f µs (CPU %.0f µs), %.1f KiB",
      w, c, k / 1024, w * 1e6 / p, c * 1e6 / p, k / p }'
}
row() { printf '%-8s %-7s %-9s %s\n' "$@" | tee -a "$OUT"; }

{
  echo "# bench/growth.sh, $(date -u '+%F %H:%M UTC'), commit $(git rev-parse --short HEAD)"
  echo "# load before: $(uptime)"
} | tee "$OUT"
row pods classes measured "wall time (CPU time), peak RSS; per pod"
for size in $GROWTH_PODS; do
  manifest="$work/realistic-$size.json"
  # shellcheck disable=SC2046 # the arguments are words
  "$TESTGEN" $(testgen_args "$size") --out "$manifest"
  header=$("$NETPOSTURE" connectivity -f "$manifest" 2>/dev/null | head -n 1 || true)
  # "# N pods in C classes: ..."
  read -r _ pods _ _ classes _ <<<"$header"
  log "$size: $pods pods, $classes classes, $(du -m "$manifest" | cut -f1) MiB of JSON"
  timed "$work/scan-$size" "$NETPOSTURE" scan -f "$manifest"
  row "$pods" "$classes" scan "$(per_pod "$work/scan-$size" "$pods")"
  timed "$work/connectivity-$size" "$NETPOSTURE" connectivity -f "$manifest"
  row "$pods" "$classes" connect. "$(per_pod "$work/connectivity-$size" "$pods")"
  rm -f "$manifest"
done

metrics_url=
metric() {
  curl --noproxy '*' -fsS --max-time 5 "$metrics_url/metrics" 2>/dev/null |
    awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# Starts the operator on the cluster of $cluster_dir (loaded with $1 pods)
# and times it: first full pass, then every namespace reported.
operator_startup() {
  local size=$1 pods namespaces started first_pass="" all_reports="" deadline rss peak
  pods=$(kubectl get pods -A --no-headers | wc -l)
  namespaces=$(kubectl get namespaces --no-headers | wc -l)
  local port
  while port=$((20000 + RANDOM % 12000)); (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do :; done
  metrics_url="http://127.0.0.1:$port"
  started=$EPOCHREALTIME
  KUBECONFIG=$operator_kubeconfig POD_NAMESPACE=netposture-system NO_COLOR=1 \
    "$NETPOSTURE" operator --metrics-addr "127.0.0.1:$port" --insecure-metrics --identity "growth-$size" \
    >"$work/operator-$size.log" 2>&1 </dev/null &
  operator_pid=$!
  deadline=$((SECONDS + 1800))
  while [[ -z $all_reports ]]; do
    kill -0 "$operator_pid" 2>/dev/null ||
      { log "the operator exited"; tail -n 20 "$work/operator-$size.log" >&2; exit 1; }
    ((SECONDS < deadline)) || { log "no reports after 1800 s"; exit 1; }
    if [[ -z $first_pass && $(metric netposture_last_full_evaluation_timestamp_seconds) != 0 ]]; then
      first_pass=$(since "$started")
    fi
    if (($(kubectl get networkpostures --no-headers 2>/dev/null | wc -l) >= namespaces)); then
      all_reports=$(since "$started")
    fi
    sleep 0.5
  done
  rss=$(proc_kib "$operator_pid" VmRSS)
  peak=$(proc_kib "$operator_pid" VmHWM)
  kill -TERM "$operator_pid"
  wait "$operator_pid" 2>/dev/null || true
  operator_pid=
  row "$pods" "-" operator "$(awk -v a="$first_pass" -v b="$all_reports" -v r="$rss" -v h="$peak" -v p="$pods" 'BEGIN {
    printf "first pass %.1f s, all %s reports %.1f s (%.0f µs a pod); RSS %.0f MiB, peak %.0f MiB (%.0f KiB a pod)",
      a, "'"$namespaces"'", b, b * 1e6 / p, r / 1024, h / 1024, h / p }')"
}

for size in $OPERATOR_PODS; do
  cluster_dir=$(mktemp -d "$work/cluster-$size.XXXXXX")
  log "$size: starting a control plane in $cluster_dir"
  e2e/cluster.sh up "$cluster_dir" 2>"$cluster_dir/up.log" || { cat "$cluster_dir/up.log" >&2; exit 1; }
  # shellcheck disable=SC1091 # written by cluster.sh up
  . "$cluster_dir/env"
  kubectl apply -k deploy/ >/dev/null
  kubectl wait --for=condition=Established crd/networkpostures.netposture.io --timeout=60s >/dev/null
  until kubectl -n netposture-system get serviceaccount netposture >/dev/null 2>&1; do sleep 0.5; done
  # As installed: the operator runs as its ServiceAccount, with deploy/'s ClusterRole.
  operator_kubeconfig=$(e2e/cluster.sh kubeconfig netposture-system netposture "$cluster_dir")
  loaded=$EPOCHREALTIME
  # shellcheck disable=SC2046 # the arguments are words
  bench/apply-generated.sh $(testgen_args "$size") 2>"$cluster_dir/apply.log"
  load_seconds=$(since "$loaded")
  echo "# $size: loaded in $load_seconds s ($(awk -v s="$load_seconds" -v p="$size" 'BEGIN { printf "%.0f", p / s }') pods/s)" | tee -a "$OUT"
  operator_startup "$size"
  NETPOSTURE_STOP_GRACE=3 e2e/cluster.sh down "$cluster_dir" >/dev/null 2>&1 || true
  rm -rf "$cluster_dir"
  cluster_dir=
done
echo "# load after: $(uptime)" | tee -a "$OUT"
