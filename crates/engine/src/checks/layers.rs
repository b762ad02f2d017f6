//! The policy layers a namespace is subject to: which are evaluated, which
//! the CNI does not enforce, and what in them could not be evaluated. Rules
//! the engine cannot evaluate (L7, FQDN, unreadable selectors) also turn
//! the verdicts they may affect from Pass into Warn, never a silent guess.

use super::{Findings, capped, check};
use crate::cni::CniStatus;
use crate::layers::{Enforcement, LayerPolicy, affected_checks};
use crate::posture::{Check, CheckStatus, Severity, ids};

/// What the layer policies that may apply in one namespace amount to.
#[derive(Debug, Default)]
pub(crate) struct LayerReport {
    /// `kind/name (tier)` of each evaluated policy, with how it is enforced.
    pub evaluated: Vec<String>,
    /// Policies of a CNI the cluster does not run, with why.
    pub not_enforced: Vec<String>,
    /// `kind/name: what was not evaluated`, and the checks it may affect.
    pub unevaluated: Vec<(String, &'static [&'static str])>,
    /// Policies the API server would reject, with why: left out.
    pub rejected: Vec<(String, String)>,
}

impl LayerReport {
    pub fn new<'a>(policies: impl Iterator<Item = &'a LayerPolicy>, cni: &CniStatus) -> Self {
        let mut report = LayerReport::default();
        let mut prioritized: Vec<&LayerPolicy> = Vec::new();
        for policy in policies {
            if let Some(reason) = &policy.rejected {
                report.rejected.push((policy.describe(), reason.clone()));
                continue;
            }
            match policy.enforcement(cni) {
                Enforcement::NotEnforced => {
                    report.not_enforced.push(format!(
                        "{}: present, but the CNI ({}) does not implement {}: not enforced, left out",
                        policy.describe(),
                        cni.name,
                        policy.kind.kind
                    ));
                    continue;
                }
                Enforcement::Enforced => report
                    .evaluated
                    .push(format!("{}: enforced by {}", policy.evidence(), cni.name)),
                Enforcement::Expected => report.evaluated.push(format!(
                    "{}: evaluated on the assumption that the cluster implements {} (its API is served)",
                    policy.evidence(),
                    policy.kind.kind
                )),
            }
            for note in &policy.notes {
                report.unevaluated.push((
                    format!("{} {}", policy.describe(), note.text),
                    affected_checks(note.direction),
                ));
            }
            if policy.has_priority() {
                prioritized.push(policy);
            }
        }
        report.unevaluated.extend(same_priority(prioritized));
        report
    }

    fn is_empty(&self) -> bool {
        self.evaluated.is_empty() && self.not_enforced.is_empty()
    }
}

/// Policies of one tier sharing a priority: where two of them match one
/// flow, the API leaves undefined which decides.
fn same_priority(
    mut policies: Vec<&LayerPolicy>,
) -> impl Iterator<Item = (String, &'static [&'static str])> {
    policies.sort_by(|a, b| {
        (a.stage, a.order.unwrap_or_default())
            .partial_cmp(&(b.stage, b.order.unwrap_or_default()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let groups: Vec<Vec<&LayerPolicy>> = policies
        .chunk_by(|a, b| a.stage == b.stage && a.order == b.order)
        .filter(|group| group.len() > 1)
        .map(<[_]>::to_vec)
        .collect();
    groups.into_iter().map(|group| {
        let names: Vec<String> = group.iter().map(|p| p.describe()).collect();
        (
            format!(
                "{} share {}: where they match the same flow, the API leaves undefined which decides",
                names.join(", "),
                group[0].tier()
            ),
            affected_checks(None),
        )
    })
}

impl Findings<'_> {
    /// The layers check, or `None` when no layer policy may apply here.
    pub(super) fn policy_layers(&self) -> Option<Check> {
        let report = &self.layers;
        if report.is_empty() {
            return None;
        }
        let problems = report.not_enforced.len() + report.unevaluated.len();
        if problems == 0 {
            return Some(
                check(
                    ids::UNEVALUATED_POLICIES,
                    CheckStatus::Pass,
                    Severity::Medium,
                    format!(
                        "{} policy(ies) of other APIs (cluster-wide tiers or CNI-specific) are evaluated together with NetworkPolicy",
                        report.evaluated.len()
                    ),
                )
                .with_evidence(capped(report.evaluated.iter().cloned())),
            );
        }
        let lines = report.not_enforced.iter().cloned().chain(
            report
                .unevaluated
                .iter()
                .map(|(line, checks)| format!("{line} (may affect {})", checks.join(", "))),
        );
        Some(
            check(
                ids::UNEVALUATED_POLICIES,
                CheckStatus::Warn,
                Severity::Medium,
                format!(
                    "policies of other APIs are not fully evaluated: {} not enforced by this CNI, {} rule(s) or part(s) the engine cannot evaluate",
                    report.not_enforced.len(),
                    report.unevaluated.len()
                ),
            )
            .with_evidence(capped(lines.chain(report.evaluated.iter().cloned())))
            .with_remediation("Review these policies' effect on this namespace by hand: the verdicts they may affect carry a warning."),
        )
    }

    /// An `invalid-object` finding for each layer policy the API server would reject.
    pub(super) fn invalid_layer_policies(&self) -> impl Iterator<Item = Check> + '_ {
        self.layers.rejected.iter().map(|(policy, reason)| {
            check(
                ids::INVALID_OBJECT,
                CheckStatus::Fail,
                Severity::Medium,
                format!(
                    "{policy} would be rejected by the API server and is left out of the evaluation: {reason}"
                ),
            )
            .with_evidence(vec![policy.clone()])
            .with_remediation("Fix the object so that the API server accepts it.")
        })
    }

    /// Turns a passing verdict into a warning where an unevaluated layer
    /// rule may change it, naming the rule in its evidence.
    pub(super) fn warn_where_unevaluated(&self, checks: &mut [Check]) {
        for check in checks.iter_mut() {
            let notes: Vec<&String> = self
                .layers
                .unevaluated
                .iter()
                .filter(|(_, affected)| affected.contains(&check.id.as_str()))
                .map(|(line, _)| line)
                .collect();
            if notes.is_empty() {
                continue;
            }
            if check.status == CheckStatus::Pass {
                check.status = CheckStatus::Warn;
                check.message = format!(
                    "{}, but policy layers have rules netposture cannot evaluate that may change this",
                    check.message
                );
            }
            check.evidence.extend(notes.into_iter().cloned());
            check.evidence = capped(std::mem::take(&mut check.evidence));
        }
    }
}
