#!/usr/bin/env bash
# e2e/measure-operator.sh - what the operator costs at scale: its memory and
# the API writes it makes, on a control plane of its own.
#
#   NAMESPACES=100 PODS=50 e2e/measure-operator.sh      (defaults: 5,000 pods)
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
#   - report writes during CHURN_SECONDS of one change a second (a pod's app
#     label, or one policy deleted/re-created), per minute;
#   - before and after the churn, how many reports differ from a fresh
#     `netposture scan` of the live cluster (expected 0).
# The load: NAMESPACES namespaces "load-N", each with PODS pods (labels
# app=frontend|api|db in turn, one container with a named port) and three
# policies: default deny both ways, DNS egress to kube-system k8s-app=kube-dns
# on UDP/TCP 53, and frontend -> api on TCP 8080. kube-system gets a CoreDNS
# pod and a calico-node pod so that the load namespaces come out covered.
#
# Environment: NAMESPACES (100), PODS (50), CHURN_SECONDS (60),
# PARALLEL (kubectl creates at once, 4), MEASURE_KEEP=1 (keep etcd's data).
# Needs the release binary (cargo build --release -p netposture; found through
# CARGO_TARGET_DIR, else target/) and what e2e/cluster.sh needs. Progress goes
# to stderr, the summary to stdout (and $dir/summary.txt). The operator's log
# stays in $dir/logs/operator.log; the cluster is always stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NAMESPACES=${NAMESPACES:-100}
readonly PODS=${PODS:-50}
readonly CHURN_SECONDS=${CHURN_SECONDS:-60}
readonly PARALLEL=${PARALLEL:-4}
readonly RESYNC_SECONDS=30
readonly IDLE_SECONDS=$((2 * RESYNC_SECONDS + 5))
readonly BIN=${CARGO_TARGET_DIR:-target}/release/netposture
[[ $NAMESPACES =~ ^[1-9][0-9]*$ && $PODS =~ ^[1-9][0-9]*$ ]] ||
  { echo "measure: NAMESPACES and PODS must be positive integers" >&2; exit 2; }
[[ -x $BIN ]] || { echo "measure: $BIN not found: cargo build --release -p netposture" >&2; exit 2; }

