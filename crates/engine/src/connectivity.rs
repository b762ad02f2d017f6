//! The whole connectivity map: for every ordered pair of distinct pods and
//! each protocol, the destination ports allowed, as other analyzers print
//! it. Each port segment in which no policy port, range bound or container
//! port changes the answer is decided once, by [`reach::connection`].
//! The map is Kubernetes NetworkPolicy's alone, as the analyzers it is
//! compared with see it: policy layers are left out.

use std::collections::{BTreeSet, HashMap};

use crate::Cluster;
use crate::model::{ContainerPort, Direction, IpBlock, Labels, Peer, Policy, PortSpec, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};

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
    /// Allowed only through an ipBlock that holds (or may hold) a pod IP ([`Reach::CniDependent`]).
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
///
/// Pods that no policy can tell apart (same namespace, labels, container
/// ports, host networking, and the same ipBlocks holding their IPs) form a
/// class; each pair of classes is decided once.
///
/// `pod_cidrs` are where a pod whose IP is not known may have it.
pub fn for_each_pair(cluster: &Cluster, pod_cidrs: &PodCidrs, mut emit: impl FnMut(PairPorts)) {
    let starts = segment_starts(cluster);
    let blocks = ip_blocks(cluster);
    let mut class_of: HashMap<ClassKey<'_>, usize> = HashMap::new();
    // Per class: one member, a second one if any, and the policies selecting them.
    let mut classes: Vec<Class<'_>> = Vec::new();
    let mut pods: Vec<(Endpoint<'_>, usize)> = Vec::new();
    for (namespace, state) in cluster.namespaces() {
        for pod in state.pods.values() {
            let endpoint = Endpoint {
                namespace,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs,
            };
            let key = ClassKey {
                namespace,
                labels: &pod.labels,
                ports: &pod.ports,
                host_network: pod.host_network,
                blocks: blocks
                    .iter()
                    .map(|block| endpoint.may_be_in(block))
                    .collect(),
            };
            let class = *class_of.entry(key).or_insert_with(|| {
                classes.push(Class {
                    member: endpoint,
                    other_member: None,
                    egress: reach::selecting(state, pod, Direction::Egress),
                    ingress: reach::selecting(state, pod, Direction::Ingress),
                });
                classes.len() - 1
            });
            // A class never spans namespaces, so another name is another pod.
            if classes[class].member.pod.name != pod.name {
                classes[class].other_member.get_or_insert(endpoint);
            }
            pods.push((endpoint, class));
        }
    }
    let decide = |source: &Class<'_>, destination: &Endpoint<'_>, ingress: &[&Policy]| {
        Protocol::ALL.map(|protocol| {
            let mut allowed = PortRanges::new();
            let mut cni_dependent = PortRanges::new();
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).map_or(u16::MAX, |next| next - 1);
                let answer = reach::connection(
                    &source.member,
                    &source.egress,
                    &Remote::Pod(*destination),
                    ingress,
                    &LayerEnds::NONE,
                    protocol,
                    start,
                );
                match answer {
                    Reach::Allowed => extend(&mut allowed, start, end),
                    Reach::CniDependent => extend(&mut cni_dependent, start, end),
                    // Without layers every rule is evaluated: nothing is undetermined.
                    Reach::Denied | Reach::Undetermined => {}
                }
            }
            (allowed, cni_dependent)
        })
    };
    // answers[s * n + d]: class s to class d; for s == d, between two members.
    let n = classes.len();
    let mut answers = Vec::with_capacity(n * n);
    for source in &classes {
        for (d, destination) in classes.iter().enumerate() {
            let end = if std::ptr::eq(source, &classes[d]) {
                destination.other_member
            } else {
                Some(destination.member)
            };
            answers.push(end.map(|end| decide(source, &end, &destination.ingress)));
        }
    }
    for (source, s) in &pods {
        for (destination, d) in &pods {
            if s == d && source.pod.name == destination.pod.name {
                continue;
            }
            let Some(answer) = &answers[s * n + d] else {
                continue;
            };
            for (protocol, (allowed, cni_dependent)) in Protocol::ALL.into_iter().zip(answer) {
                if !allowed.is_empty() || !cni_dependent.is_empty() {
                    emit(PairPorts {
                        source: format!("{}/{}", source.namespace, source.pod.name),
                        destination: format!("{}/{}", destination.namespace, destination.pod.name),
                        protocol,
                        allowed: allowed.clone(),
                        cni_dependent: cni_dependent.clone(),
                    });
                }
            }
        }
    }
}

/// What decides a pod's connections besides its name.
#[derive(PartialEq, Eq, Hash)]
struct ClassKey<'a> {
    namespace: &'a str,
    labels: &'a Labels,
    ports: &'a [ContainerPort],
    host_network: bool,
    /// Which of the cluster's ipBlocks hold (or may hold) one of the pod's IPs.
    blocks: Vec<bool>,
}

struct Class<'a> {
    member: Endpoint<'a>,
    other_member: Option<Endpoint<'a>>,
    egress: Vec<&'a Policy>,
    ingress: Vec<&'a Policy>,
}

/// Every distinct ipBlock peer of every policy.
fn ip_blocks(cluster: &Cluster) -> Vec<&IpBlock> {
    let mut blocks: Vec<&IpBlock> = Vec::new();
    for (_, state) in cluster.namespaces() {
        for policy in state.policies.values() {
            let rules = [Direction::Ingress, Direction::Egress]
                .into_iter()
                .flat_map(|d| policy.rules(d).unwrap_or_default());
            for peer in rules.flat_map(|rule| &rule.peers) {
                if let Peer::IpBlock(block) = peer
                    && !blocks.contains(&block)
                {
                    blocks.push(block);
                }
            }
        }
    }
    blocks
}

/// Appends `start..=end`, merged with the last range when adjacent.
fn extend(ranges: &mut PortRanges, start: u16, end: u16) {
    match ranges.last_mut() {
        Some((_, last_end)) if last_end.checked_add(1) == Some(start) => *last_end = end,
        _ => ranges.push((start, end)),
    }
}
