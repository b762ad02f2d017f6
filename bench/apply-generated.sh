#!/usr/bin/env bash
# bench/apply-generated.sh [TESTGEN ARGS...] - creates a generated cluster
# in the control plane of the current KUBECONFIG (e.g. `source DIR/env`
# after `e2e/cluster.sh up DIR`): netposture-testgen writes Lists of at most
# CHUNK objects, Namespaces first, and each is server-side applied in turn.
#
# Example: bench/apply-generated.sh --namespaces 100 --pods-per-namespace 50 --style mixed
#
# What an API server would not take as written is removed with jq first:
# Pod status (pods stay Pending, without IPs, on the local control plane,
# which has no kubelet, so ipBlock matches of pod IPs stay offline-only),
# uids, and owner references to ReplicaSets that do not exist (the garbage
# collector would delete the pods). endPort is removed too: the local
# control plane's API server (1.20) predates it. Environment: CHUNK
# (default 500 objects). The pods name nodes that do not exist: remove them
# with `kubectl delete --force --grace-period=0`, or drop the whole cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

readonly CHUNK="${CHUNK:-500}"
[[ -n ${KUBECONFIG:-} ]] || { log "KUBECONFIG is not set: source the env file of e2e/cluster.sh up"; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_release
"$TESTGEN" --split "$CHUNK" --out "$work" "$@"
waited=
for chunk in "$work"/*.json; do
  # New namespaces get their default ServiceAccount from the controller
  # manager; pods naming it are refused until then. Namespaces come first,
  # so all exist by the first chunk with a Pod.
  if [[ -z $waited ]] && grep -q '"kind":"Pod"' "$chunk"; then
    for namespace in $(kubectl get namespaces -o name | cut -d/ -f2); do
      until kubectl -n "$namespace" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done
    done
    waited=1
  fi
  jq '.items |= map(del(.status, .metadata.uid, .metadata.ownerReferences) | del(.. | .endPort?))' \
    "$chunk" | kubectl apply --server-side --field-manager=netposture-testgen -f - >/dev/null
  log "applied ${chunk##*/}"
done
log "created: $(kubectl get namespaces --no-headers | wc -l) namespaces, $(kubectl get pods -A --no-headers | wc -l) pods, $(kubectl get networkpolicies -A --no-headers | wc -l) policies"
