//! Why a connection is allowed or not: which policy and rule (or which
//! layer rule) decided each side, as `explain` and evidence name them.

use serde::Serialize;

use super::{Decided, Decision, LayerEnds, Reach, Remote, decide_end, same_pod};
use crate::layers::Action;
use crate::model::{Direction, Pod, Policy, Protocol};

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
