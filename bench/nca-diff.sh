#!/usr/bin/env bash
# bench/nca-diff.sh - differential test against NCA (network-config-analyzer
# from PyPI): generated clusters, each analyzed by `netposture connectivity`
# and `nca --connectivity`, compared pod pair by pod pair, protocol by
# protocol, as sets of destination ports (bench/nca_compare.py).
#
# Documented divergences of NCA from the API server and the data plane,
# and how this comparison handles each:
#  1. NCA never matches an ipBlock against a pod IP (Cilium's behaviour);
#     netposture reports such connections as CNI-dependent (Calico allows
#     them). Compared: NCA must deny exactly those ports, counted apart.
#  2. NCA treats hostNetwork pods as ordinary pods that policies select;
#     NetworkPolicy does not govern the node's network. Excluded: every
#     pair with a hostNetwork pod (the generated calico-node pods).
#  3. NCA invents a kube-system/kube-dns-livesim pod when a rule names DNS
#     peers that match nothing. Excluded: its edges.
#  4. NCA turns `egress: []` without policyTypes into egress isolation;
#     the API server adds Egress only for a non-empty list. Avoided: the
#     generator always writes policyTypes where it writes egress.
#  5. NCA aborts on one object the API server would reject, and may lose a
#     Namespace's labels when it reads a Pod first. Avoided: the generator
#     writes only valid objects, in one v1 List with Namespaces first.
#  6. NCA keeps at most two pods of one namespace, workload and label set
#     (it ignores pod IPs, so it deems them interchangeable) and leaves the
#     others out of its map. Avoided: at most 10 pods per namespace, two
#     per generated app; nca_compare.py fails if a cluster has more.
# NCA also cannot tell "isolated but allowed everything" from "not
# isolated"; connectivity is all that is compared here.
#
# Environment: NCA_DIFF_CLUSTERS (default 20), NCA_DIFF_DIR (default a
# temporary directory, removed). Exits 1 on any unexplained difference.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

readonly CLUSTERS="${NCA_DIFF_CLUSTERS:-20}"
readonly STYLES=(all mixed default-deny allow-same-namespace cross-namespace ipblock named-ports realistic)

work="${NCA_DIFF_DIR:-}"
if [[ -z $work ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

ensure_nca
build_release

for seed in $(seq 1 "$CLUSTERS"); do
  # 4 to 6 namespaces of 6 to 10 pods (24 to 60 in all), 2 to 6 policies each.
  namespaces=$((4 + seed % 3))
  pods=$((6 + (seed * 3) % 5))
  policies=$((2 + seed % 5))
  style=${STYLES[seed % ${#STYLES[@]}]}
  name=$(printf 'cluster-%03d' "$seed")
  generate "$work/$name.json" "$namespaces" "$pods" "$policies" --seed "$seed" --style "$style"
  "$NETPOSTURE" connectivity -o pairs -f "$work/$name.json" >"$work/$name.netposture.txt"
  nca_connectivity "$work/$name.json" "$work/$name.nca.txt" >"$work/$name.nca.log" 2>&1 \
    || { log "NCA failed on $name:"; tail -n 5 "$work/$name.nca.log" >&2; exit 1; }
  log "$name: seed $seed, style $style, $namespaces namespaces x $pods pods, $policies policies each"
done
python3 bench/nca_compare.py "$work"
