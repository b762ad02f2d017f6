//! Whether a namespace denies a direction by default: whole-namespace
//! NetworkPolicies not re-opened by their own rules, or a policy layer.

use std::collections::BTreeSet;

use crate::cluster::NamespaceState;
use crate::intervals::Intervals;
use crate::ipset::Family;
use crate::model::{Direction, Peer, Protocol, Rule};
use crate::reach::external::{external_port_ranges, rule_addresses};
use crate::reach::{self, LayerDefault, LayerSide};

/// Whether the namespace has a default deny for a direction, and what says so.
pub(crate) struct DefaultDeny {
    /// Whole-namespace policies listing the direction.
    pub providers: Vec<String>,
    /// Whole-namespace policies whose rules together allow every peer on every port.
    pub cancelled_by: Vec<String>,
    /// Set when a policy layer decides instead of NetworkPolicy: whether
    /// it denies by default, and which layer policies say so.
    pub layer: Option<(bool, Vec<String>)>,
}

impl DefaultDeny {
    pub fn holds(&self) -> bool {
        match &self.layer {
            Some((deny, _)) => *deny,
            None => !self.providers.is_empty() && self.cancelled_by.is_empty(),
        }
    }
}

/// The namespace's default deny for `direction`; `layers` are the layer
/// rules that apply to every pod of it.
pub(crate) fn default_deny(
    state: &NamespaceState,
    direction: Direction,
    layers: &LayerSide<'_>,
) -> DefaultDeny {
    let mut providers = Vec::new();
    let mut rules: Vec<(&str, &Rule)> = Vec::new();
    for policy in state
        .policies
        .values()
        .filter(|p| p.selects_whole_namespace())
    {
        let Some(policy_rules) = policy.rules(direction) else {
            continue;
        };
        providers.push(policy.name.clone());
        rules.extend(policy_rules.iter().map(|r| (policy.name.as_str(), r)));
    }
    let layer = match reach::default_of(layers, !providers.is_empty()) {
        LayerDefault::Layer { deny, by } => Some((deny, by)),
        LayerDefault::NetworkPolicy | LayerDefault::Open => None,
    };
    DefaultDeny {
        providers,
        cancelled_by: reopened_by(&rules).unwrap_or_default(),
        layer,
    }
}

/// The policies whose whole-namespace `rules`, together, admit every peer
/// (every pod of every namespace and every address of both families) on
/// every port of every protocol, or `None` when they leave something denied.
/// Rules are a union, so an allow-all split by protocol, port or peer across
/// rules or policies re-opens the namespace as surely as one `{}` rule.
fn reopened_by(rules: &[(&str, &Rule)]) -> Option<Vec<String>> {
    let mut contributors = BTreeSet::new();
    for protocol in Protocol::ALL {
        // Between two consecutive bounds the set of admitting rules is
        // constant; port 1 starts the first stretch even if no rule does.
        let bounds: BTreeSet<u32> = rules
            .iter()
            .flat_map(|(_, r)| external_port_ranges(&r.ports, protocol))
            .flat_map(|(start, end)| [start, end + 1])
            .chain([1])
            .filter(|port| *port <= 65535)
            .collect();
        for port in bounds {
            // Named ports never admit an address, so they cannot re-open every peer.
            let admitting: Vec<&(&str, &Rule)> = rules
                .iter()
                .filter(|(_, r)| r.admits_port(protocol, port as u16, None))
                .collect();
            let every_pod = admitting
                .iter()
                .any(|(_, r)| r.peers.is_empty() || r.peers.iter().any(selects_every_pod));
            let every_address = Family::BOTH.iter().all(|family| {
                let mut addresses = Intervals::default();
                for (_, rule) in &admitting {
                    addresses.union_with(&rule_addresses(rule, *family));
                }
                addresses.covers(&family.everything())
            });
            if !(every_pod && every_address) {
                return None;
            }
            contributors.extend(admitting.iter().map(|(name, _)| name.to_string()));
        }
    }
    Some(contributors.into_iter().collect())
}

/// A selector peer matching every pod of every namespace, present or future.
fn selects_every_pod(peer: &Peer) -> bool {
    match peer {
        Peer::Selector {
            namespaces: Some(namespaces),
            pods,
        } => namespaces.selects_all() && pods.as_ref().is_none_or(|p| p.selects_all()),
        _ => false,
    }
}
