//! The reference evaluator: NetworkPolicy semantics written a second time,
//! from `docs/semantics.md` alone, as a direct
//! reading of the k8s-openapi objects with no regard for speed. It shares no
//! code with the engine's `convert`, `reach` or `evaluate`: only label
//! matching comes from `kube_core` and address matching from `ipnet`, both
//! libraries.
//!
//! Decisions the semantics reference leaves open, taken here on purpose:
//! - A hostNetwork pod is never protected (rule 16): its own policies are not
//!   consulted in either direction. As a peer, selectors never match it; its
//!   address (the node's) is matched by ipBlocks like a pod address, so on
//!   whether ipBlocks see cluster addresses at all (rule 10).
//! - A pod with several addresses matches an ipBlock when any of them does
//!   (the generator gives each pod at most one).
//! - A pod without an address may get any address of the cluster's pod
//!   ranges, taken as the private, CGNAT and unique-local ranges (rule 10):
//!   where ipBlocks match pod addresses it matches a block when one of
//!   [`UNKNOWN_POD_ADDRESSES`] does, the most an address could allow.
//! - A named port resolves against the destination pod's container ports
//!   (name and protocol) whenever the destination is a pod, whichever peer
//!   matched it; an address outside the cluster never resolves one (rule 15).
//! - Native sidecars (init containers with `restartPolicy: Always`) serve
//!   named ports like ordinary containers; other init containers do not.
//! - Node traffic (kubelet probes, rule 7) is not modelled: there are no nodes.

mod written;

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::{Selector, SelectorExt};

use crate::model::Direction;
use written::*;

type Labels = BTreeMap<String, String>;

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Addresses a pod without one may get: in 10/8, 172.16/12, 192.168/16,
/// 100.64/10 and fc00::/7, one inside and one outside each part the
/// generated ipBlocks cut out of them (the generator's own pod addresses
/// are 10.0.{0,1,2}.x and fd00::x), and likewise around the blocks of
/// `netposture-testgen` (10.64.0.0/10, 10.64.0.0/12 and 192.168.0.0/24, less
/// 10.64.0.0/16 or 10.64.0.0/24).
pub const UNKNOWN_POD_ADDRESSES: [&str; 18] = [
    "10.0.0.3",
    "10.0.0.5",
    "10.0.1.5",
    "10.0.2.5",
    "10.0.2.200",
    "10.1.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "fd00::1",
    "fd00:1::1",
    "fc00::1",
    "fdff:ffff::1",
    "10.64.0.5",
    "10.64.1.5",
    "10.65.0.1",
    "10.100.0.1",
    "192.168.0.1",
];

/// One end of a connection: a pod (by its index in the objects' pod list) or
/// an address outside every pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    Pod(usize),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// As written in the API: "TCP", "UDP" or "SCTP".
    pub protocol: &'static str,
    pub port: u16,
}

/// Whether ipBlocks match addresses of pods: Calico's answer and Cilium's (rule 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpBlocks {
    MatchPodAddresses,
    IgnorePodAddresses,
}

/// One end's view of a connection: `local` sends to (egress) or receives
/// from (ingress) `remote`.
#[derive(Clone, Copy, Debug)]
pub struct Side {
    pub local: Party,
    pub direction: Direction,
    pub remote: Party,
}

struct Workload {
    namespace: String,
    labels: Labels,
    host_network: bool,
    addresses: Vec<IpAddr>,
    /// `(name, number, protocol)` of every container port.
    ports: Vec<(Option<String>, i32, String)>,
}

