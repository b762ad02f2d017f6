//! Whether traffic between two pods is allowed: the source's egress AND the
//! destination's ingress, each the union of the rules of the policies that
//! select that pod for that direction, within the policy layers around them
//! (admin tiers before NetworkPolicy, Calico and Cilium beside it, baseline
//! after: see [`decide_end`]). [`explain_connection`] also says which policy
//! and rule decided each side.

pub(crate) mod external;
pub(crate) mod open_egress;

use std::net::IpAddr;

use kube_core::SelectorExt;
use serde::Serialize;

use crate::cluster::NamespaceState;
use crate::layers::{
    Action, Applied, LayerPolicy, LayerSide, Matching, NETWORK_POLICY_ORDER, Stage,
};
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

/// Why one side of a connection answers as it does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SideReason {
    /// No policy selects the pod for this direction, so it is not isolated.
    NotIsolated,
    /// The pod uses the node's network, where NetworkPolicy does not apply.
    HostNetwork,
    /// This rule admits the connection: `rule` is the 0-based index in the
    /// policy's `ingress`/`egress` list. With [`Reach::CniDependent`], the
    /// rule whose ipBlock holds (or may hold) the remote pod's IP.
    Rule { policy: String, rule: usize },
    /// These policies isolate the pod and none of their rules admits the
    /// connection. `port_rules` admit the port, so it is their peers that
    /// leave the remote end out. `layer_policies` are Calico or Cilium
    /// policies that isolate it too.
    NoRuleAdmits {
        policies: Vec<String>,
        port_rules: Vec<RuleRef>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        layer_policies: Vec<String>,
    },
    /// A rule of a policy layer decided: `policy` as `kind/name`, `tier`
    /// where it sits (`Admin tier, priority 10`), `rule` its 0-based index in
    /// the policy's rules for the direction.
    LayerRule {
        policy: String,
        tier: String,
        /// The list the rule is written in (`egress`, `egressDeny`) and
        /// its 0-based index there.
        list: &'static str,
        rule: usize,
        action: Action,
    },
    /// This layer rule may decide, but netposture cannot tell whether it
    /// matches (`same_priority_as` empty: a peer it cannot evaluate, or a
    /// CIDR that may hold a pod's unknown IP), or
    /// it shares its priority with the rule `same_priority_as` names, which
    /// decides otherwise, and the API leaves their order undefined.
    Undetermined {
        policy: String,
        tier: String,
        list: &'static str,
        rule: usize,
        action: Action,
        #[serde(skip_serializing_if = "Option::is_none")]
        same_priority_as: Option<String>,
    },
    /// A layer policy that may select the pod could not be read (see
    /// `unevaluated-policies`): it may decide anything.
    UnreadPolicy { policy: String, tier: String },
    /// Source and destination are the same pod, which can always reach itself.
    SamePod,
    /// No pod on this side: an address outside the cluster has no policy.
    NotApplicable,
}

impl SideReason {
    /// The layer rule (or unread policy) that leaves this side undetermined,
    /// as `kind/name egress[2] (tier)`, for checks to name it.
    pub fn undetermined_by(&self) -> Option<String> {
        match self {
            SideReason::Undetermined {
                policy,
                tier,
                list,
                rule,
                ..
            } => Some(format!("{policy} {list}[{rule}] ({tier})")),
            SideReason::UnreadPolicy { policy, tier } => Some(format!("{policy} ({tier})")),
            _ => None,
        }
    }
}

/// One rule of a policy: `rule` is the 0-based index in its `ingress`/`egress` list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub policy: String,
    pub rule: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SideVerdict {
    pub reach: Reach,
    pub reason: SideReason,
}

/// Both sides of a connection; `reach` is the weaker of the two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionVerdict {
    pub reach: Reach,
    pub egress: SideVerdict,
    pub ingress: SideVerdict,
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

