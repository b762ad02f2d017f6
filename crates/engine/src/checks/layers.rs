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
}

impl LayerReport {
    pub fn new<'a>(policies: impl Iterator<Item = &'a LayerPolicy>, cni: &CniStatus) -> Self {
        let mut report = LayerReport::default();
        for policy in policies {
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
        }
        report
    }

    fn is_empty(&self) -> bool {
        self.evaluated.is_empty() && self.not_enforced.is_empty()
    }
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
