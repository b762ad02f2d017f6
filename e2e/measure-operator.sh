#!/usr/bin/env bash
# e2e/measure-operator.sh - what the operator costs at scale: memory, time to
# reports, change-to-report latency and API writes, on a control plane of its
# own.
#
#   NAMESPACES=200 PODS=50 e2e/measure-operator.sh     (10,000 pods)
#
# It starts a fresh local control plane (e2e/cluster.sh) in a temp dir,
# installs deploy/, runs the release `netposture operator` as its
# ServiceAccount with a 30 s resync, and measures:
#   - VmRSS of the operator on the empty cluster (baseline), right after the
#     load was reconciled, and after one more resync; the growth per pod;
#   - the time from the start of the load until every namespace has a report,
#     and until every report counts all the pods of its namespace;
#   - netposture_report_writes_total over two idle resync periods (expected 0)
#     and whether any report's resourceVersion moved meanwhile;
#   - change-to-report latency under CHURN_RATE changes a second for
#     CHURN_SECONDS (e2e/report-watch.py churn: default deny removed and
#     restored, a pod created and deleted, a pod relabelled, each with a known
#     effect on one report), and the report writes per minute meanwhile;
#   - the same churn while kubelet-like noise runs (report-watch.py
#     kubelets: KUBELET_RATE pod status, annotation and kube-system label
#     patches a second), as on a busy cluster;
#   - "installed into an existing cluster": the operator stopped, every report
#     deleted, a new operator started; the time from its start until every
#     report is there and complete, and its RSS then;
#   - a restart over existing reports (expected: no writes), and the same
#     churn again with --debounce 0s, which shows what part of the latency
#     is the 1 s debounce;
#   - before and after the churn, how many reports differ from a fresh
#     `netposture scan` of the live cluster (expected 0).
# The load: NAMESPACES namespaces "load-N", each with PODS pods (labels
# app=frontend|api|db in turn, one container with a named port) and three
# policies: default deny both ways, DNS egress to kube-system k8s-app=kube-dns
# on UDP/TCP 53, and frontend -> api on TCP 8080. kube-system gets a CoreDNS
# pod and a calico-node pod so that the load namespaces come out covered.
#
# Environment: NAMESPACES (100), PODS (50), CHURN_SECONDS (60), CHURN_RATE
# (changes a second, 2), KUBELET_RATE (noise changes a second, 40), PARALLEL (kubectl creates at once, 4), MEASURE_KEEP=1
# (keep etcd's data). Needs the release binary (cargo build --release -p
# netposture; found where cargo puts it, see scripts/target-dir), python3 and what
# e2e/cluster.sh needs. Progress goes to stderr, the summary table to stdout
# (and $dir/summary.txt). The operators' logs stay in $dir/logs/operator*.log;
# the cluster is always stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NAMESPACES=${NAMESPACES:-100}
readonly PODS=${PODS:-50}
readonly CHURN_SECONDS=${CHURN_SECONDS:-60}
readonly CHURN_RATE=${CHURN_RATE:-2}
readonly KUBELET_RATE=${KUBELET_RATE:-40}
readonly PARALLEL=${PARALLEL:-4}
readonly RESYNC_SECONDS=30
readonly IDLE_SECONDS=$((2 * RESYNC_SECONDS + 5))
BIN=$(scripts/target-dir)/release/netposture
readonly BIN
[[ $NAMESPACES =~ ^[1-9][0-9]*$ && $PODS =~ ^[1-9][0-9]*$ && $PODS -ge 3 ]] ||
  { echo "measure: NAMESPACES must be a positive integer and PODS at least 3" >&2; exit 2; }
[[ -x $BIN ]] || { echo "measure: $BIN not found: cargo build --release -p netposture" >&2; exit 2; }

