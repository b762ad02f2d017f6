//! Whether traffic between two pods is allowed: the source's egress AND the
//! destination's ingress, each the union of the rules of the policies that
//! select that pod for that direction, within the policy layers around them
//! (admin tiers before NetworkPolicy, Calico and Cilium beside it, baseline
//! after: see [`decide_end`]). [`explain_connection`] also says which policy
//! and rule decided each side.

mod explain;
pub(crate) mod external;
mod layer_defaults;
mod layer_matching;
mod layer_side;
mod layered;
pub(crate) mod open_egress;

use std::net::IpAddr;

use kube_core::SelectorExt;
use serde::Serialize;

pub use explain::{ConnectionVerdict, RuleRef, SideReason, SideVerdict, explain_connection};
pub(crate) use layer_defaults::{LayerDefault, default_of};
pub use layer_matching::Matching;
pub use layer_side::{Applied, LayerSide};
use layered::{Probe, Unsure, walk_layers};

use crate::cluster::NamespaceState;
use crate::layers::LayerPolicy;
use crate::model::{Direction, IpBlock, Labels, Peer, Pod, Policy, Protocol};
use crate::pod_cidrs::PodCidrs;

/// Ordered so that `max` is the most permissive answer and `min` combines two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Reach {
    Denied,
    /// A rule netposture cannot evaluate (a nodes or domain-name peer, L7,
    /// an unread selector) or an order the API leaves undefined may decide:
    /// no answer is given rather than a guess.
    Undetermined,
    /// Allowed only through an `ipBlock` that holds a pod IP (or may, when
    /// the pod's IP is not known): Calico matches it, Cilium does not.
    CniDependent,
    Allowed,
}

/// A pod with the namespace it lives in, and the cluster's pod CIDRs,
/// where its IP is when the pod does not tell.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    pub namespace: &'a str,
    pub namespace_labels: &'a Labels,
    pub pod: &'a Pod,
    pub pod_cidrs: &'a PodCidrs,
}

impl Endpoint<'_> {
    /// Whether `block` holds the pod's IP, or may: a pod whose IP is not
    /// known may have any address of the pod CIDRs.
    pub fn may_be_in(&self, block: &IpBlock) -> bool {
        if self.pod.ips.is_empty() {
            self.pod_cidrs.overlap(block)
        } else {
            self.pod.ips.iter().any(|ip| block.contains(*ip))
        }
    }
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
            if other.may_be_in(block) {
                Reach::CniDependent
            } else {
                Reach::Denied
            }
        }
    }
}
/// The layer rules of both ends of a connection: the source's egress and
/// the destination's ingress.
#[derive(Clone, Copy, Debug)]
pub struct LayerEnds<'a> {
    pub egress: &'a LayerSide<'a>,
    pub ingress: &'a LayerSide<'a>,
}

impl LayerEnds<'static> {
    /// No policy layer: NetworkPolicy alone decides.
    pub const NONE: LayerEnds<'static> = LayerEnds {
        egress: &LayerSide::NONE,
        ingress: &LayerSide::NONE,
    };
}

/// What decided one side, borrowed from the policies given: the evaluation
/// decides sides for every pod and DNS target, so deciding must not allocate.
#[derive(Clone, Copy, Debug)]
enum Decision<'p> {
    NotIsolated,
    HostNetwork,
    Rule(&'p Policy, usize),
    /// NetworkPolicies (and these layer policies) isolate the pod; nothing admits.
    NoRuleAdmits(&'p [&'p LayerPolicy]),
    Layer(Applied<'p>),
    /// This rule may decide otherwise; with the rule it ties with, if that is why.
    Undetermined(Applied<'p>, Option<Applied<'p>>),
    Unread(&'p LayerPolicy),
    SamePod,
    NotApplicable,
}
/// The first rule that allows, else the first that allows only on some CNIs.
fn decide<'p>(
    policies: &[&'p Policy],
    policy_namespace: &str,
    direction: Direction,
    other: &Remote<'_>,
    protocol: Protocol,
    port: u16,
    destination: Option<&Pod>,
) -> (Reach, Decision<'p>) {
    if policies.is_empty() {
        return (Reach::Allowed, Decision::NotIsolated);
    }
    let mut best = (Reach::Denied, Decision::NoRuleAdmits(&[]));
    for policy in policies {
        let rules = policy.rules(direction).unwrap_or_default();
        for (index, rule) in rules.iter().enumerate() {
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
                return (reach, Decision::Rule(policy, index));
            }
            if reach > best.0 {
                best = (reach, Decision::Rule(policy, index));
            }
        }
    }
    best
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
    decide(
        policies,
        policy_namespace,
        direction,
        other,
        protocol,
        port,
        destination,
    )
    .0
}

