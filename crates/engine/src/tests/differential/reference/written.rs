//! The reference's reading of the API objects: selectors, and each
//! NetworkPolicy and pod as written, without the engine's model.

use super::*;

pub(super) fn compile(selector: &LabelSelector) -> Selector {
    Selector::try_from(selector.clone()).expect("generated selectors are valid")
}

pub(super) fn is_empty_selector(selector: Option<&LabelSelector>) -> bool {
    selector.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    })
}

pub(super) fn written_peer(peer: &NetworkPolicyPeer) -> PeerRule {
    if let Some(block) = &peer.ip_block {
        let parse = |cidr: &str| cidr.parse::<IpNet>().expect("generated CIDRs are valid");
        return PeerRule::Block {
            cidr: parse(&block.cidr),
            except: block.except.iter().flatten().map(|e| parse(e)).collect(),
        };
    }
    PeerRule::Selectors {
        namespaces: peer.namespace_selector.as_ref().map(compile),
        pods: peer.pod_selector.as_ref().map(compile),
    }
}

pub(super) fn written_rule(
    peers: Option<&Vec<NetworkPolicyPeer>>,
    ports: Option<&Vec<NetworkPolicyPort>>,
) -> RuleSet {
    RuleSet {
        peers: peers.into_iter().flatten().map(written_peer).collect(),
        ports: ports.cloned().unwrap_or_default(),
    }
}

pub(super) fn written_policy(policy: &NetworkPolicy) -> WrittenPolicy {
    let spec = policy.spec.clone().unwrap_or_default();
    let types = spec.policy_types.clone().unwrap_or_default();
    // Rule 2: an empty policyTypes means Ingress, plus Egress when egress rules exist.
    let (lists_ingress, lists_egress) = if types.is_empty() {
        (
            true,
            spec.egress.as_ref().is_some_and(|rules| !rules.is_empty()),
        )
    } else {
        (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        )
    };
    let ingress = spec
        .ingress
        .iter()
        .flatten()
        .map(|r| written_rule(r.from.as_ref(), r.ports.as_ref()))
        .collect();
    let egress = spec
        .egress
        .iter()
        .flatten()
        .map(|r| written_rule(r.to.as_ref(), r.ports.as_ref()))
        .collect();
    WrittenPolicy {
        namespace: policy.metadata.namespace.clone().unwrap_or_default(),
        selects_every_pod: is_empty_selector(spec.pod_selector.as_ref()),
        pod_selector: spec.pod_selector.as_ref().map(compile).unwrap_or_default(),
        ingress: lists_ingress.then_some(ingress),
        egress: lists_egress.then_some(egress),
    }
}

pub(super) fn workload(pod: &Pod) -> Workload {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let mut addresses: Vec<IpAddr> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .chain(status.pod_ip.as_deref())
        .map(|ip| ip.parse().expect("generated addresses are valid"))
        .collect();
    addresses.dedup();
    // Native sidecars (init containers restarted for the pod's whole life)
    // serve their ports; other init containers are gone before traffic flows.
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    let ports = spec
        .containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| {
            (
                p.name.clone(),
                p.container_port,
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect();
    Workload {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        host_network: spec.host_network == Some(true),
        addresses,
        ports,
    }
}