T0=$EPOCHREALTIME
log() { printf 'measure [%6.1fs]: %s\n' "$(since "$T0")" "$*" >&2; }
# Seconds (with decimals) since the EPOCHREALTIME value $1.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# $1 - $2 (two decimal numbers), to one decimal.
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/netposture-measure.XXXXXX")
OPERATOR_PID=
WATCH_PID=
stop_operator() {
  [[ -n $OPERATOR_PID ]] && kill -0 "$OPERATOR_PID" 2>/dev/null || return 0
  kill -TERM "$OPERATOR_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$OPERATOR_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$OPERATOR_PID" 2>/dev/null || true
  wait "$OPERATOR_PID" 2>/dev/null || true
  OPERATOR_PID=
}
cleanup() {
  local status=$?
  [[ -z $WATCH_PID ]] || kill "$WATCH_PID" 2>/dev/null || true
  stop_operator
  NETPOSTURE_STOP_GRACE=3 e2e/cluster.sh down "$dir" 2>/dev/null || true
  [[ -n ${MEASURE_KEEP:-} ]] || rm -rf "$dir/etcd-data" "$dir/load" "$dir/pki"
  echo "measure: state and logs in $dir (operator logs: $dir/logs/operator-*.log)" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
log "starting a control plane in $dir"
e2e/cluster.sh up "$dir" 2>"$dir/cluster-up.log" || { cat "$dir/cluster-up.log" >&2; exit 1; }
# shellcheck disable=SC1091 # written by cluster.sh up
. "$dir/env"

kubectl apply -k deploy/ >/dev/null
kubectl wait --for=condition=Established crd/networkpostures.netposture.io --timeout=60s >/dev/null
until kubectl -n netposture-system get serviceaccount netposture >/dev/null 2>&1; do sleep 0.5; done

# The operator runs as its ServiceAccount, with exactly the ClusterRole from deploy/.
operator_kubeconfig=$(e2e/cluster.sh kubeconfig netposture-system netposture "$dir")

# Cluster add-ons as the reports expect them: DNS pods and a policy-enforcing CNI.
until kubectl -n kube-system get serviceaccount default >/dev/null 2>&1; do sleep 0.5; done
kubectl create -f - >/dev/null <<'EOF'
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "coredns-measure", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
  "spec": {"automountServiceAccountToken": false, "containers": [{"name": "coredns",
    "image": "registry.k8s.io/coredns/coredns:v1.11.1",
    "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
              {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]}]}},
 {"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "calico-node-measure", "namespace": "kube-system", "labels": {"k8s-app": "calico-node"}},
  "spec": {"hostNetwork": true, "automountServiceAccountToken": false,
    "containers": [{"name": "calico-node", "image": "calico/node:v3.27.0"}]}}]}
EOF

# A loopback port below the ephemeral range that nothing listens on.
while port=$((20000 + RANDOM % 12000)); (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do :; done
readonly METRICS="http://127.0.0.1:$port"
operator_runs=0
# Starts an operator (extra flags in "$@") and notes its start in T_OPERATOR.
start_operator() {
  operator_runs=$((operator_runs + 1))
  OPERATOR_LOG=$dir/logs/operator-$operator_runs.log
  T_OPERATOR=$EPOCHREALTIME
  KUBECONFIG=$operator_kubeconfig POD_NAMESPACE=netposture-system NO_COLOR=1 \
    "$BIN" operator --metrics-addr "127.0.0.1:$port" --insecure-metrics --identity "measure-$operator_runs" \
    --resync-period "${RESYNC_SECONDS}s" "$@" >"$OPERATOR_LOG" 2>&1 </dev/null &
  OPERATOR_PID=$!
  log "operator $operator_runs started (pid $OPERATOR_PID${*:+, $*})"
}

scrape() { curl --noproxy '*' -fsS --max-time 5 "$METRICS/metrics"; }
# The value of an unlabelled series, 0 when absent.
metric() { scrape | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$OPERATOR_PID/status"; }
alive() { kill -0 "$OPERATOR_PID" 2>/dev/null || { log "the operator exited; see $OPERATOR_LOG"; tail -n 20 "$OPERATOR_LOG" >&2; exit 1; }; }
report_count() { kubectl get networkpostures --no-headers 2>/dev/null | wc -l; }
report_versions() {
  kubectl get networkpostures -o jsonpath='{range .items[*]}{.metadata.resourceVersion}{"\n"}{end}' | sort | md5sum
}
named_versions() {
  kubectl get networkpostures -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}' | sort
}
# Report status as compared with a fresh scan: without the evaluation times.
normalized_status() {
  jq -S '[.items[] | {key: .metadata.name, value: (.status
    | del(.lastEvaluated) | .conditions |= map(del(.lastTransitionTime)))}] | from_entries'
}
# Namespaces whose report differs from what `netposture scan` of the live
# cluster says now (the same engine, evaluated from scratch).
stale_reports() {
  jq -n --slurpfile scan <("$BIN" scan -o json 2>/dev/null | normalized_status) \
    --slurpfile reports <(kubectl get networkpostures -o json | normalized_status) \
    '($scan[0] | keys) + ($reports[0] | keys) | unique
     | map(select($scan[0][.] != $reports[0][.])) | length'
}
# Waits until the operator serves /readyz and holds the lease.
wait_leading() {
  local deadline=$((SECONDS + 120))
  until [[ $(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 2 "$METRICS/readyz") == 200 ]]; do
    alive
    ((SECONDS < deadline)) || { log "not ready after 120 s"; exit 1; }
    sleep 0.1
  done
  # metric reads the whole body: grep -q would close the pipe early, and
  # pipefail would count curl's broken pipe on a large /metrics as a miss.
  until [[ $(metric netposture_leader 2>/dev/null) == 1 ]]; do
    alive
    ((SECONDS < deadline)) || { log "not leading after 120 s"; exit 1; }
    sleep 0.1
  done
}
# Starts `e2e/report-watch.py wait` in the background: it writes to $1 the
# seconds from $2 (an EPOCHREALTIME) until $3 reports exist and until every
# load report counts all its pods.
watch_arrivals() {
  python3 e2e/report-watch.py wait --reports "$3" --namespaces "$NAMESPACES" --pods "$PODS" \
    --since "$2" >"$1" &
  WATCH_PID=$!
}
# Waits (at most $1 seconds) for the watcher of watch_arrivals.
await_arrivals() {
  local deadline=$((SECONDS + $1))
  while kill -0 "$WATCH_PID" 2>/dev/null; do
    alive
    ((SECONDS < deadline)) || { log "reports incomplete after $1 s"; exit 1; }
    sleep 0.2
  done
  wait "$WATCH_PID" || { log "report-watch.py failed"; exit 1; }
  WATCH_PID=
}
# Runs the churn (extra report-watch.py flags in "$@") and counts the report
# writes meanwhile; sets CHURN (the summary JSON of report-watch.py) and
# CHURN_WRITES_PER_MINUTE.
churn() {
  local writes_before writes
  writes_before=$(metric netposture_report_writes_total)
  CHURN=$(python3 e2e/report-watch.py churn --namespaces "$NAMESPACES" --pods "$PODS" \
    --seconds "$CHURN_SECONDS" --rate "$CHURN_RATE" "$@")
  alive
  writes=$(($(metric netposture_report_writes_total) - writes_before))
  CHURN_WRITES_PER_MINUTE=$(jq -r --argjson w "$writes" '$w * 60 / .seconds | round' <<<"$CHURN")
  log "churn: $(jq -c '{changes, observed, missed, p50, p99, max}' <<<"$CHURN"); $writes report writes"
}