impl Decision<'_> {
    /// `policies` are the ones the side was decided on, for `direction` and
    /// `protocol`/`port` on `destination`.
    fn reason(
        self,
        policies: &[&Policy],
        direction: Direction,
        protocol: Protocol,
        port: u16,
        destination: Option<&Pod>,
    ) -> SideReason {
        match self {
            Decision::NotIsolated => SideReason::NotIsolated,
            Decision::HostNetwork => SideReason::HostNetwork,
            Decision::Rule(policy, rule) => SideReason::Rule {
                policy: policy.name.clone(),
                rule,
            },
            Decision::Layer(applied) => SideReason::LayerRule {
                policy: applied.policy.describe(),
                tier: applied.policy.tier(),
                list: applied.rule.at.list,
                rule: applied.rule.at.index,
                action: applied.rule.action,
            },
            Decision::NoRuleAdmits(layers) => SideReason::NoRuleAdmits {
                layer_policies: layers.iter().map(|p| p.describe()).collect(),
                policies: policies.iter().map(|p| p.name.clone()).collect(),
                // The side is denied, so these rules' peers all miss the remote end.
                port_rules: policies
                    .iter()
                    .flat_map(|p| {
                        let rules = p.rules(direction).unwrap_or_default().iter();
                        rules.enumerate().map(move |(index, rule)| (p, index, rule))
                    })
                    .filter(|(_, _, rule)| rule.admits_port(protocol, port, destination))
                    .map(|(p, rule, _)| RuleRef {
                        policy: p.name.clone(),
                        rule,
                    })
                    .collect(),
            },
            Decision::Undetermined(applied, tie) => SideReason::Undetermined {
                policy: applied.policy.describe(),
                tier: applied.policy.tier(),
                list: applied.rule.at.list,
                rule: applied.rule.at.index,
                action: applied.rule.action,
                same_priority_as: tie.map(|t| format!("{} {}", t.policy.describe(), t.rule.at)),
            },
            Decision::Unread(policy) => SideReason::UnreadPolicy {
                policy: policy.describe(),
                tier: policy.tier(),
            },
            Decision::SamePod => SideReason::SamePod,
            Decision::NotApplicable => SideReason::NotApplicable,
        }
    }
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

/// What the walk through the layers needs of the connection, and where it
/// keeps the rules it could not tell about.
struct Probe<'r, 'p> {
    remote: &'r Remote<'r>,
    protocol: Protocol,
    port: u16,
    destination: Option<&'r Pod>,
    unsure: &'r mut Unsure<'p>,
}

/// The first rule of each action the walk reached that may match without
/// netposture knowing (or ties in priority with the deciding rule): each
/// could turn the answer into its own action's.
#[derive(Default)]
struct Unsure<'p> {
    reached: usize,
    /// `(position reached, rule, the rule it ties with)`, per action.
    first: [Option<(usize, Applied<'p>, Option<Applied<'p>>)>; 3],
}

impl<'p> Unsure<'p> {
    fn slot(action: Action) -> usize {
        match action {
            Action::Allow => 0,
            Action::Deny => 1,
            Action::Pass => 2,
        }
    }

    fn note(&mut self, applied: Applied<'p>, tie: Option<Applied<'p>>) {
        self.reached += 1;
        let entry = &mut self.first[Self::slot(applied.rule.action)];
        if entry.is_none() {
            *entry = Some((self.reached, applied, tie));
        }
    }

    /// `decided` as the walk found it when no unsure rule matches; the
    /// earliest unsure rule that would answer otherwise makes it
    /// undetermined. A Pass always could: where it leads is not walked.
    fn settle(self, decided: Decided<'p>) -> Decided<'p> {
        if decided.0 == Reach::Undetermined {
            return decided;
        }
        let differs = |applied: &Applied<'_>| match applied.rule.action {
            Action::Allow => decided.0 != Reach::Allowed,
            Action::Deny => decided.0 != Reach::Denied,
            Action::Pass => true,
        };
        self.first
            .into_iter()
            .flatten()
            .filter(|(_, applied, _)| differs(applied))
            .min_by_key(|(position, _, _)| *position)
            .map_or(decided, |(_, applied, tie)| {
                (Reach::Undetermined, Decision::Undetermined(applied, tie))
            })
    }
}

/// The stages in order, around NetworkPolicy (`network_policy` decides
/// its part); see [`decide_end`].
fn walk_layers<'p>(
    layers: &'p LayerSide<'p>,
    policies: &[&'p Policy],
    network_policy: impl Fn() -> Decided<'p>,
    probe: &mut Probe<'_, 'p>,
) -> Decided<'p> {
    let unread = |stage: Option<Stage>| {
        layers
            .unread
            .iter()
            .find(|p| stage.is_none_or(|s| p.stage == s))
            .map(|p| (Reach::Undetermined, Decision::Unread(p)))
    };
    if let Some(undetermined) = unread(Some(Stage::Admin)) {
        return undetermined;
    }
    if let Some(Some(decided)) = first_match(layers.stage(Stage::Admin), probe) {
        return decided;
    }
    // Past the Admin tier, a policy that could not be read may decide anything.
    if let Some(undetermined) = unread(None) {
        return undetermined;
    }
    let before = layers
        .stage(Stage::Main)
        .filter(|a| a.rule.order < NETWORK_POLICY_ORDER);
    match first_match(before, probe) {
        Some(Some(decided)) => return decided,
        Some(None) => return baseline(layers, probe),
        None => {}
    }
    let by_network_policy = (!policies.is_empty()).then(network_policy);
    if let Some(decided) = by_network_policy
        && decided.0 == Reach::Allowed
    {
        return decided;
    }
    let rest = after_network_policy(layers, !policies.is_empty(), probe);
    match by_network_policy {
        // Allowed through an ipBlock holding a pod IP on some CNIs; where
        // ipBlocks ignore pods, the rest decides, and may allow too.
        Some(decided) if decided.0 == Reach::CniDependent && rest.0 == Reach::Denied => decided,
        _ => rest,
    }
}