enum PeerRule {
    Selectors {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    Block {
        cidr: IpNet,
        except: Vec<IpNet>,
    },
}

struct RuleSet {
    /// Empty: every source or destination, in or outside the cluster.
    peers: Vec<PeerRule>,
    /// Empty: every port of every protocol.
    ports: Vec<NetworkPolicyPort>,
}

pub struct WrittenPolicy {
    namespace: String,
    /// `podSelector` missing or written with no requirement at all.
    selects_every_pod: bool,
    pod_selector: Selector,
    /// Present exactly when the direction is in the defaulted `policyTypes`.
    ingress: Option<Vec<RuleSet>>,
    egress: Option<Vec<RuleSet>>,
}

impl WrittenPolicy {
    fn rules(&self, direction: Direction) -> Option<&[RuleSet]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

pub struct Reference {
    namespace_labels: BTreeMap<String, Labels>,
    pods: Vec<Workload>,
    policies: Vec<WrittenPolicy>,
    /// Per pod, the policies that isolate it: `[ingress, egress]`.
    isolating: Vec<[Vec<usize>; 2]>,
}

fn slot(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl Reference {
    pub fn new(namespaces: &[Namespace], pods: &[Pod], policies: &[NetworkPolicy]) -> Self {
        let mut namespace_labels = BTreeMap::new();
        for namespace in namespaces {
            let name = namespace.metadata.name.clone().unwrap_or_default();
            let mut labels = namespace.metadata.labels.clone().unwrap_or_default();
            // Rule 12: the name label is always there, written or not.
            labels.insert(NAME_LABEL.into(), name.clone());
            namespace_labels.insert(name, labels);
        }
        let pods: Vec<Workload> = pods.iter().map(workload).collect();
        for pod in &pods {
            // A namespace with pods but no object still has its name label.
            namespace_labels
                .entry(pod.namespace.clone())
                .or_insert_with(|| Labels::from([(NAME_LABEL.to_string(), pod.namespace.clone())]));
        }
        let policies: Vec<WrittenPolicy> = policies.iter().map(written_policy).collect();
        let isolating = pods
            .iter()
            .map(|pod| {
                [Direction::Ingress, Direction::Egress].map(|direction| {
                    if pod.host_network {
                        return Vec::new();
                    }
                    (0..policies.len())
                        .filter(|&i| {
                            let policy = &policies[i];
                            policy.namespace == pod.namespace
                                && policy.rules(direction).is_some()
                                && policy.pod_selector.matches(&pod.labels)
                        })
                        .collect()
                })
            })
            .collect();
        Reference {
            namespace_labels,
            pods,
            policies,
            isolating,
        }
    }

    /// Whether `from` may open a connection to `to`: the source's egress and
    /// the destination's ingress, where each end is a pod policy applies to.
    pub fn allows(&self, from: Party, to: Party, probe: Probe, blocks: IpBlocks) -> bool {
        if let (Party::Pod(a), Party::Pod(b)) = (from, to)
            && a == b
        {
            // Rule 7: a pod can always reach itself.
            return true;
        }
        let egress = Side {
            local: from,
            direction: Direction::Egress,
            remote: to,
        };
        let ingress = Side {
            local: to,
            direction: Direction::Ingress,
            remote: from,
        };
        self.side_allows(egress, probe, blocks) && self.side_allows(ingress, probe, blocks)
    }

    /// One end's own verdict. Outside the cluster, and on a hostNetwork pod,
    /// nothing is enforced.
    pub fn side_allows(&self, side: Side, probe: Probe, blocks: IpBlocks) -> bool {
        let Party::Pod(index) = side.local else {
            return true;
        };
        let isolating = &self.isolating[index][slot(side.direction)];
        // Rule 3: not isolated allows everything; isolated, the union of the rules.
        isolating.is_empty()
            || isolating.iter().any(|&p| {
                let policy = &self.policies[p];
                policy
                    .rules(side.direction)
                    .unwrap_or_default()
                    .iter()
                    .any(|rule| self.rule_admits(policy, rule, side, probe, blocks))
            })
    }

    /// Whether NetworkPolicies isolate `local`, a pod, for `direction`.
    pub fn isolates(&self, local: Party, direction: Direction) -> bool {
        matches!(local, Party::Pod(index) if !self.isolating[index][slot(direction)].is_empty())
    }

    /// The policies of `namespace` that select every pod there, present and
    /// future, and list `direction`.
    pub fn whole_namespace_policies(&self, namespace: &str, direction: Direction) -> Vec<usize> {
        (0..self.policies.len())
            .filter(|&i| {
                let policy = &self.policies[i];
                policy.namespace == namespace
                    && policy.selects_every_pod
                    && policy.rules(direction).is_some()
            })
            .collect()
    }

    /// Whether every selector peer in those policies' rules for `direction`
    /// selects without condition (`podSelector: {}`, `namespaceSelector: {}`
    /// or both), so that a few sample pods stand for every pod.
    pub fn selector_peers_are_unconditional(
        &self,
        policies: &[usize],
        direction: Direction,
    ) -> bool {
        policies
            .iter()
            .flat_map(|&p| self.policies[p].rules(direction).unwrap_or_default())
            .flat_map(|rule| &rule.peers)
            .all(|peer| match peer {
                PeerRule::Selectors { namespaces, pods } => {
                    namespaces.as_ref().is_none_or(Selector::selects_all)
                        && pods.as_ref().is_none_or(Selector::selects_all)
                }
                PeerRule::Block { .. } => true,
            })
    }

    pub fn rule_count(&self, policy: usize, direction: Direction) -> usize {
        self.policies[policy].rules(direction).map_or(0, <[_]>::len)
    }

    /// Whether rule number `rule` of policy number `policy`, applied to
    /// `side.local`, admits `side.remote`.
    pub fn rule_number_admits(
        &self,
        policy: usize,
        rule: usize,
        side: Side,
        probe: Probe,
        blocks: IpBlocks,
    ) -> bool {
        let written = &self.policies[policy];
        let rule = &written
            .rules(side.direction)
            .expect("the policy lists the direction")[rule];
        self.rule_admits(written, rule, side, probe, blocks)
    }

    fn rule_admits(
        &self,
        policy: &WrittenPolicy,
        rule: &RuleSet,
        side: Side,
        probe: Probe,
        blocks: IpBlocks,
    ) -> bool {
        let Side {
            local,
            direction,
            remote,
        } = side;
        // Ports are the destination's (rule 14): the remote end for egress.
        let destination = match direction {
            Direction::Ingress => local,
            Direction::Egress => remote,
        };
        let port_ok = rule.ports.is_empty()
            || rule
                .ports
                .iter()
                .any(|entry| self.port_admits(entry, probe, destination));
        let peer_ok = rule.peers.is_empty()
            || rule
                .peers
                .iter()
                .any(|peer| self.peer_admits(peer, &policy.namespace, remote, blocks));
        port_ok && peer_ok
    }

    fn port_admits(&self, entry: &NetworkPolicyPort, probe: Probe, destination: Party) -> bool {
        // Rule 13: protocol defaults to TCP; no port means every port of it.
        if entry.protocol.as_deref().unwrap_or("TCP") != probe.protocol {
            return false;
        }
        let wanted = i32::from(probe.port);
        match (&entry.port, entry.end_port) {
            (None, _) => true,
            (Some(IntOrString::Int(first)), Some(last)) => *first <= wanted && wanted <= last,
            (Some(IntOrString::Int(number)), None) => *number == wanted,
            // Rule 15: by name and protocol, on the destination pod only.
            (Some(IntOrString::String(name)), _) => match destination {
                Party::Pod(index) => self.pods[index].ports.iter().any(|(n, number, protocol)| {
                    n.as_deref() == Some(name.as_str())
                        && *protocol == probe.protocol
                        && *number == wanted
                }),
                Party::Address(_) => false,
            },
        }
    }

    fn peer_admits(
        &self,
        peer: &PeerRule,
        policy_namespace: &str,
        remote: Party,
        blocks: IpBlocks,
    ) -> bool {
        match (peer, remote) {
            (PeerRule::Block { cidr, except }, Party::Address(address)) => {
                in_block(cidr, except, address)
            }
            (PeerRule::Selectors { .. }, Party::Address(_)) => false,
            (PeerRule::Block { cidr, except }, Party::Pod(index)) => {
                let addresses = &self.pods[index].addresses;
                blocks == IpBlocks::MatchPodAddresses
                    && if addresses.is_empty() {
                        UNKNOWN_POD_ADDRESSES.iter().any(|a| {
                            let address = a.parse().expect("valid address");
                            in_block(cidr, except, address)
                        })
                    } else {
                        addresses.iter().any(|a| in_block(cidr, except, *a))
                    }
            }
            (PeerRule::Selectors { namespaces, pods }, Party::Pod(index)) => {
                let pod = &self.pods[index];
                if pod.host_network {
                    return false;
                }
                // Rule 8: podSelector alone means the policy's own namespace.
                let namespace_ok = match namespaces {
                    None => pod.namespace == policy_namespace,
                    Some(selector) => selector.matches(&self.namespace_labels[&pod.namespace]),
                };
                namespace_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
        }
    }
}

/// Rule 9: inside the cidr and outside every except.
fn in_block(cidr: &IpNet, except: &[IpNet], address: IpAddr) -> bool {
    cidr.contains(&address) && !except.iter().any(|e| e.contains(&address))
}
