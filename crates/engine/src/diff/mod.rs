//! What a change does to the posture: two evaluations of a cluster (a pull
//! request's base and head, or the live cluster and the cluster with one
//! admitted object) compared namespace by namespace. [`PostureDiff`] holds
//! only what changed; [`Condition`]s (`--fail-on` of `netposture diff`, and
//! the admission webhook's rules) say which changes matter.

mod conditions;
mod flows;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::posture::{CheckStatus, NamespacePosture};

pub use conditions::{Condition, ConditionHit, ParseConditionError};
pub use flows::{FlowChange, FlowChanges, flow_changes};

/// Every namespace whose posture or flows differ between base and head, in
/// name order. Empty when nothing changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureDiff {
    pub namespaces: Vec<NamespaceDiff>,
}

/// How one namespace changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceDiff {
    pub namespace: String,
    pub presence: Presence,
    /// Verdicts whose value differs, in [`Verdict`] order. For an added or
    /// removed namespace, every verdict, with the missing side `None`.
    pub verdicts: Vec<VerdictChange>,
    /// Checks whose status or evidence differ, in the order of the head's
    /// checks, then checks the head no longer has.
    pub checks: Vec<CheckChange>,
    /// Scores on each side; `None` on the side without the namespace.
    pub score_before: Option<u8>,
    pub score_after: Option<u8>,
    /// Connections between pods of this namespace and others that one side
    /// allows and the other does not.
    #[serde(skip_serializing_if = "FlowChanges::is_empty")]
    pub flows: FlowChanges,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    /// In both base and head.
    Both,
    /// Only in head.
    Added,
    /// Only in base.
    Removed,
}

/// The namespace verdicts of [`NamespacePosture`], by their report field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    #[serde(rename = "covered")]
    Covered,
    #[serde(rename = "defaultDenyIngress")]
    DefaultDenyIngress,
    #[serde(rename = "defaultDenyEgress")]
    DefaultDenyEgress,
    #[serde(rename = "egressOpen")]
    EgressOpen,
    #[serde(rename = "dnsAllowed")]
    DnsAllowed,
    /// Whether the CNI enforces NetworkPolicy (`True`, `False`, `Unknown`).
    #[serde(rename = "cniCapable")]
    CniCapable,
    /// How many pods are not isolated both ways (hostNetwork pods included).
    #[serde(rename = "unprotectedPods")]
    UnprotectedPods,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Covered,
        Verdict::DefaultDenyIngress,
        Verdict::DefaultDenyEgress,
        Verdict::EgressOpen,
        Verdict::DnsAllowed,
        Verdict::CniCapable,
        Verdict::UnprotectedPods,
    ];

    /// The report's field name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Covered => "covered",
            Verdict::DefaultDenyIngress => "defaultDenyIngress",
            Verdict::DefaultDenyEgress => "defaultDenyEgress",
            Verdict::EgressOpen => "egressOpen",
            Verdict::DnsAllowed => "dnsAllowed",
            Verdict::CniCapable => "cniCapable",
            Verdict::UnprotectedPods => "unprotectedPods",
        }
    }

    /// The verdict's value in `posture`, as the report prints it.
    pub fn value(self, posture: &NamespacePosture) -> String {
        let flag = |b: bool| b.to_string();
        match self {
            Verdict::Covered => flag(posture.covered),
            Verdict::DefaultDenyIngress => flag(posture.default_deny_ingress),
            Verdict::DefaultDenyEgress => flag(posture.default_deny_egress),
            Verdict::EgressOpen => flag(posture.egress_open),
            Verdict::DnsAllowed => flag(posture.dns_allowed),
            Verdict::CniCapable => posture.cni.capable.to_string(),
            Verdict::UnprotectedPods => (posture.unprotected_pods.len()
                + posture.unprotected_pods_omitted as usize)
                .to_string(),
        }
    }
}

/// One verdict before and after; `None` on the side without the namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerdictChange {
    pub verdict: Verdict,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One check before and after. The message and evidence are the head's
/// (the base's for a check the head no longer has).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckChange {
    pub id: String,
    pub before: Option<CheckStatus>,
    pub after: Option<CheckStatus>,
    pub message: String,
    pub evidence: Vec<String>,
    /// Evidence the head has and the base had not (all of it for a new check).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_evidence: Vec<String>,
}

impl CheckChange {
    /// Whether the check fails in head and did not in base.
    pub fn newly_failing(&self) -> bool {
        self.after == Some(CheckStatus::Fail) && self.before != Some(CheckStatus::Fail)
    }
}

impl NamespaceDiff {
    pub fn verdict(&self, verdict: Verdict) -> Option<&VerdictChange> {
        self.verdicts.iter().find(|v| v.verdict == verdict)
    }

