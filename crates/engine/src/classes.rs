//! Pods grouped by what NetworkPolicies can see of them. Two pods of one
//! namespace are interchangeable in every connection when they agree on the
//! values (or absence) of every label key some policy selector reads, on
//! their container ports with names, on hostNetwork, and on which ipBlocks
//! hold one of their IPs. Every other label (`pod-template-hash`,
//! `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`, job
//! uids, versions) splits nothing, so a cluster whose every pod carries its
//! own labels still has about one class per app and namespace. Only
//! NetworkPolicy selectors are read: the connectivity map, the one user,
//! leaves policy layers out (a user that adds them must add their keys).
//!
//! Kept per query, not in the [`Cluster`]: building the classes is one pass
//! over the policies (the keys and ipBlocks they read) and one over the
//! pods, linear and small beside the pairs a query then decides. The
//! operator applies watch events to the `Cluster` alone, so no event
//! re-keys any pod; a selector that reads a new key costs nothing until the
//! next query, which sees it.

use std::collections::{BTreeSet, HashMap};

use crate::Cluster;
use crate::model::{self, ContainerPort, Direction, IpBlock, Labels, Peer, Pod, Policy};
use crate::pod_cidrs::PodCidrs;
use crate::reach::{self, Endpoint};

/// Pods no NetworkPolicy can tell apart.
#[derive(Debug)]
pub struct PodClass<'a> {
    pub namespace: &'a str,
    pub namespace_labels: &'a Labels,
    /// Where a member whose IP is not known may have it.
    pub pod_cidrs: &'a PodCidrs,
    /// In name order; never empty.
    pub members: Vec<&'a Pod>,
    /// Per key of [`PodClasses::keys`]: the members' value, if any.
    pub values: Vec<Option<&'a str>>,
    /// The policies of the namespace selecting the members, per direction.
    pub egress: Vec<&'a Policy>,
    pub ingress: Vec<&'a Policy>,
}

impl<'a> PodClass<'a> {
    /// The member at `index`, with its namespace.
    pub fn endpoint(&self, index: usize) -> Option<Endpoint<'a>> {
        self.members.get(index).map(|pod| Endpoint {
            namespace: self.namespace,
            namespace_labels: self.namespace_labels,
            pod,
            pod_cidrs: self.pod_cidrs,
        })
    }
}

#[derive(Debug, Default)]
pub struct PodClasses<'a> {
    /// Every label key some pod selector reads, sorted.
    pub keys: Vec<String>,
    /// In namespace order, then by the name of their first member.
    pub classes: Vec<PodClass<'a>>,
    /// Every pod in namespace and name order, with the index of its class.
    pub pods: Vec<(Endpoint<'a>, usize)>,
}

/// What decides a pod's connections besides its name.
#[derive(PartialEq, Eq, Hash)]
struct Signature<'a> {
    namespace: &'a str,
    /// Per key selectors read, in key order: the pod's value, if any.
    labels: Vec<Option<&'a str>>,
    ports: &'a [ContainerPort],
    host_network: bool,
    /// Which of the policies' ipBlocks hold (or, for a pod whose IP is not
    /// known, may hold) one of the pod's IPs.
    blocks: Vec<bool>,
}

impl<'a> PodClasses<'a> {
    /// `pod_cidrs`: where a pod whose IP is not known may have it.
    pub fn new(cluster: &'a Cluster, pod_cidrs: &'a PodCidrs) -> Self {
        let keys = selector_keys(cluster);
        let blocks = ip_blocks(cluster);
        let mut index: HashMap<Signature<'a>, usize> = HashMap::new();
        let mut grouped = PodClasses::default();
        for (namespace, state) in cluster.namespaces() {
            for pod in state.pods.values() {
                let endpoint = Endpoint {
                    namespace,
                    namespace_labels: &state.labels,
                    pod,
                    pod_cidrs,
                };
                let signature = Signature {
                    namespace,
                    labels: keys
                        .iter()
                        .map(|key| pod.labels.get(key).map(String::as_str))
                        .collect(),
                    ports: &pod.ports,
                    host_network: pod.host_network,
                    blocks: blocks
                        .iter()
                        .map(|block| endpoint.may_be_in(block))
                        .collect(),
                };
                let classes = &mut grouped.classes;
                let class = *index.entry(signature).or_insert_with_key(|signature| {
                    classes.push(PodClass {
                        namespace,
                        namespace_labels: &state.labels,
                        pod_cidrs,
                        members: Vec::new(),
                        values: signature.labels.clone(),
                        egress: reach::selecting(state, pod, Direction::Egress),
                        ingress: reach::selecting(state, pod, Direction::Ingress),
                    });
                    classes.len() - 1
                });
                classes[class].members.push(pod);
                grouped.pods.push((endpoint, class));
            }
        }
        grouped.keys = keys;
        grouped
    }

    /// The labels of `class` that selectors read, as `key=value`.
    pub fn labels(&self, class: &PodClass<'_>) -> Vec<String> {
        self.keys
            .iter()
            .zip(&class.values)
            .filter_map(|(key, value)| value.map(|value| format!("{key}={value}")))
            .collect()
    }
}

/// Every label key a pod selector of some policy reads, as its own selector
/// or a rule peer's, sorted.
fn selector_keys(cluster: &Cluster) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for (_, state) in cluster.namespaces() {
        for policy in state.policies.values() {
            let peers = [Direction::Ingress, Direction::Egress]
                .into_iter()
                .flat_map(|d| policy.rules(d).unwrap_or_default())
                .flat_map(|rule| &rule.peers);
            let peer_selectors = peers.filter_map(|peer| match peer {
                Peer::Selector { pods, .. } => pods.as_ref(),
                Peer::IpBlock(_) => None,
            });
            for selector in std::iter::once(&policy.pod_selector).chain(peer_selectors) {
                keys.extend(model::selector_keys(selector));
            }
        }
    }
    keys.into_iter().collect()
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
