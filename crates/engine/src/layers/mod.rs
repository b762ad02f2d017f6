//! Policy APIs beside Kubernetes NetworkPolicy: cluster-wide tiers
//! (ClusterNetworkPolicy and its AdminNetworkPolicy predecessors) and
//! CNI-specific policies (Calico, Cilium). Each API has a converter into one
//! model of layered rules ([`LayerPolicy`]): a stage and order, a subject,
//! ordered rules with an action, and notes on what could not be evaluated.
//! [`crate::reach`] consults the layers around NetworkPolicy in one place:
//! which rules apply to a pod, whether one matches, and the layers' defaults
//! are in `reach/layer_*.rs`.

mod calico;
mod calico_selector;
mod cilium;
mod cilium_selector;
mod policy;
mod selectors;
mod tiered;
mod tiered_validation;

use crate::model::Direction;

pub use policy::{
    Action, Enforcement, LabelMatch, LayerKey, LayerPeer, LayerPolicy, LayerRule,
    NETWORK_POLICY_ORDER, Note, PodSet, RulePosition, Scope, Stage,
};

/// A kind of policy layer, by API group and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LayerKind {
    pub group: &'static str,
    pub kind: &'static str,
    /// Cluster-scoped layers can affect every namespace; namespaced ones only their own.
    pub cluster_scoped: bool,
}

pub(crate) const TIERED_GROUP: &str = "policy.networking.k8s.io";
const CALICO_GROUP: &str = "crd.projectcalico.org";
const CILIUM_GROUP: &str = "cilium.io";

pub const LAYER_KINDS: [LayerKind; 7] = [
    LayerKind {
        group: TIERED_GROUP,
        kind: "ClusterNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: TIERED_GROUP,
        kind: "AdminNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: TIERED_GROUP,
        kind: "BaselineAdminNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: CALICO_GROUP,
        kind: "GlobalNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: CALICO_GROUP,
        kind: "NetworkPolicy",
        cluster_scoped: false,
    },
    LayerKind {
        group: CILIUM_GROUP,
        kind: "CiliumClusterwideNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: CILIUM_GROUP,
        kind: "CiliumNetworkPolicy",
        cluster_scoped: false,
    },
];

/// The layer kind of an object's API group and kind, if it is one.
/// `projectcalico.org` (Calico's API server) serves the same kinds as its CRDs.
pub fn layer_kind(group: &str, kind: &str) -> Option<LayerKind> {
    let group = if group == "projectcalico.org" {
        CALICO_GROUP
    } else {
        group
    };
    LAYER_KINDS
        .into_iter()
        .find(|k| k.group == group && k.kind == kind)
}
/// Which checks a note on a direction can make wrong.
pub fn affected_checks(direction: Option<Direction>) -> &'static [&'static str] {
    use crate::posture::ids;
    match direction {
        Some(Direction::Egress) => &[
            ids::EGRESS_RESTRICTED,
            ids::DNS_ALLOWED,
            ids::DNS_TCP_ALLOWED,
        ],
        Some(Direction::Ingress) => &[ids::EXPOSED_SERVICES],
        None => &[
            ids::DEFAULT_DENY_INGRESS,
            ids::DEFAULT_DENY_EGRESS,
            ids::EGRESS_RESTRICTED,
            ids::DNS_ALLOWED,
            ids::DNS_TCP_ALLOWED,
            ids::EXPOSED_SERVICES,
        ],
    }
}
