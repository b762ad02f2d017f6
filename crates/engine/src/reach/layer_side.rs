//! The layer rules that apply to one pod, or to every pod of a namespace,
//! for one direction, in the order the layers evaluate them.

use super::layer_defaults;
use crate::layers::{LayerPeer, LayerPolicy, LayerRule, PodSet, Stage, TIERED_GROUP};
use crate::model::{Direction, Labels, Pod};

/// One rule that applies to a pod for a direction, with its policy.
#[derive(Clone, Copy, Debug)]
pub struct Applied<'a> {
    pub policy: &'a LayerPolicy,
    pub rule: &'a LayerRule,
}

impl Applied<'_> {
    fn sort_key(&self) -> (Stage, f64) {
        (self.policy.stage, self.rule.order)
    }
}

/// The layer rules that apply to one pod (or to a whole namespace) for one
/// direction, in evaluation order.
#[derive(Clone, Debug)]
pub struct LayerSide<'a> {
    pub direction: Direction,
    pub rules: Vec<Applied<'a>>,
    /// Main-stage policies that select the pod for the direction: they
    /// isolate it as a NetworkPolicy does, even without a matching rule.
    pub isolating: Vec<&'a LayerPolicy>,
    /// Policies that may select the pod but could not be read.
    pub unread: Vec<&'a LayerPolicy>,
}

impl<'a> LayerSide<'a> {
    pub const NONE: LayerSide<'static> = LayerSide {
        direction: Direction::Ingress,
        rules: Vec::new(),
        isolating: Vec::new(),
        unread: Vec::new(),
    };

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.isolating.is_empty() && self.unread.is_empty()
    }

    /// The rules of `policies` whose subject `selects` for `direction`.
    fn build(
        policies: &[&'a LayerPolicy],
        direction: Direction,
        selects: impl Fn(&PodSet) -> bool,
    ) -> Self {
        let mut side = LayerSide {
            direction,
            rules: Vec::new(),
            isolating: Vec::new(),
            unread: Vec::new(),
        };
        for policy in policies {
            if policy.unread {
                side.unread.push(policy);
                continue;
            }
            let (Some(subject), Some(rules)) = (&policy.subject, policy.rules(direction)) else {
                continue;
            };
            if !selects(subject) {
                continue;
            }
            if policy.stage == Stage::Main && policy.isolates.contains(&direction) {
                side.isolating.push(policy);
            }
            side.rules
                .extend(rules.iter().map(|rule| Applied { policy, rule }));
        }
        // Stable: within one order, policies keep the index's name order and rules their own.
        side.rules.sort_by(|a, b| {
            let (stage_a, order_a) = a.sort_key();
            let (stage_b, order_b) = b.sort_key();
            stage_a.cmp(&stage_b).then(order_a.total_cmp(&order_b))
        });
        side
    }

    /// What applies to `pod` of `namespace`; `policies` are the enforced
    /// layer policies that may apply in that namespace.
    pub fn for_pod(
        policies: &[&'a LayerPolicy],
        namespace: &str,
        namespace_labels: &Labels,
        pod: &Pod,
        direction: Direction,
    ) -> Self {
        if policies.is_empty() || pod.host_network {
            return LayerSide {
                direction,
                ..LayerSide::NONE
            };
        }
        Self::build(policies, direction, |s| {
            s.matches(namespace, namespace_labels, pod)
        })
    }

    /// What applies to every pod of `namespace`, including future ones.
    pub fn for_namespace(
        policies: &[&'a LayerPolicy],
        namespace: &str,
        namespace_labels: &Labels,
        direction: Direction,
    ) -> Self {
        Self::build(policies, direction, |s| {
            s.covers_namespace(namespace, namespace_labels)
        })
    }

    /// Whether `rule` matches every peer it can: every pod and address on
    /// every port. The tiered APIs have no address peers for ingress, so
    /// there every pod is all they can match.
    pub fn covers_everything(&self, applied: &Applied<'_>) -> bool {
        let pods_suffice =
            self.direction == Direction::Ingress && applied.policy.kind.group == TIERED_GROUP;
        layer_defaults::covers_everything(applied.rule, pods_suffice)
    }

    /// Rules of one stage, in order.
    pub fn stage(&self, stage: Stage) -> impl Iterator<Item = &Applied<'a>> {
        self.rules.iter().filter(move |a| a.policy.stage == stage)
    }

    /// Whether some rule may match pods by IP, so pod IPs matter.
    pub fn has_cidrs(&self) -> bool {
        self.rules.iter().any(|a| {
            a.rule
                .peers
                .iter()
                .any(|p| matches!(p, LayerPeer::Cidr(_) | LayerPeer::Addresses(_)))
        })
    }
}
