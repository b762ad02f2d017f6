//! Which compliance controls each check gives evidence for, and a
//! per-control summary over namespaces. Pure data: the titles are short
//! paraphrases written for netposture, not the frameworks' own wording, and
//! a passing control means only that the network evidence netposture sees
//! does not contradict it.

use serde::Serialize;

use crate::posture::{CheckStatus, NamespacePosture, ids};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Framework {
    /// PCI DSS v4.0.
    PciDss,
    /// SOC 2 Trust Services Criteria (common criteria).
    Soc2,
    /// CIS Kubernetes Benchmark (v1.8 numbering).
    Cis,
    /// NSA/CISA Kubernetes Hardening Guide; it has no numbered controls, so
    /// the ids name the guide's network-separation recommendations.
    Nsa,
}

impl Framework {
    pub const ALL: [Framework; 4] = [
        Framework::PciDss,
        Framework::Soc2,
        Framework::Cis,
        Framework::Nsa,
    ];

    /// The name on the command line: `pci-dss`, `soc2`, `cis`, `nsa`.
    pub fn name(self) -> &'static str {
        match self {
            Framework::PciDss => "pci-dss",
            Framework::Soc2 => "soc2",
            Framework::Cis => "cis",
            Framework::Nsa => "nsa",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Framework::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The prefix of a control's label: `PCI-DSS 1.3.1`.
    fn prefix(self) -> &'static str {
        match self {
            Framework::PciDss => "PCI-DSS",
            Framework::Soc2 => "SOC2",
            Framework::Cis => "CIS",
            Framework::Nsa => "NSA",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Control {
    pub framework: Framework,
    pub id: &'static str,
    pub title: &'static str,
    /// Check ids whose verdicts are evidence for this control.
    pub checks: &'static [&'static str],
}

impl Control {
    /// `PCI-DSS 1.3.1`, as reports list it.
    pub fn label(&self) -> String {
        format!("{} {}", self.framework.prefix(), self.id)
    }
}

const fn control(
    framework: Framework,
    id: &'static str,
    title: &'static str,
    checks: &'static [&'static str],
) -> Control {
    Control {
        framework,
        id,
        title,
        checks,
    }
}

use Framework::{Cis, Nsa, PciDss, Soc2};

pub const CONTROLS: &[Control] = &[
    control(
        PciDss,
        "1.2.7",
        "Network control configurations are reviewed and still effective",
        &[ids::EMPTY_POLICIES, ids::EMPTY_PEERS, ids::INVALID_OBJECT],
    ),
    control(
        PciDss,
        "1.3.1",
        "Inbound traffic to sensitive workloads limited to what is needed",
        &[
            ids::DEFAULT_DENY_INGRESS,
            ids::PODS_ISOLATED,
            ids::SPOOFABLE_NAMESPACE_SELECTORS,
            ids::HOST_NETWORK_PODS,
        ],
    ),
    control(
        PciDss,
        "1.3.2",
        "Outbound traffic from sensitive workloads limited to what is needed",
        &[
            ids::DEFAULT_DENY_EGRESS,
            ids::EGRESS_RESTRICTED,
            ids::PODS_ISOLATED,
            ids::SYSTEM_NAMESPACES_ISOLATED,
            ids::SPOOFABLE_NAMESPACE_SELECTORS,
        ],
    ),
    control(
        PciDss,
        "1.4.1",
        "Network controls enforced between trusted and untrusted networks",
        &[
            ids::CNI_ENFORCES,
            ids::HOST_NETWORK_PODS,
            ids::UNEVALUATED_POLICIES,
        ],
    ),
    control(
        PciDss,
        "1.4.2",
        "Traffic from untrusted networks reaches only approved services",
        &[
            ids::EXPOSED_SERVICES,
            ids::INGRESS_BACKENDS,
            ids::DASHBOARD_EXPOSED,
            ids::HOST_PORTS,
        ],
    ),
    control(
        PciDss,
        "4.2.1",
        "Data encrypted in transit over networks",
        &[ids::INGRESS_TLS, ids::MESH_MTLS],
    ),
    control(
        Soc2,
        "CC6.1",
        "Logical access to protected assets is restricted",
        &[
            ids::DEFAULT_DENY_INGRESS,
            ids::DEFAULT_DENY_EGRESS,
            ids::PODS_ISOLATED,
            ids::CNI_ENFORCES,
            ids::HOST_NETWORK_PODS,
            ids::SYSTEM_NAMESPACES_ISOLATED,
            ids::SPOOFABLE_NAMESPACE_SELECTORS,
            ids::EMPTY_POLICIES,
            ids::EMPTY_PEERS,
            ids::INVALID_OBJECT,
            ids::UNEVALUATED_POLICIES,
        ],
    ),
    control(
        Soc2,
        "CC6.6",
        "Boundary protection against threats from outside the system",
        &[
            ids::EXPOSED_SERVICES,
            ids::INGRESS_BACKENDS,
            ids::DASHBOARD_EXPOSED,
            ids::HOST_PORTS,
            ids::EGRESS_RESTRICTED,
        ],
    ),
    control(
        Soc2,
        "CC6.7",
        "Data in transit restricted to authorised parties and protected",
        &[ids::INGRESS_TLS, ids::MESH_MTLS, ids::EGRESS_RESTRICTED],
    ),
    control(
        Cis,
        "5.2.5",
        "Few containers share the host network namespace",
        &[ids::HOST_NETWORK_PODS],
    ),
    control(
        Cis,
        "5.2.13",
        "Few containers use host ports",
        &[ids::HOST_PORTS],
    ),
    control(
        Cis,
        "5.3.1",
        "The CNI enforces NetworkPolicies",
        &[ids::CNI_ENFORCES],
    ),
    control(
        Cis,
        "5.3.2",
        "Every namespace has NetworkPolicies",
        &[
            ids::DEFAULT_DENY_INGRESS,
            ids::DEFAULT_DENY_EGRESS,
            ids::PODS_ISOLATED,
        ],
    ),
    control(
        Nsa,
        "default-deny",
        "Network policies deny all traffic not explicitly allowed",
        &[
            ids::DEFAULT_DENY_INGRESS,
            ids::DEFAULT_DENY_EGRESS,
            ids::PODS_ISOLATED,
            ids::CNI_ENFORCES,
        ],
    ),
    control(
        Nsa,
        "egress",
        "Outbound traffic is limited",
        &[ids::EGRESS_RESTRICTED],
    ),
    control(
        Nsa,
        "separation",
        "Workloads and cluster components are separated by namespace and policy",
        &[
            ids::SYSTEM_NAMESPACES_ISOLATED,
            ids::SPOOFABLE_NAMESPACE_SELECTORS,
            ids::HOST_NETWORK_PODS,
            ids::UNEVALUATED_POLICIES,
        ],
    ),
    control(
        Nsa,
        "exposure",
        "Services and dashboards are not exposed without need",
        &[
            ids::EXPOSED_SERVICES,
            ids::INGRESS_BACKENDS,
            ids::DASHBOARD_EXPOSED,
            ids::HOST_PORTS,
        ],
    ),
    control(
        Nsa,
        "encryption",
        "Traffic is encrypted with TLS",
        &[ids::INGRESS_TLS, ids::MESH_MTLS],
    ),
];

/// Checks that evidence no control on their own: DNS working is a
/// precondition of the default deny, not a control, and an accepted risk is
/// reported on the check it accepts.
pub const INFORMATIONAL: &[&str] = &[ids::DNS_ALLOWED, ids::DNS_TCP_ALLOWED, ids::ACCEPTED_RISKS];

pub fn controls(framework: Framework) -> impl Iterator<Item = &'static Control> {
    CONTROLS.iter().filter(move |c| c.framework == framework)
}

