//! The engine's answer for one namespace. These types are the report's
//! status fields, so their serialized names are part of the public API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cni::CniStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacePosture {
    /// Default deny ingress, default deny egress, DNS allowed, CNI enforcing and no hostNetwork pod.
    pub covered: bool,
    pub default_deny_ingress: bool,
    pub default_deny_egress: bool,
    /// Some pod (or a new pod) may reach all public IPv4 or IPv6 addresses on some port.
    pub egress_open: bool,
    /// Every pod (or a new pod) can send UDP/53 to a cluster DNS pod.
    pub dns_allowed: bool,
    pub cni: CniStatus,
    pub pods: PodCounts,
    /// Pods not isolated in both directions, and every hostNetwork pod; sorted, capped.
    pub unprotected_pods: Vec<String>,
    /// How many unprotected pods the cap left out of `unprotectedPods`.
    pub unprotected_pods_omitted: u32,
    /// 0-100, from the weighted checks.
    #[schemars(range(min = 0, max = 100))]
    pub score: u8,
    pub checks: Vec<Check>,
    /// Risks the namespace's owners accepted (`netposture.io/accept`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_risks: Vec<AcceptedRisk>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedRisk {
    /// The risk name from the annotation, e.g. `EgressOpen`.
    pub risk: String,
    /// The check it accepts.
    pub check: String,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodCounts {
    pub total: u32,
    pub ingress_isolated: u32,
    pub egress_isolated: u32,
    pub host_network: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub id: String,
    pub status: CheckStatus,
    pub severity: Severity,
    pub message: String,
    /// Policy, pod and Service names (`networkpolicy/NAME`, `pod/NAME`, `service/NAME`) behind the status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// Compliance controls this check gives evidence for, e.g. `PCI-DSS 1.3.1`, `SOC2 CC6.6`, `CIS 5.3.2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CheckStatus {
    Pass,
    Fail,
    Warn,
    NotApplicable,
    /// Failed or warned, but the namespace's owners accepted the risk.
    Accepted,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// Check identifiers; score weights and `--fail-on` refer to them.
pub mod ids {
    pub const DEFAULT_DENY_INGRESS: &str = "default-deny-ingress";
    pub const DEFAULT_DENY_EGRESS: &str = "default-deny-egress";
    pub const EGRESS_RESTRICTED: &str = "egress-restricted";
    pub const DNS_ALLOWED: &str = "dns-allowed";
    pub const DNS_TCP_ALLOWED: &str = "dns-tcp-allowed";
    pub const CNI_ENFORCES: &str = "cni-enforces";
    pub const PODS_ISOLATED: &str = "pods-isolated";
    pub const HOST_NETWORK_PODS: &str = "host-network-pods";
    pub const EXPOSED_SERVICES: &str = "exposed-services";
    pub const INVALID_OBJECT: &str = "invalid-object";
    pub const UNEVALUATED_POLICIES: &str = "unevaluated-policies";
    pub const ACCEPTED_RISKS: &str = "accepted-risks";
    pub const HOST_PORTS: &str = "host-ports";
    pub const INGRESS_TLS: &str = "ingress-tls";
    pub const INGRESS_BACKENDS: &str = "ingress-backends";
    pub const DASHBOARD_EXPOSED: &str = "dashboard-exposed";
    pub const MESH_MTLS: &str = "mesh-mtls";
    pub const SYSTEM_NAMESPACES_ISOLATED: &str = "system-namespaces-isolated";
    pub const EMPTY_POLICIES: &str = "empty-policies";
    pub const EMPTY_PEERS: &str = "empty-peers";
    pub const SPOOFABLE_NAMESPACE_SELECTORS: &str = "spoofable-namespace-selectors";

    pub const ALL: [&str; 21] = [
        DEFAULT_DENY_INGRESS,
        DEFAULT_DENY_EGRESS,
        EGRESS_RESTRICTED,
        DNS_ALLOWED,
        DNS_TCP_ALLOWED,
        CNI_ENFORCES,
        PODS_ISOLATED,
        HOST_NETWORK_PODS,
        EXPOSED_SERVICES,
        INVALID_OBJECT,
        UNEVALUATED_POLICIES,
        ACCEPTED_RISKS,
        HOST_PORTS,
        INGRESS_TLS,
        INGRESS_BACKENDS,
        DASHBOARD_EXPOSED,
        MESH_MTLS,
        SYSTEM_NAMESPACES_ISOLATED,
        EMPTY_POLICIES,
        EMPTY_PEERS,
        SPOOFABLE_NAMESPACE_SELECTORS,
    ];
}

impl NamespacePosture {
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}