/// The Main stage after NetworkPolicy admitted nothing for certain: its
/// later rules, then isolation (by NetworkPolicy when `isolated`, or by a
/// layer policy), then the Baseline stage.
fn after_network_policy<'p>(
    layers: &'p LayerSide<'p>,
    isolated: bool,
    probe: &mut Probe<'_, 'p>,
) -> Decided<'p> {
    let after = layers
        .stage(Stage::Main)
        .filter(|a| a.rule.order >= NETWORK_POLICY_ORDER);
    match first_match(after, probe) {
        Some(Some(decided)) => decided,
        Some(None) => baseline(layers, probe),
        None if isolated || !layers.isolating.is_empty() => {
            (Reach::Denied, Decision::NoRuleAdmits(&layers.isolating))
        }
        None => baseline(layers, probe),
    }
}

/// The Baseline stage, then the default: allowed.
fn baseline<'p>(layers: &'p LayerSide<'p>, probe: &mut Probe<'_, 'p>) -> Decided<'p> {
    match first_match(layers.stage(Stage::Baseline), probe) {
        Some(Some(decided)) => decided,
        _ => (Reach::Allowed, Decision::NotIsolated),
    }
}

/// The first rule of `rules` matching the connection: `Some(Some(..))`
/// when it allows or denies, `Some(None)` when it passes. Rules that may
/// match unknown to netposture are noted on the way, and so are rules of
/// the tiered APIs that share the deciding rule's priority (in another
/// policy) and may match too: the API leaves their order undefined.
fn first_match<'p>(
    rules: impl Iterator<Item = &'p Applied<'p>>,
    probe: &mut Probe<'_, 'p>,
) -> Option<Option<Decided<'p>>> {
    let mut rules = rules.peekable();
    while let Some(applied) = rules.next() {
        let matching =
            applied
                .rule
                .matching(probe.remote, probe.protocol, probe.port, probe.destination);
        match matching {
            Matching::No => continue,
            Matching::Maybe => {
                probe.unsure.note(*applied, None);
                continue;
            }
            Matching::Yes => {}
        }
        if applied.policy.has_priority() {
            while let Some(tie) = rules.next_if(|a| a.rule.order == applied.rule.order) {
                let other_policy = !std::ptr::eq(tie.policy, applied.policy);
                if other_policy
                    && tie.rule.action != applied.rule.action
                    && tie.rule.matching(
                        probe.remote,
                        probe.protocol,
                        probe.port,
                        probe.destination,
                    ) != Matching::No
                {
                    probe.unsure.note(*tie, Some(*applied));
                }
            }
        }
        return Some(match applied.rule.action {
            Action::Allow => Some((Reach::Allowed, Decision::Layer(*applied))),
            Action::Deny => Some((Reach::Denied, Decision::Layer(*applied))),
            Action::Pass => None,
        });
    }
    None
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

/// [`connection`], with what decided each side. The source may be an address
/// too (a client outside the cluster): then only the destination's ingress
/// applies. Both sides are decided even when one denies, to name both.
pub fn explain_connection(
    source: &Remote<'_>,
    source_egress: &[&Policy],
    destination: &Remote<'_>,
    destination_ingress: &[&Policy],
    layers: &LayerEnds<'_>,
    protocol: Protocol,
    port: u16,
) -> ConnectionVerdict {
    let (egress, ingress) = if same_pod(source, destination) {
        let same = (Reach::Allowed, Decision::SamePod);
        (same, same)
    } else {
        (
            decide_end(
                source,
                source_egress,
                layers.egress,
                Direction::Egress,
                destination,
                protocol,
                port,
            ),
            decide_end(
                destination,
                destination_ingress,
                layers.ingress,
                Direction::Ingress,
                source,
                protocol,
                port,
            ),
        )
    };
    let verdict = |(reach, decision): Decided<'_>, policies, direction| SideVerdict {
        reach,
        reason: decision.reason(policies, direction, protocol, port, destination.pod()),
    };
    ConnectionVerdict {
        reach: egress.0.min(ingress.0),
        egress: verdict(egress, source_egress, Direction::Egress),
        ingress: verdict(ingress, destination_ingress, Direction::Ingress),
    }
}
