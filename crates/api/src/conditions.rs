//! Standard conditions derived from a posture, so `kubectl wait
//! --for=condition=Covered` and generic tooling work on reports.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use netposture_engine::posture::ids;
use netposture_engine::{Capability, CheckStatus, NamespacePosture};

pub mod condition_types {
    pub const COVERED: &str = "Covered";
    pub const DEFAULT_DENY_INGRESS: &str = "DefaultDenyIngress";
    pub const DEFAULT_DENY_EGRESS: &str = "DefaultDenyEgress";
    pub const DNS_ALLOWED: &str = "DnsAllowed";
    pub const EGRESS_RESTRICTED: &str = "EgressRestricted";
    pub const CNI_CAPABLE: &str = "CniCapable";
}

struct Verdict {
    kind: &'static str,
    status: &'static str,
    reason: &'static str,
    message: String,
}

fn truth(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

fn check_message(posture: &NamespacePosture, id: &str) -> String {
    posture
        .check(id)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn verdicts(posture: &NamespacePosture) -> Vec<Verdict> {
    // Each gap in coverage with its condition reason; the first one found is the Covered reason.
    let gaps: Vec<(&'static str, &str)> = [
        (
            !posture.default_deny_ingress,
            "NoDefaultDenyIngress",
            "no default deny for ingress",
        ),
        (
            !posture.default_deny_egress,
            "NoDefaultDenyEgress",
            "no default deny for egress",
        ),
        (!posture.dns_allowed, "DnsBlocked", "DNS blocked"),
        (
            posture.cni.capable != Capability::True,
            "CniNotEnforcing",
            "CNI not known to enforce NetworkPolicy",
        ),
        (
            posture.pods.host_network > 0,
            "HostNetworkPods",
            "hostNetwork pods",
        ),
    ]
    .into_iter()
    .filter(|(gap, reason, _)| *gap && !is_accepted(posture, reason))
    .map(|(_, reason, text)| (reason, text))
    .collect();
    let covered_reason = gaps.first().map_or("Covered", |(reason, _)| reason);
    let gap_texts: Vec<&str> = gaps.iter().map(|(_, text)| *text).collect();
    vec![
        Verdict {
            kind: condition_types::COVERED,
            status: truth(posture.covered),
            reason: covered_reason,
            message: if gap_texts.is_empty() {
                let accepted: Vec<String> = posture
                    .accepted_risks
                    .iter()
                    .map(|a| format!("{} ({})", a.risk, a.reason))
                    .collect();
                if accepted.is_empty() {
                    "default deny both ways, DNS allowed, CNI enforcing, no hostNetwork pod".into()
                } else {
                    format!("covered, accepting {}", accepted.join(", "))
                }
            } else {
                format!("not covered: {}", gap_texts.join(", "))
            },
        },
        flag(
            posture,
            condition_types::DEFAULT_DENY_INGRESS,
            posture.default_deny_ingress,
            ("DefaultDenyPresent", "NoDefaultDeny"),
            ids::DEFAULT_DENY_INGRESS,
        ),
        flag(
            posture,
            condition_types::DEFAULT_DENY_EGRESS,
            posture.default_deny_egress,
            ("DefaultDenyPresent", "NoDefaultDeny"),
            ids::DEFAULT_DENY_EGRESS,
        ),
        flag(
            posture,
            condition_types::DNS_ALLOWED,
            posture.dns_allowed,
            ("DnsReachable", "DnsBlocked"),
            ids::DNS_ALLOWED,
        ),
        flag(
            posture,
            condition_types::EGRESS_RESTRICTED,
            !posture.egress_open,
            ("EgressRestricted", "EgressOpen"),
            ids::EGRESS_RESTRICTED,
        ),
        Verdict {
            kind: condition_types::CNI_CAPABLE,
            status: posture.cni.capable.as_str(),
            reason: match posture.cni.capable {
                Capability::True => "CniEnforces",
                Capability::False => "CniDoesNotEnforce",
                Capability::Unknown => "CniUnknown",
            },
            message: check_message(posture, ids::CNI_ENFORCES),
        }
        .accepting(posture, ids::CNI_ENFORCES),
    ]
}

/// A True/False condition backed by one check; `reasons` are (when true, when false).
fn flag(
    posture: &NamespacePosture,
    kind: &'static str,
    holds: bool,
    reasons: (&'static str, &'static str),
    check: &str,
) -> Verdict {
    Verdict {
        kind,
        status: truth(holds),
        reason: if holds { reasons.0 } else { reasons.1 },
        message: check_message(posture, check),
    }
    .accepting(posture, check)
}

fn is_accepted(posture: &NamespacePosture, risk: &str) -> bool {
    posture.accepted_risks.iter().any(|a| a.risk == risk)
}

impl Verdict {
    /// A failed verdict whose check was accepted says so in its reason.
    fn accepting(mut self, posture: &NamespacePosture, check: &str) -> Self {
        let accepted = posture
            .check(check)
            .is_some_and(|c| c.status == CheckStatus::Accepted);
        if accepted && self.status != "True" {
            self.reason = "RiskAccepted";
        }
        self
    }
}

/// The conditions for `posture`. A condition whose status is unchanged from
/// `previous` keeps its `lastTransitionTime`; others get `now`.
pub fn conditions(posture: &NamespacePosture, previous: &[Condition], now: Time) -> Vec<Condition> {
    verdicts(posture)
        .into_iter()
        .map(|v| {
            let last_transition_time = previous
                .iter()
                .find(|p| p.type_ == v.kind && p.status == v.status)
                .map(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: v.kind.to_string(),
                status: v.status.to_string(),
                reason: v.reason.to_string(),
                message: v.message,
                last_transition_time,
                observed_generation: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn find<'a>(conditions: &'a [Condition], kind: &str) -> &'a Condition {
        conditions.iter().find(|c| c.type_ == kind).unwrap()
    }

    #[test]
    fn transition_time_changes_only_when_the_status_does() {
        let mut posture = crate::tests::sample_posture();
        let first = conditions(&posture, &[], at(100));
        let unchanged = conditions(&posture, &first, at(200));
        assert_eq!(find(&unchanged, "DnsAllowed").last_transition_time, at(100));
        posture.dns_allowed = false;
        let changed = conditions(&posture, &unchanged, at(300));
        assert_eq!(find(&changed, "DnsAllowed").last_transition_time, at(300));
        assert_eq!(find(&changed, "DnsAllowed").status, "False");
        assert_eq!(
            find(&changed, "DefaultDenyIngress").last_transition_time,
            at(100)
        );
    }

    #[test]
    fn covered_condition_names_the_first_gap_and_lists_all() {
        let posture = crate::tests::sample_posture();
        let covered = conditions(&posture, &[], at(1))
            .into_iter()
            .find(|c| c.type_ == "Covered")
            .unwrap();
        assert_eq!(
            (covered.status.as_str(), covered.reason.as_str()),
            ("False", "NoDefaultDenyEgress")
        );
        assert!(
            covered.message.contains("CNI not known"),
            "{}",
            covered.message
        );
    }

    #[test]
    fn every_documented_condition_type_is_present_once() {
        let all = conditions(&crate::tests::sample_posture(), &[], at(1));
        let kinds: Vec<&str> = all.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            kinds,
            [
                condition_types::COVERED,
                condition_types::DEFAULT_DENY_INGRESS,
                condition_types::DEFAULT_DENY_EGRESS,
                condition_types::DNS_ALLOWED,
                condition_types::EGRESS_RESTRICTED,
                condition_types::CNI_CAPABLE
            ]
        );
        assert_eq!(find(&all, "CniCapable").status, "Unknown");
    }

    #[test]
    fn accepted_gap_keeps_covered_true_and_says_why() {
        let mut posture = crate::tests::sample_posture();
        posture.default_deny_egress = true;
        posture.dns_allowed = true;
        posture.cni.capable = Capability::True;
        posture.default_deny_ingress = false;
        posture.checks = vec![netposture_engine::Check {
            id: ids::DEFAULT_DENY_INGRESS.into(),
            status: CheckStatus::Accepted,
            severity: netposture_engine::Severity::High,
            message: "no default deny (risk accepted: public tier)".into(),
            evidence: vec![],
            remediation: String::new(),
            controls: vec![],
        }];
        posture.accepted_risks = vec![netposture_engine::AcceptedRisk {
            risk: "NoDefaultDenyIngress".into(),
            check: ids::DEFAULT_DENY_INGRESS.into(),
            reason: "public tier".into(),
        }];
        let all = conditions(&posture, &[], at(1));
        let covered = find(&all, "Covered");
        assert_eq!(covered.reason, "Covered");
        assert!(
            covered.message.contains("public tier"),
            "{}",
            covered.message
        );
        let deny = find(&all, "DefaultDenyIngress");
        assert_eq!(
            (deny.status.as_str(), deny.reason.as_str()),
            ("False", "RiskAccepted")
        );
    }
}
