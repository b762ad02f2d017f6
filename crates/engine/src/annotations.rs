//! Per-namespace choices owners make with annotations: opting out of
//! reporting, and accepting named risks with a reason the report shows.

use std::collections::BTreeMap;

use crate::posture::ids;

/// `"true"` leaves the namespace out of reports and metrics.
pub const EXCLUDE: &str = "netposture.io/exclude";
/// Comma-separated risk names, e.g. `EgressOpen,HostNetworkPods`.
pub const ACCEPT: &str = "netposture.io/accept";
/// Why the risks are accepted; shown in the report next to each accepted risk.
pub const ACCEPT_REASON: &str = "netposture.io/accept-reason";

/// Risk names users write, and the check each one accepts.
pub const RISKS: [(&str, &str); 17] = [
    ("NoDefaultDenyIngress", ids::DEFAULT_DENY_INGRESS),
    ("NoDefaultDenyEgress", ids::DEFAULT_DENY_EGRESS),
    ("EgressOpen", ids::EGRESS_RESTRICTED),
    ("DnsBlocked", ids::DNS_ALLOWED),
    ("CniNotEnforcing", ids::CNI_ENFORCES),
    ("HostNetworkPods", ids::HOST_NETWORK_PODS),
    ("UnprotectedPods", ids::PODS_ISOLATED),
    ("ExposedServices", ids::EXPOSED_SERVICES),
    ("HostPorts", ids::HOST_PORTS),
    ("IngressWithoutTls", ids::INGRESS_TLS),
    ("IngressBackendsOpen", ids::INGRESS_BACKENDS),
    ("DashboardExposed", ids::DASHBOARD_EXPOSED),
    ("MtlsNotStrict", ids::MESH_MTLS),
    ("SystemNamespacesReachable", ids::SYSTEM_NAMESPACES_ISOLATED),
    ("EmptyPolicies", ids::EMPTY_POLICIES),
    ("EmptyPeers", ids::EMPTY_PEERS),
    (
        "SpoofableNamespaceSelectors",
        ids::SPOOFABLE_NAMESPACE_SELECTORS,
    ),
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceChoices {
    pub excluded: bool,
    /// Accepted check ids, each with its risk name.
    pub accepted: BTreeMap<&'static str, &'static str>,
    pub reason: String,
    /// Names in `netposture.io/accept` that are no known risk.
    pub unknown: Vec<String>,
}

impl NamespaceChoices {
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Self {
        let Some(annotations) = annotations else {
            return NamespaceChoices::default();
        };
        let mut choices = NamespaceChoices {
            excluded: annotations
                .get(EXCLUDE)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            reason: annotations
                .get(ACCEPT_REASON)
                .map(|r| r.trim().to_string())
                .unwrap_or_default(),
            ..Default::default()
        };
        let names = annotations.get(ACCEPT).map(String::as_str).unwrap_or("");
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match RISKS
                .iter()
                .find(|(risk, _)| risk.eq_ignore_ascii_case(name))
            {
                Some((risk, check)) => {
                    choices.accepted.insert(check, risk);
                }
                None => choices.unknown.push(name.to_string()),
            }
        }
        choices
    }

    pub fn accepts(&self, check: &str) -> bool {
        self.accepted.contains_key(check)
    }

    pub fn reason_or_default(&self) -> &str {
        if self.reason.is_empty() {
            "no reason given (set netposture.io/accept-reason)"
        } else {
            &self.reason
        }
    }
}
