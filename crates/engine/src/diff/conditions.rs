//! Conditions on a [`PostureDiff`]: the changes a pipeline fails on
//! (`netposture diff --fail-on`) and an admission webhook warns about or
//! denies. Each condition asks about a change, not a state: a namespace
//! that was already without DNS does not "break" DNS.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{NamespaceDiff, PostureDiff, Presence, Verdict};
use crate::evaluate::DNS_PORT;
use crate::model::Protocol;
use crate::posture::ids;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `coverage-lost`: a namespace covered in base is not in head.
    CoverageLost,
    /// `default-deny-removed`: a namespace loses default deny ingress or egress.
    DefaultDenyRemoved,
    /// `dns-broken`: pods of a namespace that could resolve names (or of a
    /// new namespace) cannot.
    DnsBroken,
    /// `egress-opened`: a namespace (existing or new) whose egress was not
    /// open reaches the whole internet.
    EgressOpened,
    /// `exposure-added`: a Service becomes reachable from outside the
    /// cluster (new evidence of a failing `exposed-services`).
    ExposureAdded,
    /// `check-failed:ID`, or the bare check id: the check fails in head and
    /// did not in base (or the namespace is new).
    CheckFailed(String),
    /// `score-drop:N`: a namespace's score falls by N points or more.
    ScoreDrop(u8),
}

/// A condition that holds, in one namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConditionHit {
    pub namespace: String,
    /// The condition as written (`dns-broken`, `check-failed:host-ports`).
    pub condition: String,
    /// One line for people: what changed and the evidence behind it.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown condition {0:?}: expected coverage-lost, default-deny-removed, dns-broken, egress-opened, exposure-added, check-failed:ID, score-drop:N (0-100) or a check id ({ids})",
    ids = ids::ALL.join(", ")
)]
pub struct ParseConditionError(pub String);

impl FromStr for Condition {
    type Err = ParseConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = text.trim();
        let error = || ParseConditionError(text.to_string());
        let check_id = |id: &str| {
            ids::ALL
                .contains(&id)
                .then(|| Condition::CheckFailed(id.to_string()))
                .ok_or_else(error)
        };
        match word {
            "coverage-lost" => Ok(Condition::CoverageLost),
            "default-deny-removed" => Ok(Condition::DefaultDenyRemoved),
            "dns-broken" => Ok(Condition::DnsBroken),
            "egress-opened" => Ok(Condition::EgressOpened),
            "exposure-added" => Ok(Condition::ExposureAdded),
            _ => {
                if let Some(id) = word.strip_prefix("check-failed:") {
                    check_id(id)
                } else if let Some(points) = word.strip_prefix("score-drop:") {
                    match points.parse::<u8>() {
                        Ok(points) if points <= 100 => Ok(Condition::ScoreDrop(points)),
                        _ => Err(error()),
                    }
                } else {
                    check_id(word)
                }
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::CoverageLost => f.write_str("coverage-lost"),
            Condition::DefaultDenyRemoved => f.write_str("default-deny-removed"),
            Condition::DnsBroken => f.write_str("dns-broken"),
            Condition::EgressOpened => f.write_str("egress-opened"),
            Condition::ExposureAdded => f.write_str("exposure-added"),
            Condition::CheckFailed(id) => write!(f, "check-failed:{id}"),
            Condition::ScoreDrop(points) => write!(f, "score-drop:{points}"),
        }
    }
}

impl Condition {
    /// Every namespace of `diff` where the condition holds, in name order.
    pub fn hits(&self, diff: &PostureDiff) -> Vec<ConditionHit> {
        diff.namespaces
            .iter()
            .filter_map(|namespace| {
                self.reason(namespace).map(|reason| ConditionHit {
                    namespace: namespace.namespace.clone(),
                    condition: self.to_string(),
                    reason,
                })
            })
            .collect()
    }

