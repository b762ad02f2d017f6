//! What NetworkPolicy rules admit outside the cluster: addresses, port
//! ranges, and whether together they cover a whole public address family.

use crate::intervals::Intervals;
use crate::ipset::{Family, block_addresses};
use crate::model::{Peer, PortMatch, PortSpec, Protocol, Rule};

/// Addresses outside the cluster a rule admits: everything with no peers, else its ipBlocks.
pub(crate) fn rule_addresses(rule: &Rule, family: Family) -> Intervals {
    if rule.peers.is_empty() {
        return family.everything();
    }
    let mut addresses = Intervals::default();
    for peer in &rule.peers {
        if let Peer::IpBlock(block) = peer {
            addresses.union_with(&block_addresses(family, block));
        }
    }
    addresses
}

/// Whether a rule admits any address outside the cluster: it has no peers, or an ipBlock.
pub(crate) fn admits_addresses(rule: &Rule) -> bool {
    rule.peers.is_empty() || rule.peers.iter().any(|p| matches!(p, Peer::IpBlock(_)))
}

/// The first address family whose whole public space `rules` admit together
/// (a rule without peers admits every address).
pub(crate) fn public_family_covered<'r>(
    rules: impl Iterator<Item = &'r Rule> + Clone,
) -> Option<Family> {
    Family::BOTH.into_iter().find(|family| {
        let mut reachable = Intervals::default();
        for rule in rules.clone() {
            reachable.union_with(&rule_addresses(rule, *family));
        }
        reachable.covers(family.public())
    })
}

/// Port ranges of `protocol` a rule's ports admit toward addresses outside
/// the cluster (empty: every port); named ports never match there.
pub(crate) fn external_port_ranges(ports: &[PortMatch], protocol: Protocol) -> Vec<(u32, u32)> {
    if ports.is_empty() {
        return vec![(1, 65535)];
    }
    ports
        .iter()
        .filter(|m| m.protocol == protocol)
        .filter_map(|m| match m.port {
            PortSpec::Any => Some((1, 65535)),
            PortSpec::Range(start, end) => Some((start.into(), end.into())),
            PortSpec::Named(_) => None,
        })
        .collect()
}
