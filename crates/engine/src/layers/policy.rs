//! The engine's model of a layer policy: its stage and order, the pods it
//! applies to, its ordered rules with their peers and ports, and notes on
//! what could not be read. The converters fill it in.

use std::fmt;

use kube_core::{Selector, SelectorExt};
use serde::Serialize;
use serde_json::Value;

use super::{
    CALICO_GROUP, CILIUM_GROUP, LayerKind, TIERED_GROUP, calico, calico_selector, cilium, tiered,
    tiered_validation,
};
use crate::cni::{CniKind, CniStatus};
use crate::model::{Direction, IpBlock, Labels, Pod, PortMatch};

/// Where a layer's rules sit relative to Kubernetes NetworkPolicy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Before NetworkPolicy: Admin tier of ClusterNetworkPolicy, AdminNetworkPolicy.
    Admin,
    /// Beside NetworkPolicy, ordered around it (NetworkPolicy counts as
    /// order [`NETWORK_POLICY_ORDER`]): Calico and Cilium policies. A policy
    /// selecting a pod for a direction isolates it there, as a NetworkPolicy does.
    Main,
    /// After NetworkPolicy, for pods no NetworkPolicy selects: Baseline tier, BANP.
    Baseline,
}

/// Calico evaluates Kubernetes NetworkPolicies at this order in its default
/// tier; Cilium merges its allow rules with them, so they sit here too.
pub const NETWORK_POLICY_ORDER: f64 = 1000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// Allowed, and no later rule or NetworkPolicy is consulted (Accept in ClusterNetworkPolicy).
    Allow,
    Deny,
    /// Skips the rest of the stage: Admin goes on to NetworkPolicy, Main to Baseline.
    Pass,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        })
    }
}

/// Labels matched by a Kubernetes selector or a Calico selector expression.
#[derive(Clone, Debug)]
pub enum LabelMatch {
    Kube(Selector),
    Calico(calico_selector::Expr),
    /// A selector that could not be read: it matches nothing, and a note says so.
    Nothing,
}

impl LabelMatch {
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            LabelMatch::Kube(selector) => selector.matches(labels),
            LabelMatch::Calico(expr) => expr.matches(labels),
            LabelMatch::Nothing => false,
        }
    }

    pub fn selects_all(&self) -> bool {
        match self {
            LabelMatch::Kube(selector) => selector.selects_all(),
            LabelMatch::Calico(expr) => expr.selects_all(),
            LabelMatch::Nothing => false,
        }
    }
}

/// Which namespaces a set of pods lives in.
#[derive(Clone, Debug)]
pub enum Scope {
    Named(String),
    Selected(LabelMatch),
}

impl Scope {
    pub fn matches(&self, namespace: &str, labels: &Labels) -> bool {
        match self {
            Scope::Named(name) => name == namespace,
            Scope::Selected(selector) => selector.matches(labels),
        }
    }
}

/// Pods chosen by namespace and pod labels: a subject, or a peer.
#[derive(Clone, Debug)]
pub struct PodSet {
    pub namespaces: Scope,
    pub pods: LabelMatch,
}

impl PodSet {
    /// Calico selectors may also name the pod's namespace through this label.
    const CALICO_NAMESPACE_LABEL: &str = "projectcalico.org/namespace";

    pub fn matches(&self, namespace: &str, namespace_labels: &Labels, pod: &Pod) -> bool {
        if pod.host_network || !self.namespaces.matches(namespace, namespace_labels) {
            return false;
        }
        match &self.pods {
            LabelMatch::Calico(expr) => {
                let mut labels = pod.labels.clone();
                labels.insert(Self::CALICO_NAMESPACE_LABEL.into(), namespace.into());
                expr.matches(&labels)
            }
            other => other.matches(&pod.labels),
        }
    }

    /// Every pod of the namespace, including pods created later.
    pub fn covers_namespace(&self, namespace: &str, namespace_labels: &Labels) -> bool {
        self.namespaces.matches(namespace, namespace_labels) && self.pods.selects_all()
    }

    /// Every pod of every namespace.
    pub(crate) fn covers_every_pod(&self) -> bool {
        matches!(&self.namespaces, Scope::Selected(s) if s.selects_all()) && self.pods.selects_all()
    }
}

