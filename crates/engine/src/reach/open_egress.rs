//! Whether a pod may reach the whole public internet: its NetworkPolicies
//! and the layer rules on its egress are walked over address sets, per
//! protocol and per stretch of ports on which every rule's answer is constant.

use std::collections::BTreeSet;

use super::external::{admits_addresses, external_port_ranges, rule_addresses};
use super::{Applied, LayerSide};
use crate::intervals::Intervals;
use crate::ipset::{Family, block_addresses};
use crate::layers::{Action, LayerPeer, LayerRule, NETWORK_POLICY_ORDER, Stage};
use crate::model::{Policy, PortSpec, Protocol, Rule};

fn intersection(a: &Intervals, b: &Intervals) -> Intervals {
    let mut outside = a.clone();
    outside.subtract(b);
    let mut inside = a.clone();
    inside.subtract(&outside);
    inside
}

/// Addresses outside the cluster a layer rule matches.
fn layer_addresses(rule: &LayerRule, family: Family) -> Intervals {
    if rule.peers.is_empty() {
        return family.everything();
    }
    let mut addresses = Intervals::default();
    for peer in &rule.peers {
        match peer {
            LayerPeer::Everything | LayerPeer::Outside => return family.everything(),
            LayerPeer::Cidr(block) | LayerPeer::Addresses(block) => {
                addresses.union_with(&block_addresses(family, block))
            }
            LayerPeer::Pods(_)
            | LayerPeer::AllPods
            | LayerPeer::Unevaluated
            | LayerPeer::Nothing => {}
        }
    }
    addresses
}

/// Public addresses of one family on one port, as the stages decide them.
struct Walk<'w> {
    allowed: Intervals,
    /// Who allowed some of them, for the evidence.
    by: BTreeSet<String>,
    protocol: Protocol,
    port: u16,
    family: Family,
    /// Whether NetworkPolicies select the pod for egress, and their rules.
    selected: bool,
    network_policy: &'w [(&'w str, &'w Rule)],
    /// Whether a NetworkPolicy port range counts beyond its first port
    /// (`endPort`, which API servers before 1.21 drop).
    with_end_port: bool,
    /// The first Deny or Pass rule with a peer netposture cannot evaluate
    /// that may take some of the open addresses away.
    may_close: Option<String>,
}

/// Whether a pod may reach every public address: definitely, or unless a
/// rule netposture cannot evaluate denies some of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OpenEgress {
    Open(String),
    Undetermined(String),
}

impl Walk<'_> {
    /// Runs `rules` in order over `open`, taking what they decide out of
    /// it; returns what they pass on.
    fn stage<'a, 's: 'a>(
        &mut self,
        rules: impl Iterator<Item = &'a Applied<'s>>,
        open: &mut Intervals,
    ) -> Intervals {
        let mut passed = Intervals::default();
        for applied in rules {
            let rule = applied.rule;
            if !rule.ports.is_empty()
                && !rule
                    .ports
                    .iter()
                    .any(|p| p.admits(self.protocol, self.port, None))
            {
                continue;
            }
            if rule.action != Action::Allow
                && rule.has_unevaluated_peer()
                && *open != Intervals::default()
            {
                self.may_close.get_or_insert_with(|| {
                    format!(
                        "{} {} ({})",
                        applied.policy.describe(),
                        rule.at,
                        applied.policy.tier()
                    )
                });
            }
            let matched = intersection(open, &layer_addresses(rule, self.family));
            if matched == Intervals::default() {
                continue;
            }
            match rule.action {
                Action::Allow => {
                    self.allowed.union_with(&matched);
                    self.by.insert(applied.policy.evidence());
                }
                Action::Deny => {}
                Action::Pass => passed.union_with(&matched),
            }
            open.subtract(&matched);
        }
        passed
    }

    /// Whether every public address of the family ends up allowed.
    fn covers_public(&mut self, side: &LayerSide<'_>) -> bool {
        let mut open = self.family.public().clone();
        let passed = self.stage(side.stage(Stage::Admin), &mut open);
        open.union_with(&passed);
        let main = || side.stage(Stage::Main);
        let before = main().filter(|a| a.rule.order < NETWORK_POLICY_ORDER);
        let mut to_baseline = self.stage(before, &mut open);
        for (name, rule) in self.network_policy {
            if rule.admits_port(self.protocol, self.port, None)
                && (self.with_end_port
                    || rule
                        .only_through_end_port(self.protocol, self.port, None)
                        .is_none())
            {
                let admitted = intersection(&open, &rule_addresses(rule, self.family));
                if admitted != Intervals::default() {
                    self.by.insert(format!("networkpolicy/{name}"));
                    self.allowed.union_with(&admitted);
                    open.subtract(&admitted);
                }
            }
        }
        let after = main().filter(|a| a.rule.order >= NETWORK_POLICY_ORDER);
        let passed = self.stage(after, &mut open);
        to_baseline.union_with(&passed);
        // Whatever an isolating stage leaves is denied; otherwise it goes on.
        if !self.selected && side.isolating.is_empty() {
            to_baseline.union_with(&open);
        }
        self.stage(side.stage(Stage::Baseline), &mut to_baseline);
        if to_baseline != Intervals::default() {
            self.allowed.union_with(&to_baseline);
            self.by
                .insert("default allow for what no rule decides".into());
        }
        self.allowed.covers(self.family.public())
    }
}