/// A side's answer with what decided it.
type Decided<'p> = (Reach, Decision<'p>);

/// A pod can always reach itself.
fn same_pod(source: &Remote<'_>, destination: &Remote<'_>) -> bool {
    matches!((source, destination), (Remote::Pod(s), Remote::Pod(d))
        if d.namespace == s.namespace && d.pod.name == s.pod.name)
}

/// The side of `local`, the end whose `policies` and `layers` apply in
/// `direction`, with `remote` the other end: none for an address, not
/// enforced on a hostNetwork pod. Named ports resolve on the destination.
///
/// The one place where policy layers meet NetworkPolicy: Admin-stage rules
/// first (lower priority first; Allow and Deny decide, Pass goes on), then
/// the Main stage: Calico rules ordered before NetworkPolicy and Cilium
/// deny rules, NetworkPolicy, Calico rules after it and Cilium allow rules;
/// a pod any of them selects is denied what none admits. A pod nothing in
/// the Main stage selects goes on to the Baseline stage, then default allow.
/// A rule on the way that only a peer netposture cannot evaluate could
/// match, or that ties in priority with the deciding one, makes the answer
/// [`Reach::Undetermined`] when it would decide otherwise.
fn decide_end<'p>(
    local: &Remote<'_>,
    policies: &[&'p Policy],
    layers: &'p LayerSide<'p>,
    direction: Direction,
    remote: &Remote<'_>,
    protocol: Protocol,
    port: u16,
) -> Decided<'p> {
    let destination = match direction {
        Direction::Egress => remote.pod(),
        Direction::Ingress => local.pod(),
    };
    let end = match local {
        Remote::Address(_) => return (Reach::Allowed, Decision::NotApplicable),
        Remote::Pod(end) if end.pod.host_network => {
            return (Reach::Allowed, Decision::HostNetwork);
        }
        Remote::Pod(end) => end,
    };
    let network_policy = || {
        decide(
            policies,
            end.namespace,
            direction,
            remote,
            protocol,
            port,
            destination,
        )
    };
    if layers.is_empty() {
        return network_policy();
    }
    let mut unsure = Unsure::default();
    let decided = walk_layers(
        layers,
        policies,
        network_policy,
        &mut Probe {
            remote,
            protocol,
            port,
            destination,
            unsure: &mut unsure,
        },
    );
    unsure.settle(decided)
}
/// Both sides, given the policies and layer rules already selected for
/// each end. For an address destination only the source's egress applies.
pub fn connection(
    source: &Endpoint<'_>,
    source_egress: &[&Policy],
    destination: &Remote<'_>,
    destination_ingress: &[&Policy],
    layers: &LayerEnds<'_>,
    protocol: Protocol,
    port: u16,
) -> Reach {
    let source = Remote::Pod(*source);
    if same_pod(&source, destination) {
        return Reach::Allowed;
    }
    let (egress, _) = decide_end(
        &source,
        source_egress,
        layers.egress,
        Direction::Egress,
        destination,
        protocol,
        port,
    );
    // The evaluation asks this for every pod and DNS target: a denied egress
    // needs no ingress side.
    if egress == Reach::Denied {
        return egress;
    }
    let (ingress, _) = decide_end(
        destination,
        destination_ingress,
        layers.ingress,
        Direction::Ingress,
        &source,
        protocol,
        port,
    );
    egress.min(ingress)
}