/// Who a rule's traffic comes from or goes to.
#[derive(Clone, Debug)]
pub enum LayerPeer {
    Pods(PodSet),
    /// Addresses, and pods whose IP it holds. A pod whose IP is unknown is
    /// held when the block holds all the pod CIDRs, and may be when it
    /// overlaps them.
    Cidr(IpBlock),
    /// Addresses outside the cluster only: Cilium's CIDR peers never select pods.
    Addresses(IpBlock),
    /// Every address outside the cluster (Cilium's `world`).
    Outside,
    /// Every pod (Cilium's `cluster`).
    AllPods,
    /// Every pod and address (Cilium's `all`, a Calico rule without selectors).
    Everything,
    /// A peer the engine cannot evaluate (domain names, nodes): it matches
    /// nothing here, and a note on the policy says so.
    Unevaluated,
    /// No one: what a fail-closed peer of an allowing rule matches.
    Nothing,
}

/// Where a rule is written in its object: the list (`egress`, Cilium's
/// `egressDeny`) and the 0-based index in it, counting rules left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RulePosition {
    pub list: &'static str,
    pub index: usize,
}

impl RulePosition {
    /// The plain `ingress`/`egress` list of `direction`.
    pub fn of(direction: Direction, index: usize) -> Self {
        let list = match direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        RulePosition { list, index }
    }
}

impl fmt::Display for RulePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.list, self.index)
    }
}

/// One rule of a layer policy, for one direction.
#[derive(Clone, Debug)]
pub struct LayerRule {
    /// Named by this in evidence, never by its place among converted rules.
    pub at: RulePosition,
    pub action: Action,
    /// Within the stage, lower first; rules of one policy may differ (Cilium's
    /// deny rules come before every allow).
    pub order: f64,
    /// Empty means every peer.
    pub peers: Vec<LayerPeer>,
    /// Empty means every port of every protocol.
    pub ports: Vec<PortMatch>,
}

impl LayerRule {
    /// Whether a peer netposture cannot evaluate may match where the others do not.
    pub fn has_unevaluated_peer(&self) -> bool {
        self.peers
            .iter()
            .any(|p| matches!(p, LayerPeer::Unevaluated))
    }
}

/// Something of a policy the engine could not evaluate, and which direction
/// it concerns (`None`: the whole policy, e.g. an unreadable subject).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub direction: Option<Direction>,
    pub text: String,
}

impl Note {
    pub(super) fn new(direction: Option<Direction>, text: impl Into<String>) -> Self {
        Note {
            direction,
            text: text.into(),
        }
    }
}

/// One policy of a layer, converted to the engine's model.
#[derive(Clone, Debug)]
pub struct LayerPolicy {
    pub kind: LayerKind,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
    pub stage: Stage,
    /// The policy's own order (priority, Calico order), for descriptions.
    pub order: Option<f64>,
    /// The pods the policy applies to; `None` when it could not be read.
    pub subject: Option<PodSet>,
    /// `Some` when the policy has rules for the direction (or, in the Main
    /// stage, isolates its subject for it).
    pub ingress: Option<Vec<LayerRule>>,
    pub egress: Option<Vec<LayerRule>>,
    /// Main stage: the directions in which selecting a pod isolates it.
    pub isolates: Vec<Direction>,
    pub notes: Vec<Note>,
    /// Why the API server would reject the object: it is then left out of
    /// the evaluation and reported as an invalid object.
    pub rejected: Option<String>,
    /// The policy governs pods but could not be read (its subject, its tier
    /// or its rules as a whole): any flow of a pod it may select is undetermined.
    pub unread: bool,
}

/// How the index keys a layer policy.
pub type LayerKey = (LayerKind, Option<String>, String);

