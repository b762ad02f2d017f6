#!/usr/bin/env python3
"""Compares netposture's connectivity map with NCA's, pod pair by pod pair.

usage: nca_compare.py DIR

For each DIR/NAME.json (a generated v1 List both analyzers read), reads
DIR/NAME.netposture.txt (`netposture connectivity -o pairs -f NAME.json`) and
DIR/NAME.nca.txt (`nca --connectivity -r NAME.json --output_format
txt_no_fw_rules --output_endpoints pods`).

Compared: every ordered pair of distinct pods and each of TCP, UDP, SCTP,
as the set of destination ports allowed. The documented divergences of
bench/nca-diff.sh are excluded or mapped here (see that script's header).
Prints the counts of each cluster and their totals, and the first
differences; exits 1 when a difference is not explained.
"""

import ipaddress
import json
import pathlib
import string
import re
import sys

PROTOCOLS = ("TCP", "UDP", "SCTP")
ALL_PORTS = ((1, 65535),)
# NCA invents this pod when a rule names DNS peers that match nothing.
NCA_INVENTED_POD = "kube-dns-livesim"
SHOWN_DIFFERENCES = 10
# NCA models at most this many pods of a namespace, workload and label set.
NCA_CLASS_LIMIT = 2


def normalize(ranges):
    """Sorted, merged, inclusive (start, end) tuples."""
    merged = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def parse_ports(text):
    if text == "-":
        return ()
    ranges = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        start, _, end = part.partition("-")
        ranges.append((int(start), int(end or start)))
    return normalize(ranges)


def nca_workload(metadata):
    """The workload NCA assigns a pod to: its owner, less a ReplicaSet's hash suffix."""
    owners = metadata.get("ownerReferences") or []
    if not owners:
        return f'{metadata["name"]}(Pod)'
    name, kind = owners[0].get("name", ""), owners[0].get("kind", "")
    prefix, dash, suffix = name.rpartition("-")
    if kind == "ReplicaSet" and dash and all(c in string.hexdigits for c in suffix):
        return f"{prefix}(Deployment-StatefulSet)"
    return f"{name}({kind})"


def read_pods(path):
    """Pod names (namespace/name) and the hostNetwork ones. Fails when NCA
    would keep only two pods of a class it deems interchangeable (same
    namespace, workload and labels): that part of its map is left out."""
    with open(path) as handle:
        items = json.load(handle)["items"]
    pods, host_network, classes = [], set(), {}
    for item in items:
        if item.get("kind") != "Pod":
            continue
        metadata = item["metadata"]
        namespace = metadata.get("namespace", "default")
        name = f'{namespace}/{metadata["name"]}'
        pods.append(name)
        if item.get("spec", {}).get("hostNetwork"):
            host_network.add(name)
            continue
        labels = tuple(sorted((metadata.get("labels") or {}).items()))
        key = (namespace, nca_workload(metadata), labels)
        classes[key] = classes.get(key, 0) + 1
        if classes[key] > NCA_CLASS_LIMIT:
            raise ValueError(
                f"{path}: more than {NCA_CLASS_LIMIT} pods like {name}: NCA drops the rest"
            )
    return pods, host_network


def read_netposture(path):
    allowed, cni_dependent = {}, {}
    with open(path) as handle:
        for line in handle:
            fields = line.split()
            if not fields:
                continue
            source, destination, protocol, ports, cni_ports = fields
            key = (source, destination, protocol)
            allowed[key] = parse_ports(ports)
            cni_dependent[key] = parse_ports(cni_ports)
    return allowed, cni_dependent


def is_pod(endpoint):
    """`namespace/pod`, not an address range such as 10.0.0.0-10.255.255.255 or a CIDR."""
    head, slash, _ = endpoint.partition("/")
    if not slash:
        return False
    try:
        ipaddress.ip_address(head.split("-")[0])
        return False
    except ValueError:
        return True


CONNECTION = re.compile(r"\{([^}]*)\}")