start_operator
wait_leading
system_namespaces=$(kubectl get namespaces --no-headers | wc -l)
until (($(report_count) == system_namespaces)); do alive; sleep 0.2; done
sleep 3 # the first evaluation's allocations
rss_baseline=$(rss_kib)
log "ready and leading; $system_namespaces system namespaces; baseline RSS $(mib "$rss_baseline") MiB"

# ---------------------------------------------------------------------------
# The load, one List per namespace in $dir/load.
mkdir -p "$dir/load"
jq -cn --argjson n "$NAMESPACES" --argjson p "$PODS" '
  def policy($ns; $name; $spec):
    {apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
     metadata: {name: $name, namespace: $ns}, spec: $spec};
  range(0; $n) as $i | "load-\($i)" as $ns |
  {apiVersion: "v1", kind: "List", items: (
    [policy($ns; "default-deny"; {podSelector: {}, policyTypes: ["Ingress", "Egress"]}),
     policy($ns; "allow-dns"; {podSelector: {}, policyTypes: ["Egress"],
       egress: [{to: [{namespaceSelector: {matchLabels: {"kubernetes.io/metadata.name": "kube-system"}},
                       podSelector: {matchLabels: {"k8s-app": "kube-dns"}}}],
                 ports: [{protocol: "UDP", port: 53}, {protocol: "TCP", port: 53}]}]}),
     policy($ns; "allow-frontend-to-api"; {podSelector: {matchLabels: {app: "api"}},
       policyTypes: ["Ingress"],
       ingress: [{from: [{podSelector: {matchLabels: {app: "frontend"}}}],
                  ports: [{protocol: "TCP", port: 8080}]}]})]
    + [range(0; $p) as $j | ["frontend", "api", "db"][$j % 3] as $app |
       {apiVersion: "v1", kind: "Pod",
        metadata: {name: "\($app)-\($j)", namespace: $ns, labels: {app: $app}},
        spec: {automountServiceAccountToken: false,
               containers: [{name: $app, image: "registry.k8s.io/pause:3.9",
                             ports: [{name: "http", containerPort: 8080, protocol: "TCP"}]}]}}])}' |
  split -l 1 -a 5 -d --additional-suffix=.json - "$dir/load/ns-"
