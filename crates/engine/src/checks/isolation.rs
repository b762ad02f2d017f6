//! The isolation checks: default deny each way, egress to the public
//! internet, pods without a policy, hostNetwork pods and the CNI's enforcement.

use super::{Findings, capped, check, pods, policies};
use crate::cni::Capability;
use crate::model::Direction;
use crate::posture::{Check, CheckStatus, Severity, ids};

impl Findings<'_> {
    pub(super) fn default_deny(&self, direction: Direction) -> Check {
        let (id, verdict, isolated) = match direction {
            Direction::Ingress => (
                ids::DEFAULT_DENY_INGRESS,
                self.deny_ingress,
                self.pods.counts.ingress_isolated,
            ),
            Direction::Egress => (
                ids::DEFAULT_DENY_EGRESS,
                self.deny_egress,
                self.pods.counts.egress_isolated,
            ),
        };
        let regular = self.pods.counts.total - self.pods.counts.host_network;
        let (status, message, evidence) = if let Some((deny, by)) = &verdict.layer {
            if *deny {
                (
                    CheckStatus::Pass,
                    format!(
                        "every pod, including future ones, is denied {direction} by default by a cluster-wide or CNI policy layer"
                    ),
                    by.clone(),
                )
            } else {
                (
                    CheckStatus::Fail,
                    format!(
                        "a policy layer allows every peer on every port for {direction}, before or instead of any default deny"
                    ),
                    by.clone(),
                )
            }
        } else if verdict.holds() {
            (
                CheckStatus::Pass,
                format!("every pod, including future ones, is isolated for {direction}"),
                policies(&verdict.providers).collect(),
            )
        } else if !verdict.cancelled_by.is_empty() {
            (
                CheckStatus::Fail,
                format!(
                    "the {direction} default deny is cancelled by whole-namespace rules that, alone or together, allow every peer on every port"
                ),
                policies(&verdict.cancelled_by).collect(),
            )
        } else if regular > 0 && isolated == regular {
            (
                CheckStatus::Fail,
                format!(
                    "all {regular} current pods are isolated for {direction}, but no policy with an empty podSelector covers pods created later"
                ),
                Vec::new(),
            )
        } else {
            (
                CheckStatus::Fail,
                format!(
                    "no policy with an empty podSelector lists {direction}: pods allow all {direction} unless a policy selects them"
                ),
                Vec::new(),
            )
        };
        let types = match direction {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        };
        check(id, status, Severity::High, message)
            .with_evidence(capped(evidence))
            .with_remediation(format!(
                "Add a NetworkPolicy in {} with `podSelector: {{}}` and `policyTypes: [{types}]`, then allow only the flows the workloads need.",
                self.namespace
            ))
    }

    pub(super) fn egress_restricted(&self) -> Check {
        let open = &self.pods.egress_open;
        let undetermined = &self.pods.egress_undetermined;
        if open.is_empty() && !undetermined.is_empty() {
            return check(
                ids::EGRESS_RESTRICTED,
                CheckStatus::Warn,
                Severity::Medium,
                format!(
                    "undetermined: {} pod(s) may reach every public internet address unless a policy layer rule netposture cannot evaluate denies some",
                    undetermined.len()
                ),
            )
            .with_evidence(capped(
                undetermined.iter().map(|(pod, why)| format!("pod/{pod}: {why}")),
            ));
        }
        if open.is_empty() {
            return check(
                ids::EGRESS_RESTRICTED,
                CheckStatus::Pass,
                Severity::Medium,
                "no pod may reach the whole public internet".into(),
            );
        }
        check(
            ids::EGRESS_RESTRICTED,
            CheckStatus::Fail,
            Severity::Medium,
            format!("{} pod(s) may reach every public internet address", open.len()),
        )
        .with_evidence(capped(open.iter().map(|(pod, why)| format!("pod/{pod}: {why}"))))
        .with_remediation(
            "Restrict egress to the destinations the workloads need: in-cluster selectors, or ipBlocks for specific external ranges.",
        )
    }

    pub(super) fn cni_enforces(&self) -> Check {
        let (status, message) = match self.cni.capable {
            Capability::True => (
                CheckStatus::Pass,
                format!("the CNI ({}) enforces NetworkPolicy", self.cni.name),
            ),
            Capability::False => (
                CheckStatus::Fail,
                format!(
                    "the CNI ({}) does not enforce NetworkPolicy: every policy is ignored",
                    self.cni.name
                ),
            ),
            Capability::Unknown => (
                CheckStatus::Warn,
                format!(
                    "the CNI ({}) is not known to enforce NetworkPolicy",
                    self.cni.name
                ),
            ),
        };
        check(ids::CNI_ENFORCES, status, Severity::Critical, message)
            .with_evidence(vec![self.cni.evidence.clone()])
            .with_remediation(
                "Run a CNI that enforces NetworkPolicy (Calico, Cilium, Antrea, ...) or add a policy engine beside it (Canal = Flannel + Calico); if detection is wrong, set the CNI in the configuration.",
            )
    }

    pub(super) fn pods_isolated(&self) -> Check {
        let regular = self.pods.counts.total - self.pods.counts.host_network;
        if regular == 0 {
            return check(
                ids::PODS_ISOLATED,
                CheckStatus::NotApplicable,
                Severity::Medium,
                "no pod besides hostNetwork pods".into(),
            );
        }
        let missing = &self.pods.not_isolated;
        if missing.is_empty() {
            return check(
                ids::PODS_ISOLATED,
                CheckStatus::Pass,
                Severity::Medium,
                format!("all {regular} pods are isolated for ingress and egress"),
            );
        }
        check(
            ids::PODS_ISOLATED,
            CheckStatus::Fail,
            Severity::Medium,
            format!(
                "{} of {regular} pods are not isolated in both directions",
                missing.len()
            ),
        )
        .with_evidence(capped(pods(missing)))
        .with_remediation("Select these pods with policies for both directions, best through a default deny with `podSelector: {}`.")
    }

    pub(super) fn host_network(&self) -> Check {
        let host = &self.pods.host_network;
        if host.is_empty() {
            return check(
                ids::HOST_NETWORK_PODS,
                CheckStatus::Pass,
                Severity::High,
                "no hostNetwork pod".into(),
            );
        }
        check(
            ids::HOST_NETWORK_PODS,
            CheckStatus::Fail,
            Severity::High,
            format!(
                "{} hostNetwork pod(s): NetworkPolicy does not reliably apply to them",
                host.len()
            ),
        )
        .with_evidence(capped(pods(host)))
        .with_remediation("Run these pods without hostNetwork, or move them to a dedicated, excluded system namespace.")
    }
}
