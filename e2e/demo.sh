#!/usr/bin/env bash
# e2e/demo.sh - the README's main job (`just demo`): a local control plane, the
# operator running as its own ServiceAccount, the example cluster applied, the
# reports it produces, and a Prometheus server that scrapes the operator and
# fires the shipped alerts (e2e/prometheus.sh: their `for:` cut to 5 s).
#
#   e2e/demo.sh up     start (or reuse) everything and print reports and alerts
#   e2e/demo.sh down   stop Prometheus, the operator and the control plane
#
# State lives in $NETPOSTURE_CLUSTER_DIR (default /tmp/netposture-cluster).
# The example workloads become Pod objects, because the local control plane
# has no kubelet to create them.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly DIR=${NETPOSTURE_CLUSTER_DIR:-/tmp/netposture-cluster}
readonly METRICS_ADDR=${NETPOSTURE_DEMO_METRICS_ADDR:-127.0.0.1:18080}
readonly ADMISSION_ADDR=${NETPOSTURE_DEMO_ADMISSION_ADDR:-127.0.0.1:18443}
readonly EXAMPLE_NAMESPACES=(shop payments dev monitoring analytics)

log() { printf 'demo: %s\n' "$*" >&2; }

operator_running() {
  [[ -s $DIR/operator.pid ]] && kill -0 "$(<"$DIR/operator.pid")" 2>/dev/null
}

stop_operator() {
  if operator_running; then
    kill -TERM "$(<"$DIR/operator.pid")"
    for _ in $(seq 50); do operator_running || break; sleep 0.2; done
    log "operator stopped"
  fi
  rm -f "$DIR/operator.pid"
}