# The namespaces come first, all in one request, and their ServiceAccount
# "default" must exist before the API server admits pods into them.
jq -n --argjson n "$NAMESPACES" '{apiVersion: "v1", kind: "List",
  items: [range(0; $n) | {apiVersion: "v1", kind: "Namespace", metadata: {name: "load-\(.)"}}]}' \
  >"$dir/load/namespaces.json"

log "creating $NAMESPACES namespaces with $PODS pods and 3 policies each"
expected=$((system_namespaces + NAMESPACES))
T_LOAD=$EPOCHREALTIME
watch_arrivals "$dir/arrivals-load.json" "$T_LOAD" "$expected"
kubectl create -f "$dir/load/namespaces.json" >/dev/null
until (($(kubectl get serviceaccounts -A --field-selector metadata.name=default --no-headers | wc -l) >= expected)); do
  sleep 0.5
done
find "$dir/load" -name 'ns-*.json' -print0 | sort -z |
  xargs -0 -P "$PARALLEL" -n 1 kubectl create -o name -f >/dev/null
t_created=$(since "$T_LOAD")
log "created in $t_created s; waiting for $expected reports"
await_arrivals 1200
t_reports=$(jq -r .all_reports "$dir/arrivals-load.json")
t_complete=$(jq -r .complete "$dir/arrivals-load.json")
t_after_created=$(minus "$t_complete" "$t_created")
rss_loaded=$(rss_kib)
log "every namespace has a report after $t_reports s, every report complete after $t_complete s ($t_after_created s after the last create); RSS $(mib "$rss_loaded") MiB"

log "settling for $((RESYNC_SECONDS + 5)) s (one resync)"
sleep $((RESYNC_SECONDS + 5))
alive
rss_settled=$(rss_kib)
per_pod=$(((rss_settled - rss_baseline) * 1024 / (NAMESPACES * PODS)))
uncovered=$(kubectl get networkpostures -o json |
  jq '[.items[] | select((.metadata.name | startswith("load-")) and (.status.covered | not))] | length')
stale_before=$(stale_reports)
log "settled RSS $(mib "$rss_settled") MiB; $uncovered load namespaces not covered; $stale_before reports differ from a fresh scan"

# ---------------------------------------------------------------------------
log "idle for $IDLE_SECONDS s (two resyncs), no change"
writes_before=$(metric netposture_report_writes_total)
versions_before=$(report_versions)
sleep "$IDLE_SECONDS"
alive
writes_idle=$(($(metric netposture_report_writes_total) - writes_before))
versions_after=$(report_versions)
[[ $versions_before == "$versions_after" ]] && unchanged=yes || unchanged=no
log "idle: $writes_idle report writes, resourceVersions unchanged: $unchanged"

# ---------------------------------------------------------------------------
log "churn: $CHURN_RATE changes a second for $CHURN_SECONDS s (default debounce, 1 s)"
named_versions >"$dir/versions-before-churn"
churn
churn_default=$CHURN writes_churn_default=$CHURN_WRITES_PER_MINUTE
sleep 3 # the last reconciles
stale_after=$(stale_reports)
reports_changed=$(named_versions | comm -13 "$dir/versions-before-churn" - | wc -l)
log "after the churn: $reports_changed reports changed, $stale_after differ from a fresh scan"

log "churn again with kubelet-like noise, $KUBELET_RATE pod changes a second (default debounce, 1 s)"
churn --kubelet-rate "$KUBELET_RATE"
churn_kubelets=$CHURN writes_churn_kubelets=$CHURN_WRITES_PER_MINUTE
log "kubelet-like noise: $(jq -c .kubelets <<<"$CHURN")"
sleep 3 # the last reconciles
stale_after_kubelets=$(stale_reports)

# ---------------------------------------------------------------------------
# Installed into an existing cluster: no reports yet, every object there.
log "stopping the operator and deleting every report"
stop_operator
kubectl delete networkpostures --all --wait=true >/dev/null
start_operator
watch_arrivals "$dir/arrivals-install.json" "$T_OPERATOR" "$expected"
await_arrivals 1200
t_install_reports=$(jq -r .all_reports "$dir/arrivals-install.json")
t_install_complete=$(jq -r .complete "$dir/arrivals-install.json")
sleep 5
alive
rss_install=$(rss_kib)
per_pod_install=$(((rss_install - rss_baseline) * 1024 / (NAMESPACES * PODS)))
writes_install=$(metric netposture_report_writes_total)
log "fresh operator: all reports after $t_install_reports s, complete after $t_install_complete s; RSS $(mib "$rss_install") MiB; $writes_install writes"