/// The labels of the controls `check` evidences: `["PCI-DSS 1.3.1", "SOC2 CC6.1"]`.
pub fn labels_of(check: &str) -> Vec<String> {
    CONTROLS
        .iter()
        .filter(|c| c.checks.contains(&check))
        .map(Control::label)
        .collect()
}

/// A namespace fails a control when one of its checks fails or warns there;
/// an accepted risk counts as passing, since the acceptance is documented.
pub fn namespace_fails(control: &Control, posture: &NamespacePosture) -> bool {
    posture.checks.iter().any(|check| {
        control.checks.contains(&check.id.as_str())
            && matches!(check.status, CheckStatus::Fail | CheckStatus::Warn)
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ControlStatus {
    Pass,
    Fail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlSummary {
    /// `PCI-DSS 1.3.1`.
    pub control: String,
    pub title: String,
    pub status: ControlStatus,
    pub checks: Vec<String>,
    pub namespaces: usize,
    pub failing_namespaces: usize,
    /// The first failing namespaces, in the order given.
    pub failing_examples: Vec<String>,
}

/// One row per control of `framework`: Pass when no namespace fails it.
pub fn summarize(
    framework: Framework,
    postures: &[(String, NamespacePosture)],
    examples: usize,
) -> Vec<ControlSummary> {
    controls(framework)
        .map(|control| {
            let failing: Vec<&String> = postures
                .iter()
                .filter(|(_, posture)| namespace_fails(control, posture))
                .map(|(name, _)| name)
                .collect();
            ControlSummary {
                control: control.label(),
                title: control.title.to_string(),
                status: if failing.is_empty() {
                    ControlStatus::Pass
                } else {
                    ControlStatus::Fail
                },
                checks: control.checks.iter().map(|c| c.to_string()).collect(),
                namespaces: postures.len(),
                failing_namespaces: failing.len(),
                failing_examples: failing.into_iter().take(examples).cloned().collect(),
            }
        })
        .collect()
}