    pub fn check(&self, id: &str) -> Option<&CheckChange> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// How far the score fell (0 when it rose or a side lacks it).
    pub fn score_drop(&self) -> u8 {
        match (self.score_before, self.score_after) {
            (Some(before), Some(after)) => before.saturating_sub(after),
            _ => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.presence == Presence::Both
            && self.verdicts.is_empty()
            && self.checks.is_empty()
            && self.score_before == self.score_after
            && self.flows.is_empty()
    }
}

impl PostureDiff {
    /// Compares the postures of each side (as [`crate::Evaluator::all`]
    /// gives them) namespace by namespace, without flows.
    pub fn of_postures(
        base: &[(String, NamespacePosture)],
        head: &[(String, NamespacePosture)],
    ) -> Self {
        Self::new(base, head, BTreeMap::new())
    }

    /// Compares the postures of each side namespace by namespace, with the
    /// flows each namespace opens and closes (from [`flow_changes`]).
    /// Flows of a namespace in neither posture list are left out, so a
    /// caller that filters namespaces filters their flows too.
    pub fn new(
        base: &[(String, NamespacePosture)],
        head: &[(String, NamespacePosture)],
        mut flows: BTreeMap<String, FlowChanges>,
    ) -> Self {
        let base: BTreeMap<&str, &NamespacePosture> =
            base.iter().map(|(n, p)| (n.as_str(), p)).collect();
        let head: BTreeMap<&str, &NamespacePosture> =
            head.iter().map(|(n, p)| (n.as_str(), p)).collect();
        let names: BTreeSet<&str> = base.keys().chain(head.keys()).copied().collect();
        let namespaces = names
            .into_iter()
            .map(|name| {
                let mut diff = compare(name, base.get(name).copied(), head.get(name).copied());
                diff.flows = flows.remove(name).unwrap_or_default();
                diff
            })
            .filter(|diff| !diff.is_empty())
            .collect();
        PostureDiff { namespaces }
    }

    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }

    pub fn namespace(&self, name: &str) -> Option<&NamespaceDiff> {
        self.namespaces.iter().find(|d| d.namespace == name)
    }
}

/// The difference of one namespace; empty when nothing changed.
fn compare(
    namespace: &str,
    base: Option<&NamespacePosture>,
    head: Option<&NamespacePosture>,
) -> NamespaceDiff {
    let presence = match (base, head) {
        (Some(_), None) => Presence::Removed,
        (None, Some(_)) => Presence::Added,
        _ => Presence::Both,
    };
    let verdicts = Verdict::ALL
        .into_iter()
        .filter_map(|verdict| {
            let before = base.map(|p| verdict.value(p));
            let after = head.map(|p| verdict.value(p));
            (before != after).then_some(VerdictChange {
                verdict,
                before,
                after,
            })
        })
        .collect();
    NamespaceDiff {
        namespace: namespace.to_string(),
        presence,
        verdicts,
        checks: check_changes(base, head),
        score_before: base.map(|p| p.score),
        score_after: head.map(|p| p.score),
        flows: FlowChanges::default(),
    }
}

fn check_changes(
    base: Option<&NamespacePosture>,
    head: Option<&NamespacePosture>,
) -> Vec<CheckChange> {
    let base_checks = base.map_or(&[][..], |p| p.checks.as_slice());
    let head_checks = head.map_or(&[][..], |p| p.checks.as_slice());
    let find = |checks: &[crate::Check], id: &str| checks.iter().find(|c| c.id == id).cloned();
    let mut changes = Vec::new();
    for after in head_checks {
        let before = find(base_checks, &after.id);
        let old_evidence: BTreeSet<&String> =
            before.iter().flat_map(|c| c.evidence.iter()).collect();
        let same_evidence = before
            .as_ref()
            .is_some_and(|b| b.evidence == after.evidence);
        if before.as_ref().map(|b| b.status) == Some(after.status) && same_evidence {
            continue;
        }
        changes.push(CheckChange {
            id: after.id.clone(),
            before: before.as_ref().map(|b| b.status),
            after: Some(after.status),
            message: after.message.clone(),
            evidence: after.evidence.clone(),
            new_evidence: after
                .evidence
                .iter()
                .filter(|e| !old_evidence.contains(e))
                .cloned()
                .collect(),
        });
    }
    for before in base_checks {
        if find(head_checks, &before.id).is_none() {
            changes.push(CheckChange {
                id: before.id.clone(),
                before: Some(before.status),
                after: None,
                message: before.message.clone(),
                evidence: before.evidence.clone(),
                new_evidence: Vec::new(),
            });
        }
    }
    changes
}
