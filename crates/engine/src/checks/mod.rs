//! Turns a namespace's facts into checks (with evidence and remediation) and
//! the weighted score.

mod dashboard;
mod dns;
mod exposure;
mod host_ports;
mod ingress;
mod isolation;
mod layers;
mod mesh;

use std::collections::BTreeMap;

use crate::annotations;
use crate::cluster::{Cluster, NamespaceState};
use crate::cni::CniStatus;
use crate::exposure::{ExposedPod, Guard, Routes};
use crate::facts::{DefaultDeny, Mesh, PodFacts};
use crate::model::Direction;
use crate::pod_cidrs::PodCidrs;
use crate::posture::{Check, CheckStatus, Severity, ids};
use crate::settings::Settings;

pub(crate) use layers::LayerReport;
mod hygiene;
mod system;

pub(crate) use system::SystemPods;

/// Evidence lists longer than this end with "... and N more".
const EVIDENCE_CAP: usize = 20;

pub(crate) struct Findings<'a> {
    pub namespace: &'a str,
    pub state: &'a NamespaceState,
    pub settings: &'a Settings,
    pub cni: &'a CniStatus,
    pub dns_description: String,
    pub deny_ingress: &'a DefaultDeny,
    pub deny_egress: &'a DefaultDeny,
    pub pods: &'a PodFacts,
    pub exposed: &'a [ExposedPod<'a>],
    pub routes: &'a Routes<'a>,
    /// Set when Istio is installed.
    pub mesh: Option<&'a Mesh<'a>>,
    /// Policies of other APIs that can affect this namespace.
    pub layers: LayerReport,
    /// The whole index, for peers that select other namespaces.
    pub cluster: &'a Cluster,
    pub system: &'a SystemPods<'a>,
    /// Where pods whose IP is not known may have it.
    pub pod_cidrs: &'a PodCidrs,
}

fn capped(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().collect();
    if items.len() > EVIDENCE_CAP {
        let rest = items.len() - EVIDENCE_CAP;
        items.truncate(EVIDENCE_CAP);
        items.push(format!("... and {rest} more"));
    }
    items
}

fn policies(names: &[String]) -> impl Iterator<Item = String> + '_ {
    names.iter().map(|n| format!("networkpolicy/{n}"))
}

fn pods<'p>(names: impl IntoIterator<Item = &'p String>) -> impl Iterator<Item = String> {
    names.into_iter().map(|n| format!("pod/{n}"))
}

/// `line`, followed by why the pod is not guarded when it is not.
fn guarded_line(line: String, guard: &Guard) -> String {
    match guard {
        Guard::HostNetwork => format!("{line}: hostNetwork, NetworkPolicy cannot protect it"),
        Guard::NotIsolated => format!("{line}: no ingress policy selects it"),
        Guard::OpenToEveryone {
            policies,
            family,
            port,
        } => format!(
            "{line}: networkpolicy/{} admit every public {} address on {port}",
            policies.join(", networkpolicy/"),
            family.name()
        ),
        Guard::Restricted => line,
    }
}

fn check(id: &str, status: CheckStatus, severity: Severity, message: String) -> Check {
    Check {
        id: id.to_string(),
        status,
        severity,
        message,
        evidence: Vec::new(),
        remediation: String::new(),
        controls: Vec::new(),
    }
}

impl Check {
    fn with_evidence(mut self, evidence: Vec<String>) -> Self {
        self.evidence = evidence;
        self
    }

    fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        if self.status != CheckStatus::Pass {
            self.remediation = remediation.into();
        }
        self
    }
}

impl Findings<'_> {
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = vec![
            self.default_deny(Direction::Ingress),
            self.default_deny(Direction::Egress),
            self.egress_restricted(),
            self.dns_udp(),
            self.dns_tcp(),
            self.cni_enforces(),
            self.pods_isolated(),
            self.host_network(),
            self.exposed_services(),
            self.system_namespaces_isolated(),
            self.empty_policies(),
            self.empty_peers(),
            self.spoofable_namespace_selectors(),
            self.host_ports(),
            self.ingress_tls(),
            self.ingress_backends(),
            self.dashboard_exposed(),
            self.mesh_mtls(),
        ];
        checks.extend(self.policy_layers());
        self.warn_where_unevaluated(&mut checks);
        checks.extend(self.invalid_layer_policies());
        checks.extend(self.state.rejected.values().map(|rejected| {
            check(
                ids::INVALID_OBJECT,
                CheckStatus::Fail,
                Severity::Medium,
                format!(
                    "{} {} would be rejected by the API server and is left out of the evaluation: {}",
                    rejected.kind, rejected.name, rejected.reason
                ),
            )
            .with_evidence(vec![format!("{}/{}", rejected.kind.to_ascii_lowercase(), rejected.name)])
            .with_remediation("Fix the object so that the API server accepts it.")
        }));
        self.apply_acceptance(&mut checks);
        checks
    }

    /// Marks accepted risks as such (keeping what was found) and reports the
    /// acceptance itself, so it stays visible and a typo in a risk name shows.
    fn apply_acceptance(&self, checks: &mut Vec<Check>) {
        let choices = &self.state.choices;
        let reason = choices.reason_or_default();
        for check in checks.iter_mut() {
            if choices.accepts(&check.id)
                && matches!(check.status, CheckStatus::Fail | CheckStatus::Warn)
            {
                check.status = CheckStatus::Accepted;
                check.message = format!("{} (risk accepted: {reason})", check.message);
            }
        }
        if !choices.unknown.is_empty() {
            let known: Vec<&str> = annotations::RISKS.iter().map(|(risk, _)| *risk).collect();
            checks.push(
                check(
                    ids::ACCEPTED_RISKS,
                    CheckStatus::Fail,
                    Severity::Low,
                    format!(
                        "{} names unknown risk(s) {}; nothing is accepted for them",
                        annotations::ACCEPT,
                        choices.unknown.join(", ")
                    ),
                )
                .with_remediation(format!("Use the risk names {}.", known.join(", "))),
            );
        } else if !choices.accepted.is_empty() {
            let risks: Vec<&str> = choices.accepted.values().copied().collect();
            checks.push(check(
                ids::ACCEPTED_RISKS,
                CheckStatus::Warn,
                Severity::Info,
                format!("accepted risk(s) {}: {reason}", risks.join(", ")),
            ));
        }
    }
}

/// 0-100: the weighted share of passing checks, a Warn counting half.
/// NotApplicable checks and checks without weight do not count.
pub fn score(checks: &[Check], weights: &BTreeMap<String, u32>) -> u8 {
    let (mut earned, mut possible) = (0u64, 0u64);
    for check in checks {
        let weight = u64::from(weights.get(&check.id).copied().unwrap_or(0));
        let credit = match check.status {
            CheckStatus::Pass | CheckStatus::Accepted => 2,
            CheckStatus::Warn => 1,
            CheckStatus::Fail => 0,
            CheckStatus::NotApplicable => continue,
        };
        earned += weight * credit;
        possible += weight * 2;
    }
    if possible == 0 {
        return 100;
    }
    ((earned * 100 + possible / 2) / possible) as u8
}
