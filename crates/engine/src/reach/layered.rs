//! The walk through the policy layers around NetworkPolicy for one side of
//! a connection: Admin stage, Main stage (Calico, Cilium and NetworkPolicy
//! by order), Baseline stage, and the rules it could not be sure about.

use super::{Applied, Decided, Decision, LayerSide, Matching, Reach, Remote};
use crate::layers::{Action, NETWORK_POLICY_ORDER, Stage};
use crate::model::{Pod, Policy, Protocol};

/// What the walk through the layers needs of the connection, and where it
/// keeps the rules it could not tell about.
pub(super) struct Probe<'r, 'p> {
    pub remote: &'r Remote<'r>,
    pub protocol: Protocol,
    pub port: u16,
    pub destination: Option<&'r Pod>,
    pub unsure: &'r mut Unsure<'p>,
}

/// The first rule of each action the walk reached that may match without
/// netposture knowing (or ties in priority with the deciding rule): each
/// could turn the answer into its own action's.
#[derive(Default)]
pub(super) struct Unsure<'p> {
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
    pub fn settle(self, decided: Decided<'p>) -> Decided<'p> {
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
pub(super) fn walk_layers<'p>(
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