# One Pod per replica of every example workload, from its pod template.
workload_pods() {
  kubectl get deployments,statefulsets,daemonsets -A -o json | jq '{
    apiVersion: "v1", kind: "List",
    items: [.items[]
      | select(.metadata.namespace != "netposture-system")
      | . as $w
      | range(0; (if $w.kind == "DaemonSet" then 1 else ($w.spec.replicas // 1) end))
      | {apiVersion: "v1", kind: "Pod",
         metadata: {name: "\($w.metadata.name)-\(.)", namespace: $w.metadata.namespace,
                    labels: $w.spec.template.metadata.labels},
         spec: $w.spec.template.spec}]}'
}

cmd_up() {
  e2e/cluster.sh up "$DIR"
  # shellcheck disable=SC1091
  . "$DIR/env"
  local target
  target=$(scripts/target-dir)
  log "building the operator (release)"
  cargo build --release --locked -q -p netposture
  local bin=$target/release/netposture

  # The CRD, RBAC and the operator's own NetworkPolicies of deploy/; the
  # operator runs here as a local process instead of the Deployment.
  kubectl apply -f crds/networkpostures.netposture.io.yaml -f deploy/base/namespace.yaml -f deploy/base/rbac.yaml -f deploy/base/networkpolicy.yaml >/dev/null
  kubectl apply -f deploy/components/admission/rbac.yaml >/dev/null
  register_webhook
  kubectl wait --for=condition=Established crd/networkpostures.netposture.io --timeout=60s >/dev/null
  until kubectl -n netposture-system get serviceaccount netposture >/dev/null 2>&1; do sleep 0.5; done
  # The operator runs as its ServiceAccount, with exactly the ClusterRole
  # from deploy/, as it would in a cluster.
  local kubeconfig
  kubeconfig=$(e2e/cluster.sh kubeconfig netposture-system netposture "$DIR")

  stop_operator
  KUBECONFIG=$kubeconfig POD_NAMESPACE=netposture-system \
    setsid "$bin" operator --metrics-addr "$METRICS_ADDR" --insecure-metrics --identity demo \
    --admission-addr "$ADMISSION_ADDR" --admission-hosts "${ADMISSION_ADDR%:*}" \
    >"$DIR/logs/operator.log" 2>&1 </dev/null &
  echo $! >"$DIR/operator.pid"
  log "operator started (pid $(<"$DIR/operator.pid"), log $DIR/logs/operator.log)"

  log "applying examples/cluster"
  # The 1.20 control plane serves CronJob only as batch/v1beta1, so the one
  # batch/v1 CronJob in examples/cluster/dev.yaml is refused; the rest applies.
  kubectl apply -f examples/cluster 2>&1 >/dev/null |
    grep -v -e 'kind "CronJob" in version "batch/v1"' -e 'ensure CRDs are installed first' >&2 || true
  workload_pods | kubectl apply -f - >/dev/null

  log "waiting for the reports"
  local deadline=$((SECONDS + 60)) ns
  for ns in "${EXAMPLE_NAMESPACES[@]}"; do
    until kubectl get networkposture "$ns" >/dev/null 2>&1; do
      ((SECONDS < deadline)) || { log "no report for $ns; see $DIR/logs/operator.log"; exit 1; }
      sleep 0.5
    done
  done
  sleep 2 # let the last changes settle into the reports

  echo
  echo "\$ kubectl get networkpostures"
  kubectl get networkpostures
  show_admission_warning
  echo
  echo "\$ curl -s http://$METRICS_ADDR/metrics | grep ..."
  curl -s "http://$METRICS_ADDR/metrics" |
    grep -E '^netposture_(namespaces|cni_info|leader|namespace_covered\{namespace="(shop|analytics)")' || true
  local prometheus
  prometheus=$(e2e/prometheus.sh up "$DIR" "$METRICS_ADDR")
  log "Prometheus scrapes the operator; waiting for the alerts to fire"
  deadline=$((SECONDS + 60))
  # Until something fires and nothing is pending any more: while the lease
  # changes hands at start, the operator-down alert may fire and resolve.
  until [[ -n $(firing_alerts "$prometheus") && $(pending_alerts "$prometheus") == 0 ]]; do
    ((SECONDS < deadline)) || { log "alerts still pending; see $DIR/prometheus/prometheus.log"; break; }
    sleep 1
  done
  echo
  echo "\$ curl -s $prometheus/api/v1/alerts   (firing; the rules' for: cut to 5s for the demo)"
  firing_alerts "$prometheus" | sort | awk -F '\t' '{ printf "%-28s %-18s %s\n", $1, $2, $3 }'
  cat <<EOF

Prometheus' own web UI: $prometheus/alerts (rules, alerts, PromQL)
Look further (first point kubectl at the demo cluster: . $DIR/env):
  kubectl get networkposture analytics -o yaml   checks, evidence, remediation
  kubectl wait networkposture/payments --for=condition=Covered --timeout=5s
  kubectl get events.events.k8s.io -A            coverage lost or gained
  curl -s http://$METRICS_ADDR/metrics   every metric
  $DIR/logs/operator.log   the operator's log
Change something, e.g. give dev a default deny, and watch its report follow:
  kubectl -n dev create -f - <<<'{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}'
  kubectl get npr dev -w
Stop everything: just down
EOF
}

# The webhook of deploy/components/admission at the operator's loopback
# address; registered before the operator starts, which fills its caBundle.
register_webhook() {
  kubectl apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: netposture}
webhooks:
  - name: policies.netposture.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Ignore
    timeoutSeconds: 3
    clientConfig: {url: 'https://$ADMISSION_ADDR/validate'}
    rules:
      - {apiGroups: [networking.k8s.io], apiVersions: ['*'], operations: [CREATE, UPDATE, DELETE], resources: [networkpolicies]}
EOF
}

# One change the webhook warns about, made as a server-side dry run so the
# example cluster stays as it is.
show_admission_warning() {
  local deadline=$((SECONDS + 30))
  until [[ -n $(kubectl get validatingwebhookconfiguration netposture -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]]; do
    ((SECONDS < deadline)) || { log "the webhook's caBundle is still empty; see $DIR/logs/operator.log"; return 0; }
    sleep 0.5
  done
  echo
  echo "\$ kubectl -n shop delete networkpolicy allow-dns --dry-run=server   (the admission webhook warns)"
  kubectl -n shop delete networkpolicy allow-dns --dry-run=server 2>&1 || true
}

# ALERT NAMESPACE SUMMARY, one line per firing alert of the Prometheus at $1.
firing_alerts() {
  curl -fsS "$1/api/v1/alerts" | jq -r '.data.alerts[] | select(.state == "firing")
    | [.labels.alertname, (.labels.namespace // "-"), .annotations.summary] | @tsv'
}

pending_alerts() {
  curl -fsS "$1/api/v1/alerts" | jq '[.data.alerts[] | select(.state == "pending")] | length'
}

cmd_down() {
  e2e/prometheus.sh down "$DIR"
  stop_operator
  if [[ -s $DIR/env ]]; then
    e2e/cluster.sh down "$DIR"
  fi
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  *)
    echo "usage: e2e/demo.sh up|down" >&2
    exit 2
    ;;
esac
