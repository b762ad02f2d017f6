//! The whole connectivity map: for every ordered pair of distinct pods and
//! each protocol, the destination ports allowed, as other analyzers print
//! it. Each port segment in which no policy port, range bound or container
//! port changes the answer is decided once, by [`reach::connection`].

use std::collections::BTreeSet;

use crate::Cluster;
use crate::model::{Direction, PortSpec, Protocol};
use crate::reach::{self, Endpoint, Reach, Remote};

/// Inclusive port ranges, sorted and disjoint.
pub type PortRanges = Vec<(u16, u16)>;

/// What `source` may open on `destination` over `protocol`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairPorts {
    /// `namespace/pod`.
    pub source: String,
    pub destination: String,
    pub protocol: Protocol,
    pub allowed: PortRanges,
    /// Allowed only through an ipBlock holding a pod IP ([`Reach::CniDependent`]).
    pub cni_dependent: PortRanges,
}

/// The first port of each segment of 1..=65535 over which every
/// connection's answer is constant: answers change only at a policy port,
/// just past a range's end, or at a container port (named ports resolve to
/// those).
pub fn segment_starts(cluster: &Cluster) -> Vec<u16> {
    let mut starts = BTreeSet::from([1u16]);
    let mut bound = |start: u16, end: u16| {
        starts.insert(start.max(1));
        if let Some(next) = end.checked_add(1) {
            starts.insert(next);
        }
    };
    for (_, state) in cluster.namespaces() {
        for policy in state.policies.values() {
            let rules = [Direction::Ingress, Direction::Egress]
                .into_iter()
                .flat_map(|d| policy.rules(d).unwrap_or_default());
            for port in rules.flat_map(|rule| &rule.ports) {
                if let PortSpec::Range(start, end) = port.port {
                    bound(start, end);
                }
            }
        }
        for pod in state.pods.values() {
            for port in &pod.ports {
                bound(port.port, port.port);
            }
        }
    }
    starts.into_iter().collect()
}

/// Calls `emit` for every ordered pair of distinct pods and protocol with
/// at least one port not denied, in namespace and pod name order.
pub fn for_each_pair(cluster: &Cluster, mut emit: impl FnMut(PairPorts)) {
    let starts = segment_starts(cluster);
    let pods: Vec<_> = cluster
        .namespaces()
        .flat_map(|(namespace, state)| {
            state.pods.values().map(move |pod| {
                let endpoint = Endpoint {
                    namespace,
                    namespace_labels: &state.labels,
                    pod,
                };
                let egress = reach::selecting(state, pod, Direction::Egress);
                let ingress = reach::selecting(state, pod, Direction::Ingress);
                (endpoint, egress, ingress)
            })
        })
        .collect();
    for (source, egress, _) in &pods {
        for (destination, _, ingress) in &pods {
            if source.namespace == destination.namespace && source.pod.name == destination.pod.name
            {
                continue;
            }
            for protocol in Protocol::ALL {
                let mut allowed = PortRanges::new();
                let mut cni_dependent = PortRanges::new();
                for (i, &start) in starts.iter().enumerate() {
                    let end = starts.get(i + 1).map_or(u16::MAX, |next| next - 1);
                    let answer = reach::connection(
                        source,
                        egress,
                        &Remote::Pod(*destination),
                        ingress,
                        protocol,
                        start,
                    );
                    match answer {
                        Reach::Allowed => extend(&mut allowed, start, end),
                        Reach::CniDependent => extend(&mut cni_dependent, start, end),
                        Reach::Denied => {}
                    }
                }
                if !allowed.is_empty() || !cni_dependent.is_empty() {
                    emit(PairPorts {
                        source: format!("{}/{}", source.namespace, source.pod.name),
                        destination: format!("{}/{}", destination.namespace, destination.pod.name),
                        protocol,
                        allowed,
                        cni_dependent,
                    });
                }
            }
        }
    }
}

/// Appends `start..=end`, merged with the last range when adjacent.
fn extend(ranges: &mut PortRanges, start: u16, end: u16) {
    match ranges.last_mut() {
        Some((_, last_end)) if last_end.checked_add(1) == Some(start) => *last_end = end,
        _ => ranges.push((start, end)),
    }
}