def parse_connection(text):
    """NCA's connection text as {protocol: ranges}."""
    text = text.strip()
    if text == "All connections":
        return {protocol: ALL_PORTS for protocol in PROTOCOLS}
    if text in ("", "No connections"):
        return {}
    result = {}
    for body in CONNECTION.findall(text):
        protocols_text, _, ports_text = body.partition(",dst_ports:")
        if not protocols_text.startswith("protocols:"):
            raise ValueError(f"unexpected NCA connection {text!r}")
        if any(key in ports_text for key in ("src_ports", "methods", "paths", "hosts", "icmp")):
            raise ValueError(f"unexpected NCA connection {text!r}")
        ports = parse_ports(ports_text) if ports_text else ALL_PORTS
        for protocol in protocols_text[len("protocols:"):].split(","):
            protocol = protocol.strip()
            result[protocol] = normalize(result.get(protocol, ()) + ports)
    if not result:
        raise ValueError(f"unexpected NCA connection {text!r}")
    return result


def read_nca(path):
    allowed, invented = {}, 0
    with open(path) as handle:
        for line in handle:
            if " => " not in line:
                continue
            ends, _, connection = line.partition(" : ")
            source, _, destination = (part.strip() for part in ends.partition(" => "))
            if NCA_INVENTED_POD in source or NCA_INVENTED_POD in destination:
                invented += 1
                continue
            if not (is_pod(source) and is_pod(destination)):
                continue
            for protocol, ports in parse_connection(connection).items():
                key = (source, destination, protocol)
                allowed[key] = normalize(allowed.get(key, ()) + ports)
    return allowed, invented


def compare(manifest, netposture_path, nca_path):
    pods, host_network = read_pods(manifest)
    ours, cni_dependent = read_netposture(netposture_path)
    theirs, invented = read_nca(nca_path)
    counts = {
        "compared": 0,
        "agree_allowed": 0,
        "agree_denied": 0,
        "agree_cni_dependent_denied_by_nca": 0,
        "differ": 0,
        "excluded_host_network": 0,
        "excluded_nca_invented_dns_edges": invented,
    }
    differences = []
    for source in pods:
        for destination in pods:
            if source == destination:
                continue
            for protocol in PROTOCOLS:
                if source in host_network or destination in host_network:
                    counts["excluded_host_network"] += 1
                    continue
                key = (source, destination, protocol)
                mine = ours.get(key, ())
                nca = theirs.get(key, ())
                counts["compared"] += 1
                if mine != nca:
                    counts["differ"] += 1
                    if len(differences) < SHOWN_DIFFERENCES:
                        differences.append(
                            {"connection": " ".join(key), "netposture": mine, "nca": nca}
                        )
                elif cni_dependent.get(key):
                    # NCA never matches an ipBlock against a pod IP, as Cilium does.
                    counts["agree_cni_dependent_denied_by_nca"] += 1
                elif mine:
                    counts["agree_allowed"] += 1
                else:
                    counts["agree_denied"] += 1
    unknown = sorted(({k[0] for k in theirs} | {k[1] for k in theirs}) - set(pods))
    if unknown:
        raise ValueError(f"NCA names pods the manifest lacks: {unknown[:5]}")
    return counts, differences


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = pathlib.Path(sys.argv[1])
    manifests = sorted(directory.glob("*.json"))
    if not manifests:
        sys.exit(f"no *.json in {directory}")
    totals, shown = {}, []
    for manifest in manifests:
        stem = manifest.with_suffix("")
        counts, differences = compare(
            manifest, f"{stem}.netposture.txt", f"{stem}.nca.txt"
        )
        print(f"{manifest.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        shown.extend(differences[: SHOWN_DIFFERENCES - len(shown)])
    print(f"total over {len(manifests)} clusters: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    for difference in shown:
        print(f"differs: {difference['connection']}: netposture {list(difference['netposture'])}, NCA {list(difference['nca'])}")
    sys.exit(1 if totals["differ"] else 0)


if __name__ == "__main__":
    main()