    /// Why the condition holds in `ns`, or `None` when it does not.
    fn reason(&self, ns: &NamespaceDiff) -> Option<String> {
        let name = &ns.namespace;
        match self {
            Condition::CoverageLost => {
                turned(ns, Verdict::Covered, "true", "false", false)?;
                let failing: Vec<&str> = ns
                    .checks
                    .iter()
                    .filter(|c| c.newly_failing())
                    .map(|c| c.id.as_str())
                    .collect();
                Some(format!(
                    "namespace {name} is no longer covered{}",
                    if failing.is_empty() {
                        String::new()
                    } else {
                        format!(" (now failing: {})", failing.join(", "))
                    }
                ))
            }
            Condition::DefaultDenyRemoved => {
                let lost: Vec<&str> = [
                    (Verdict::DefaultDenyIngress, ids::DEFAULT_DENY_INGRESS),
                    (Verdict::DefaultDenyEgress, ids::DEFAULT_DENY_EGRESS),
                ]
                .into_iter()
                .filter(|(verdict, _)| turned(ns, *verdict, "true", "false", false).is_some())
                .map(|(_, id)| id)
                .collect();
                let first = lost.first()?;
                Some(format!(
                    "namespace {name} loses {}{}",
                    lost.join(" and "),
                    evidence_of(ns, first)
                ))
            }
            Condition::DnsBroken => {
                turned(ns, Verdict::DnsAllowed, "true", "false", true)?;
                Some(format!(
                    "namespace {name} loses DNS{}{}",
                    evidence_of(ns, ids::DNS_ALLOWED),
                    closed_dns_flow(ns)
                ))
            }
            Condition::EgressOpened => {
                turned(ns, Verdict::EgressOpen, "false", "true", true)?;
                Some(format!(
                    "namespace {name} can now reach the whole internet{}",
                    evidence_of(ns, ids::EGRESS_RESTRICTED)
                ))
            }
            Condition::ExposureAdded => {
                let check = ns.check(ids::EXPOSED_SERVICES)?;
                let failing = check.after == Some(crate::CheckStatus::Fail);
                (failing && !check.new_evidence.is_empty()).then(|| {
                    format!(
                        "namespace {name} exposes {} outside the cluster: {}",
                        check.new_evidence.join(", "),
                        check.message
                    )
                })
            }
            Condition::CheckFailed(id) => {
                let check = ns.check(id).filter(|c| c.newly_failing())?;
                Some(format!(
                    "check {id} now fails in namespace {name}: {}{}",
                    check.message,
                    evidence_of(ns, id)
                ))
            }
            Condition::ScoreDrop(points) => {
                let drop = ns.score_drop();
                (drop >= *points && drop > 0).then(|| {
                    format!(
                        "namespace {name} scores {} instead of {} (-{drop})",
                        ns.score_after.unwrap_or_default(),
                        ns.score_before.unwrap_or_default()
                    )
                })
            }
        }
    }
}

/// `Some` when `verdict` went from `from` to `to`; with `new_counts`, a
/// namespace only in head with the value `to` counts too.
fn turned(
    ns: &NamespaceDiff,
    verdict: Verdict,
    from: &str,
    to: &str,
    new_counts: bool,
) -> Option<()> {
    let change = ns.verdict(verdict)?;
    let after = change.after.as_deref() == Some(to);
    let before = match ns.presence {
        Presence::Added => new_counts,
        _ => change.before.as_deref() == Some(from),
    };
    (after && before).then_some(())
}

/// `; closed: FLOW, DECIDED BY` for the first UDP/53 flow from the namespace
/// that head closes (the rules that now deny DNS), when flows were compared.
fn closed_dns_flow(ns: &NamespaceDiff) -> String {
    let dns = ns.flows.closed.iter().find(|flow| {
        flow.source_namespace == ns.namespace
            && flow.protocols.contains(&Protocol::Udp)
            && flow
                .ports
                .iter()
                .any(|&(start, end)| start <= DNS_PORT && DNS_PORT <= end)
    });
    dns.map_or_else(String::new, |flow| {
        format!(
            "; closed: {{{}}} -> {}/{{{}}} UDP/{DNS_PORT}, {}",
            flow.source_labels.join(","),
            flow.destination_namespace,
            flow.destination_labels.join(","),
            flow.decided_by.join(", ")
        )
    })
}

/// ` (MESSAGE; EVIDENCE, ...)` of the check `id` as head has it, or nothing.
fn evidence_of(ns: &NamespaceDiff, id: &str) -> String {
    match ns.check(id) {
        Some(check) if check.evidence.is_empty() => format!(" ({})", check.message),
        Some(check) => format!(" ({}; {})", check.message, check.evidence.join(", ")),
        None => String::new(),
    }
}