impl LayerPolicy {
    /// Converts an object of a layer kind; what cannot be read becomes notes,
    /// never an error, so the report can say what was left out.
    pub fn from_object(
        kind: LayerKind,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
    ) -> Self {
        let namespace = namespace.filter(|_| !kind.cluster_scoped);
        let mut policy = LayerPolicy {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            stage: Stage::Main,
            order: None,
            subject: None,
            ingress: None,
            egress: None,
            isolates: Vec::new(),
            notes: Vec::new(),
            rejected: None,
            unread: false,
        };
        let spec = &object["spec"];
        match kind.group {
            TIERED_GROUP => {
                let violations = tiered_validation::violations(kind.kind, name, spec);
                if violations.is_empty() {
                    tiered::convert(&mut policy, spec);
                } else {
                    policy.reject(violations.join("; "));
                    // Reported where its subject, when readable, would apply.
                    policy.subject = tiered::subject(&spec["subject"]).ok();
                }
            }
            CALICO_GROUP => calico::convert(&mut policy, spec),
            _ => cilium::convert(&mut policy, object),
        }
        policy
    }

    /// Leaves the policy out of the evaluation: the API server would not
    /// store it (or, of two with one name, only one of them).
    pub fn reject(&mut self, reason: String) {
        self.rejected = Some(reason);
        self.ingress = None;
        self.egress = None;
        self.isolates.clear();
        self.notes.clear();
    }

    /// A tiered API's policy with a priority, which the API lets tie.
    pub fn has_priority(&self) -> bool {
        self.kind.group == TIERED_GROUP && self.order.is_some()
    }

    pub fn key(&self) -> LayerKey {
        (self.kind, self.namespace.clone(), self.name.clone())
    }

    pub fn rules(&self, direction: Direction) -> Option<&[LayerRule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// Whether the policy may select pods in `namespace` (a policy whose
    /// subject could not be read may apply anywhere its scope allows).
    pub fn may_apply_in(&self, namespace: &str, labels: &Labels) -> bool {
        if let Some(own) = &self.namespace {
            return own == namespace;
        }
        self.subject
            .as_ref()
            .is_none_or(|s| s.namespaces.matches(namespace, labels))
    }

    /// `adminnetworkpolicy/NAME`; Calico's namespaced NetworkPolicy keeps its
    /// group so it is not mistaken for a Kubernetes one.
    pub fn describe(&self) -> String {
        let kind = self.kind.kind.to_ascii_lowercase();
        if self.kind.group == CALICO_GROUP && !self.kind.cluster_scoped {
            format!("{kind}.{}/{}", self.kind.group, self.name)
        } else {
            format!("{kind}/{}", self.name)
        }
    }

    /// Where the policy sits: `Admin tier, priority 10`, `Baseline tier`, ...
    pub fn tier(&self) -> String {
        let order = self.order.map(|o| o.to_string());
        match (self.kind.group, self.stage, order) {
            (TIERED_GROUP, Stage::Admin, Some(o)) => format!("Admin tier, priority {o}"),
            (TIERED_GROUP, _, Some(o)) => format!("Baseline tier, priority {o}"),
            (TIERED_GROUP, _, None) => "Baseline tier".into(),
            (CALICO_GROUP, _, Some(o)) => format!("Calico, order {o}"),
            (CALICO_GROUP, _, None) => "Calico, no order".into(),
            _ => "Cilium".into(),
        }
    }

    /// `describe (tier)`, as evidence names it.
    pub fn evidence(&self) -> String {
        format!("{} ({})", self.describe(), self.tier())
    }

    /// Whether the cluster's CNI enforces this policy: Calico kinds need
    /// Calico or Canal, Cilium kinds Cilium. The tiered Kubernetes APIs
    /// count whenever they are present: serving their CRDs means an
    /// implementation is expected.
    pub fn enforcement(&self, cni: &CniStatus) -> Enforcement {
        let running = CniKind::from_name(&cni.name);
        let needed: &[CniKind] = match self.kind.group {
            CALICO_GROUP => &[CniKind::Calico, CniKind::Canal],
            CILIUM_GROUP => &[CniKind::Cilium],
            _ => return Enforcement::Expected,
        };
        if running.is_some_and(|kind| needed.contains(&kind)) {
            Enforcement::Enforced
        } else {
            Enforcement::NotEnforced
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// The running CNI implements this API.
    Enforced,
    /// Evaluated on the assumption that the cluster implements the API whose CRDs it serves.
    Expected,
    /// The running CNI does not implement this API: the policy has no effect.
    NotEnforced,
}
