//! Whether traffic between two pods is allowed: the source's egress AND the
//! destination's ingress, each the union of the rules of the policies that
//! select that pod for that direction.

use std::net::IpAddr;

use kube_core::SelectorExt;

use crate::cluster::NamespaceState;
use crate::model::{Direction, Labels, Peer, Pod, Policy, Protocol};

/// Ordered so that `max` is the most permissive answer and `min` combines two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    Denied,
    /// Allowed only through an `ipBlock` that holds a pod IP: Calico matches
    /// it, Cilium does not.
    CniDependent,
    Allowed,
}

/// A pod with the namespace it lives in.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    pub namespace: &'a str,
    pub namespace_labels: &'a Labels,
    pub pod: &'a Pod,
}

/// The far end of a connection: a pod, or an address outside any pod.
#[derive(Clone, Copy, Debug)]
pub enum Remote<'a> {
    Pod(Endpoint<'a>),
    Address(IpAddr),
}

impl Remote<'_> {
    fn pod(&self) -> Option<&Pod> {
        match self {
            Remote::Pod(endpoint) => Some(endpoint.pod),
            Remote::Address(_) => None,
        }
    }
}

/// Policies of `namespace` that select `pod` and list `direction`. None for
/// a hostNetwork pod: its traffic is its node's, which NetworkPolicy does not
/// govern, so its namespace's policies neither isolate it nor open it.
pub fn selecting<'a>(
    namespace: &'a NamespaceState,
    pod: &Pod,
    direction: Direction,
) -> Vec<&'a Policy> {
    if pod.host_network {
        return Vec::new();
    }
    namespace
        .policies
        .values()
        .filter(|p| p.rules(direction).is_some() && p.pod_selector.matches(&pod.labels))
        .collect()
}

/// Whether `peer`, written in a policy of `policy_namespace`, matches `other`.
pub fn peer_matches(peer: &Peer, policy_namespace: &str, other: &Remote<'_>) -> Reach {
    let other = match other {
        Remote::Address(ip) => {
            return match peer {
                Peer::IpBlock(block) if block.contains(*ip) => Reach::Allowed,
                _ => Reach::Denied,
            };
        }
        Remote::Pod(endpoint) => endpoint,
    };
    match peer {
        // Selectors do not match host-network pods on most CNIs.
        Peer::Selector { .. } if other.pod.host_network => Reach::Denied,
        Peer::Selector { namespaces, pods } => {
            let namespace_ok = match namespaces {
                None => other.namespace == policy_namespace,
                Some(selector) => selector.matches(other.namespace_labels),
            };
            let pod_ok = pods.as_ref().is_none_or(|s| s.matches(&other.pod.labels));
            if namespace_ok && pod_ok {
                Reach::Allowed
            } else {
                Reach::Denied
            }
        }
        Peer::IpBlock(block) => {
            if other.pod.ips.iter().any(|ip| block.contains(*ip)) {
                Reach::CniDependent
            } else {
                Reach::Denied
            }
        }
    }
}

/// One side of a connection: `policies` all select the local pod for
/// `direction` and were written in `policy_namespace`; `other` is the remote
/// end; `destination` (when a pod) resolves named ports.
pub fn side(
    policies: &[&Policy],
    policy_namespace: &str,
    direction: Direction,
    other: &Remote<'_>,
    protocol: Protocol,
    port: u16,
    destination: Option<&Pod>,
) -> Reach {
    if policies.is_empty() {
        return Reach::Allowed;
    }
    let mut best = Reach::Denied;
    for policy in policies {
        for rule in policy.rules(direction).unwrap_or_default() {
            if !rule.admits_port(protocol, port, destination) {
                continue;
            }
            let reach = if rule.peers.is_empty() {
                Reach::Allowed
            } else {
                rule.peers
                    .iter()
                    .map(|peer| peer_matches(peer, policy_namespace, other))
                    .max()
                    .unwrap_or(Reach::Denied)
            };
            if reach == Reach::Allowed {
                return reach;
            }
            best = best.max(reach);
        }
    }
    best
}

/// Both sides, given the policies already selected for each end. For an
/// address destination only the source's egress applies.
pub fn connection(
    source: &Endpoint<'_>,
    source_egress: &[&Policy],
    destination: &Remote<'_>,
    destination_ingress: &[&Policy],
    protocol: Protocol,
    port: u16,
) -> Reach {
    // A pod can always reach itself.
    if let Remote::Pod(d) = destination
        && d.namespace == source.namespace
        && d.pod.name == source.pod.name
    {
        return Reach::Allowed;
    }
    let egress = side(
        source_egress,
        source.namespace,
        Direction::Egress,
        destination,
        protocol,
        port,
        destination.pod(),
    );
    let Remote::Pod(target) = destination else {
        return egress;
    };
    if egress == Reach::Denied {
        return egress;
    }
    let ingress = side(
        destination_ingress,
        target.namespace,
        Direction::Ingress,
        &Remote::Pod(*source),
        protocol,
        port,
        Some(target.pod),
    );
    egress.min(ingress)
}