/// Why a pod whose egress `policies` (NetworkPolicies) and `side` (layer
/// rules) govern may reach every public address of a family on some port,
/// or `None` when it may not. A port open only through `endPort` is
/// reported as such, since API servers before 1.21 drop the field.
pub(crate) fn open_egress(policies: &[&Policy], side: &LayerSide<'_>) -> Option<OpenEgress> {
    if policies.is_empty() && side.is_empty() {
        return Some(OpenEgress::Open("no egress policy selects it".into()));
    }
    let rules: Vec<(&str, &Rule)> = policies
        .iter()
        .flat_map(|p| p.egress.iter().flatten().map(move |r| (p.name.as_str(), r)))
        .filter(|(_, r)| admits_addresses(r))
        .collect();
    let without_end_port = walk_ports(policies, &rules, side, false);
    if matches!(without_end_port, Some(OpenEgress::Open(_))) {
        return without_end_port;
    }
    let has_end_port = rules.iter().any(|(_, r)| {
        r.ports
            .iter()
            .any(|p| matches!(p.port, PortSpec::Range(start, end) if end > start))
    });
    let only_through_end_port = has_end_port
        .then(|| walk_ports(policies, &rules, side, true))
        .flatten()
        .map(|open| {
            open.map_reason(|reason| {
                format!("{reason}, only through endPort, which API servers before 1.21 drop: there it is not open")
            })
        });
    match (without_end_port, only_through_end_port) {
        (_, Some(open @ OpenEgress::Open(_))) => Some(open),
        (undetermined, other) => undetermined.or(other),
    }
}

impl OpenEgress {
    fn map_reason(self, change: impl FnOnce(String) -> String) -> Self {
        match self {
            OpenEgress::Open(reason) => OpenEgress::Open(change(reason)),
            OpenEgress::Undetermined(reason) => OpenEgress::Undetermined(change(reason)),
        }
    }
}

/// The first protocol, port and family on which the walk finds every public
/// address allowed: definitely, else unless a rule netposture cannot evaluate
/// denies some.
fn walk_ports(
    policies: &[&Policy],
    rules: &[(&str, &Rule)],
    side: &LayerSide<'_>,
    with_end_port: bool,
) -> Option<OpenEgress> {
    let mut undetermined = None;
    for protocol in Protocol::ALL {
        // Between two consecutive bounds every rule's answer is constant.
        let bounds: BTreeSet<u32> = rules
            .iter()
            .flat_map(|(_, r)| external_port_ranges(&r.ports, protocol))
            .chain(
                side.rules
                    .iter()
                    .flat_map(|a| external_port_ranges(&a.rule.ports, protocol)),
            )
            .flat_map(|(start, end)| [start, end + 1])
            .chain([1])
            .filter(|port| *port <= 65535)
            .collect();
        for port in bounds {
            for family in Family::BOTH {
                let mut walk = Walk {
                    allowed: Intervals::default(),
                    by: BTreeSet::new(),
                    protocol,
                    port: port as u16,
                    family,
                    selected: !policies.is_empty(),
                    network_policy: rules,
                    with_end_port,
                    // A policy that could not be read may deny anything.
                    may_close: side
                        .unread
                        .first()
                        .map(|p| format!("{} ({})", p.describe(), p.tier())),
                };
                if walk.covers_public(side) {
                    let reason = walk.reason();
                    match walk.may_close {
                        None => return Some(OpenEgress::Open(reason)),
                        // Another port or family may still be definitely open.
                        Some(rule) => {
                            undetermined.get_or_insert(OpenEgress::Undetermined(format!(
                                "{reason}, unless {rule}, a rule netposture cannot evaluate, denies some"
                            )));
                        }
                    }
                }
            }
        }
    }
    undetermined
}

impl Walk<'_> {
    /// Who opens the family's public addresses on the port: in
    /// NetworkPolicy's words when only NetworkPolicies do.
    fn reason(&self) -> String {
        let (family, protocol, port) = (self.family.name(), self.protocol, self.port);
        let by: Vec<&str> = self.by.iter().map(String::as_str).collect();
        if by.iter().all(|b| b.starts_with("networkpolicy/")) {
            format!(
                "{} allow every public {family} address on {protocol}/{port}",
                by.join(", ")
            )
        } else {
            format!(
                "every public {family} address on {protocol}/{port}: {}",
                by.join(", ")
            )
        }
    }
}