# ---------------------------------------------------------------------------
# A restart over up-to-date reports, then the churn without the debounce.
log "restarting the operator with --debounce 0s over the existing reports"
stop_operator
start_operator --debounce 0s
wait_leading
t_restart_ready=$(since "$T_OPERATOR")
until [[ $(metric netposture_last_full_evaluation_timestamp_seconds) != 0 ]]; do alive; sleep 0.2; done
sleep 5
writes_restart=$(metric netposture_report_writes_total)
log "restarted: ready and leading after $t_restart_ready s; $writes_restart report writes after its first full pass"
log "churn: $CHURN_RATE changes a second for $CHURN_SECONDS s, --debounce 0s"
churn
churn_nodebounce=$CHURN writes_churn_nodebounce=$CHURN_WRITES_PER_MINUTE

# ---------------------------------------------------------------------------
warnings=$(cat "$dir"/logs/operator-*.log | grep -c -E '\b(WARN|ERROR)\b' || true)
panics=$(cat "$dir"/logs/operator-*.log | grep -c 'panicked' || true)
row() { printf '%-64s %30s  %s\n' "$@"; }
# Field $1 of the churn JSON $2, in seconds to two decimals.
seconds() { jq -r --arg f "$1" '.[$f] | if . == null then "-" else "\(. * 100 | round / 100) s" end' <<<"$2"; }
{
  printf 'netposture operator: %d pods in %d namespaces (+%d system), %d policies; PARALLEL=%d, resync %d s\n' \
    $((NAMESPACES * PODS)) "$NAMESPACES" "$system_namespaces" $((NAMESPACES * 3)) "$PARALLEL" "$RESYNC_SECONDS"
  row "measure" "measured" "target"
  row "objects created (kubectl create), from the first create" "$t_created s" ""
  row "every namespace has a report, from the first create" "$t_reports s" ""
  row "every report counts all pods, after the last create" "$t_after_created s" ""
  row "operator started on the populated cluster: every report" "$t_install_reports s" ""
  row "operator started on the populated cluster: every report complete" "$t_install_complete s" ""
  row "operator restart over current reports: ready and leading" "$t_restart_ready s" ""
  row "operator RSS: empty cluster baseline" "$(mib "$rss_baseline") MiB" ""
  row "operator RSS: loaded / after one resync" "$(mib "$rss_loaded") / $(mib "$rss_settled") MiB" ""
  row "RSS per pod above baseline, after one resync" "$per_pod B" "<= 2048 B"
  row "RSS per pod above baseline, fresh start on the loaded cluster" "$per_pod_install B ($(mib "$rss_install") MiB)" "<= 2048 B"
  row "report writes idle ($IDLE_SECONDS s, two resyncs)" "$writes_idle (rv unchanged: $unchanged)" "0"
  row "report writes by a restart over current reports" "$writes_restart" "0"
  for run in default kubelets nodebounce; do
    if [[ $run == default ]]; then
      json=$churn_default writes=$writes_churn_default label="default --debounce 1s"
    elif [[ $run == kubelets ]]; then
      json=$churn_kubelets writes=$writes_churn_kubelets
      label="--debounce 1s, kubelet-like noise $(jq -r '"\(.kubelets.rate)/s"' <<<"$json")"
    else
      json=$churn_nodebounce writes=$writes_churn_nodebounce label="--debounce 0s"
    fi
    row "churn, $label: changes made / seen in reports" \
      "$(jq -r '"\(.changes) / \(.observed) (\(.rate)/s; \(.skipped) ticks busy, \(.failed) failed)"' <<<"$json")" ""
    row "  change-to-report latency p50 / p90" "$(seconds p50 "$json") / $(seconds p90 "$json")" ""
    row "  change-to-report latency p99 / max" "$(seconds p99 "$json") / $(seconds max "$json")" "p99 <= 2 s"
    row "  report writes per minute" "$writes" ""
  done
  row "reports differing from a fresh scan: before / after churn / after noise" \
    "$stale_before / $stale_after / $stale_after_kubelets" "0"
  row "reports changed by the first churn" "$reports_changed" ""
  row "load namespaces not covered" "$uncovered" "0"
  row "operator logs: WARN/ERROR lines / panics" "$warnings / $panics" "0"
  printf 'churn by kind, --debounce 1s: %s\n' "$(jq -c .by_kind <<<"$churn_default")"
  printf 'churn by kind, --debounce 1s with kubelet-like noise: %s\n' "$(jq -c .by_kind <<<"$churn_kubelets")"
  printf 'churn by kind, --debounce 0s: %s\n' "$(jq -c .by_kind <<<"$churn_nodebounce")"
} | tee "$dir/summary.txt"
