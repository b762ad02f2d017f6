//! What the layers decide for traffic that no narrower rule matches: whether
//! a pod, or every pod of a namespace, is denied by default. Only rules that
//! match every peer on every port count; narrower rules are exceptions.

use super::{Applied, LayerSide};
use crate::intervals::Intervals;
use crate::ipset::{Family, block_addresses};
use crate::layers::{Action, LayerPeer, LayerRule, NETWORK_POLICY_ORDER, Stage};
use crate::model::{PortSpec, Protocol};

/// Who decides the default for one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LayerDefault {
    /// A layer policy decides; `by` names it as evidence.
    Layer { deny: bool, by: Vec<String> },
    /// NetworkPolicy selects the pods and decides, as without layers.
    NetworkPolicy,
    /// Nothing isolates: allowed by default.
    Open,
}

impl LayerDefault {
    pub fn denies(&self) -> bool {
        matches!(self, LayerDefault::Layer { deny: true, .. })
    }
}

fn every_port(rule: &LayerRule) -> bool {
    rule.ports.is_empty()
        || Protocol::ALL.iter().all(|protocol| {
            rule.ports.iter().any(|m| {
                m.protocol == *protocol
                    && (matches!(m.port, PortSpec::Any)
                        || matches!(m.port, PortSpec::Range(start, 65535) if start <= 1))
            })
        })
}

/// Whether the rule's CIDRs (of pods too when `with_pods`, or address-only
/// ones too when not) hold every address of both families.
fn cidrs_cover_everything(rule: &LayerRule, with_pods: bool) -> bool {
    Family::BOTH.iter().all(|family| {
        let mut addresses = Intervals::default();
        for peer in &rule.peers {
            match peer {
                LayerPeer::Cidr(block) => addresses.union_with(&block_addresses(*family, block)),
                LayerPeer::Addresses(block) if !with_pods => {
                    addresses.union_with(&block_addresses(*family, block))
                }
                _ => {}
            }
        }
        addresses.covers(&family.everything())
    })
}

/// Matches every pod and every address on every port (every pod is enough
/// when `pods_suffice`).
pub(super) fn covers_everything(rule: &LayerRule, pods_suffice: bool) -> bool {
    if !every_port(rule) {
        return false;
    }
    let peers = &rule.peers;
    if peers.is_empty() || peers.iter().any(|p| matches!(p, LayerPeer::Everything)) {
        return true;
    }
    let pods = cidrs_cover_everything(rule, true)
        || peers.iter().any(|p| match p {
            LayerPeer::AllPods => true,
            LayerPeer::Pods(set) => set.covers_every_pod(),
            _ => false,
        });
    let addresses = cidrs_cover_everything(rule, false)
        || peers.iter().any(|p| matches!(p, LayerPeer::Outside));
    pods && (addresses || pods_suffice)
}

fn decided(applied: &Applied<'_>) -> Option<LayerDefault> {
    let by = vec![applied.policy.evidence()];
    match applied.rule.action {
        Action::Allow => Some(LayerDefault::Layer { deny: false, by }),
        Action::Deny => Some(LayerDefault::Layer { deny: true, by }),
        Action::Pass => None,
    }
}

/// The first rule of `rules` matching everything: `Some(decision)`, or
/// `Some(None)` when it passes, or `None` when no such rule exists.
fn first_everything<'s, 'a: 's>(
    side: &LayerSide<'_>,
    mut rules: impl Iterator<Item = &'s Applied<'a>>,
) -> Option<Option<LayerDefault>> {
    rules.find(|a| side.covers_everything(a)).map(decided)
}

/// The default for `side`, where `network_policy_selects` tells whether a
/// NetworkPolicy selects the pod (or the whole namespace) for the direction.
pub(crate) fn default_of(side: &LayerSide<'_>, network_policy_selects: bool) -> LayerDefault {
    if let Some(Some(decision)) = first_everything(side, side.stage(Stage::Admin)) {
        return decision;
    }
    let before = side
        .stage(Stage::Main)
        .filter(|a| a.rule.order < NETWORK_POLICY_ORDER);
    let passed_main = match first_everything(side, before) {
        Some(Some(decision)) => return decision,
        Some(None) => true,
        None => false,
    };
    if !passed_main {
        let after = || {
            side.stage(Stage::Main)
                .filter(|a| a.rule.order >= NETWORK_POLICY_ORDER)
        };
        if network_policy_selects {
            // NetworkPolicy's own rules come first; only an allow-all beside it re-opens.
            return match after()
                .find(|a| side.covers_everything(a) && a.rule.action == Action::Allow)
            {
                Some(applied) => decided(applied).unwrap_or(LayerDefault::NetworkPolicy),
                None => LayerDefault::NetworkPolicy,
            };
        }
        match first_everything(side, after()) {
            Some(Some(decision)) => return decision,
            Some(None) => {}
            None if !side.isolating.is_empty() => {
                return LayerDefault::Layer {
                    deny: true,
                    by: side.isolating.iter().map(|p| p.evidence()).collect(),
                };
            }
            None => {}
        }
    }
    match first_everything(side, side.stage(Stage::Baseline)) {
        Some(Some(decision)) => decision,
        _ => LayerDefault::Open,
    }
}