T0=$EPOCHREALTIME
log() { printf 'measure [%6.1fs]: %s\n' "$(since "$T0")" "$*" >&2; }
# Seconds (with decimals) since the EPOCHREALTIME value $1.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/netposture-measure.XXXXXX")
OPERATOR_PID=
POLLER_PID=
cleanup() {
  local status=$?
  [[ -z $POLLER_PID ]] || kill "$POLLER_PID" 2>/dev/null || true
  if [[ -n $OPERATOR_PID ]] && kill -0 "$OPERATOR_PID" 2>/dev/null; then
    kill -TERM "$OPERATOR_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$OPERATOR_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$OPERATOR_PID" 2>/dev/null || true
  fi
  NETPOSTURE_STOP_GRACE=3 e2e/cluster.sh down "$dir" 2>/dev/null || true
  [[ -n ${MEASURE_KEEP:-} ]] || rm -rf "$dir/etcd-data" "$dir/load" "$dir/pki"
  echo "measure: state and logs in $dir (operator log: $dir/logs/operator.log)" >&2
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
KUBECONFIG=$operator_kubeconfig POD_NAMESPACE=netposture-system NO_COLOR=1 \
  "$BIN" operator --metrics-addr "127.0.0.1:$port" --identity measure \
  --resync-period "${RESYNC_SECONDS}s" >"$dir/logs/operator.log" 2>&1 </dev/null &
OPERATOR_PID=$!
log "operator started (pid $OPERATOR_PID, metrics $METRICS)"

scrape() { curl --noproxy '*' -fsS --max-time 5 "$METRICS/metrics"; }
# The value of an unlabelled series, 0 when absent.
metric() { scrape | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$OPERATOR_PID/status"; }
alive() { kill -0 "$OPERATOR_PID" 2>/dev/null || { log "the operator exited; see $dir/logs/operator.log"; tail -n 20 "$dir/logs/operator.log" >&2; exit 1; }; }
report_count() { kubectl get networkpostures --no-headers 2>/dev/null | wc -l; }
report_versions() {
  kubectl get networkpostures -o jsonpath='{range .items[*]}{.metadata.resourceVersion}{"\n"}{end}' | sort | md5sum
}
named_versions() {
  kubectl get networkpostures -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}' | sort
}
# Load namespaces whose report counts all their pods.
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
complete_reports() {
  kubectl get networkpostures -o json |
    jq --argjson pods "$PODS" '[.items[] | select((.metadata.name | startswith("load-")) and .status.pods.total == $pods)] | length'
}

deadline=$((SECONDS + 60))
until [[ $(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 2 "$METRICS/readyz") == 200 ]]; do
  alive
  ((SECONDS < deadline)) || { log "not ready after 60 s"; exit 1; }
  sleep 0.2
done
until scrape 2>/dev/null | grep -qx 'netposture_leader 1'; do
  alive
  ((SECONDS < deadline)) || { log "not leading after 60 s"; exit 1; }
  sleep 0.2
done
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
T_LOAD=$EPOCHREALTIME
expected=$((system_namespaces + NAMESPACES))
# Counts the reports while the load is being created.
(
  until (($(report_count) >= expected)); do sleep 0.5; done
  since "$T_LOAD" >"$dir/t_reports"
) &
POLLER_PID=$!
kubectl create -f "$dir/load/namespaces.json" >/dev/null
until (($(kubectl get serviceaccounts -A --field-selector metadata.name=default --no-headers | wc -l) >= expected)); do
  sleep 0.5
done
find "$dir/load" -name 'ns-*.json' -print0 | sort -z |
  xargs -0 -P "$PARALLEL" -n 1 kubectl create -o name -f >/dev/null
t_created=$(since "$T_LOAD")
T_CREATED=$EPOCHREALTIME
log "created in $t_created s; waiting for $expected reports"

deadline=$((SECONDS + 600))
until [[ -s $dir/t_reports ]]; do
  alive
  ((SECONDS < deadline)) || { log "only $(report_count) of $expected reports after 600 s"; exit 1; }
  sleep 0.5
done
POLLER_PID=
t_reports=$(<"$dir/t_reports")
log "every namespace has a report after $t_reports s; waiting until each counts its $PODS pods"
until (($(complete_reports) == NAMESPACES)); do
  alive
  ((SECONDS < deadline)) || { log "only $(complete_reports) of $NAMESPACES load reports complete after 600 s"; exit 1; }
  sleep 1
done
t_complete=$(since "$T_LOAD")
t_after_created=$(since "$T_CREATED")
rss_loaded=$(rss_kib)
log "every report complete after $t_complete s ($t_after_created s after the last create); RSS $(mib "$rss_loaded") MiB"

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
# Churn: one change a second, alternately a pod's app label (to another value
# of frontend|api|db) and a policy: every other time one of the three policies
# of a random namespace is deleted, in between the longest-missing one is
# created again (or another deleted when none is missing).
log "churn for $CHURN_SECONDS s"
readonly APPS=(frontend api db)
readonly POLICIES=(default-deny allow-dns allow-frontend-to-api)
declare -A relabelled=()
removed=() # "INDEX POLICY", oldest first
changes=0 failed=0 relabels=0 deletes=0 creates=0
writes_before=$(metric netposture_report_writes_total)
named_versions >"$dir/versions-before-churn"
T_CHURN=$EPOCHREALTIME
for ((tick = 0; tick < CHURN_SECONDS; tick++)); do
  i=$((RANDOM % NAMESPACES))
  ns="load-$i"
  if ((tick % 2 == 0)); then
    j=$((RANDOM % PODS))
    pod="${APPS[j % 3]}-$j"
    # The name keeps the original app; the label moves on from its current value.
    current=${relabelled[$ns/$pod]:-$((j % 3))}
    next=$(((current + 1 + RANDOM % 2) % 3))
    relabelled[$ns/$pod]=$next
    kubectl -n "$ns" label pod "$pod" --overwrite "app=${APPS[next]}" >/dev/null || failed=$((failed + 1))
    relabels=$((relabels + 1))
  else
    if (((tick % 4 == 3 && ${#removed[@]} > 0) || ${#removed[@]} >= 3 * NAMESPACES)); then
      read -r i policy <<<"${removed[0]}"
      removed=("${removed[@]:1}")
      jq -c --arg name "$policy" '.items[] | select(.kind == "NetworkPolicy" and .metadata.name == $name)' \
        "$(printf '%s/load/ns-%05d.json' "$dir" "$i")" |
        kubectl create -f - >/dev/null || failed=$((failed + 1))
      creates=$((creates + 1))
    else
      policy=${POLICIES[RANDOM % 3]}
      while [[ " ${removed[*]} " == *" $i $policy "* ]]; do
        i=$((RANDOM % NAMESPACES)) policy=${POLICIES[RANDOM % 3]}
      done
      ns="load-$i"
      kubectl -n "$ns" delete networkpolicy "$policy" --wait=false >/dev/null || failed=$((failed + 1))
      removed+=("$i $policy")
      deletes=$((deletes + 1))
    fi
  fi
  changes=$((changes + 1))
  # Keep to one change a second: sleep until the next tick.
  awk -v t="$T_CHURN" -v k="$((tick + 1))" -v now="$EPOCHREALTIME" \
    'BEGIN { d = t + k - now; if (d > 0) printf "%.3f", d; else print 0 }' | xargs sleep
done
t_churn=$(since "$T_CHURN")
sleep 5 # the debounce and the last reconciles
alive
writes_churn=$(($(metric netposture_report_writes_total) - writes_before))
per_minute=$(awk -v w="$writes_churn" -v t="$t_churn" 'BEGIN { printf "%.0f", w * 60 / t }')
stale_after=$(stale_reports)
reports_changed=$(named_versions | comm -13 "$dir/versions-before-churn" - | wc -l)
log "churn: $changes changes ($failed failed) in $t_churn s, $writes_churn report writes; $stale_after reports differ from a fresh scan"

# ---------------------------------------------------------------------------
warnings=$(grep -c -E '\b(WARN|ERROR)\b' "$dir/logs/operator.log" || true)
{
  printf 'pods: %d  namespaces: %d (+%d system)  policies: %d\n' \
    $((NAMESPACES * PODS)) "$NAMESPACES" "$system_namespaces" $((NAMESPACES * 3))
  printf 'created in %s s; every namespace has a report: %s s; every report counts all pods: %s s (%s s after the last create)\n' \
    "$t_created" "$t_reports" "$t_complete" "$t_after_created"
  printf 'operator RSS: baseline %s MiB, loaded %s MiB, settled %s MiB -> %s bytes/pod above baseline\n' \
    "$(mib "$rss_baseline")" "$(mib "$rss_loaded")" "$(mib "$rss_settled")" "$per_pod"
  printf 'idle: %d report writes in %d s (2 resyncs), resourceVersions unchanged: %s\n' \
    "$writes_idle" "$IDLE_SECONDS" "$unchanged"
  printf 'churn: %d changes in %s s (%d pod relabels, %d policy deletes, %d re-creates, %d failed) -> %d report writes (%s/min) to %d reports\n' \
    "$changes" "$t_churn" "$relabels" "$deletes" "$creates" "$failed" "$writes_churn" "$per_minute" "$reports_changed"
  printf 'reports differing from a fresh scan: %d before churn, %d after; load namespaces not covered before churn: %d\n' \
    "$stale_before" "$stale_after" "$uncovered"
  printf 'operator log WARN/ERROR lines: %d\n' "$warnings"
} | tee "$dir/summary.txt"
