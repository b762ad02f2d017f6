//! `--fail-on`: conditions that make `scan` (on a state) and `diff` (on a
//! change) exit 1, for CI pipelines.

use clap::ValueEnum;
use netposture_engine::diff::Condition;
use netposture_engine::posture::ids;
use netposture_engine::{Capability, CheckStatus, NamespacePosture};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// The namespace is not covered.
    Uncovered,
    NoDefaultDenyIngress,
    NoDefaultDenyEgress,
    EgressOpen,
    DnsBlocked,
    /// The CNI does not (or is not known to) enforce NetworkPolicy.
    CniNotEnforcing,
    HostNetwork,
    /// Some pod is not isolated in both directions.
    UnprotectedPods,
    /// Some object would be rejected by the API server.
    InvalidObjects,
    /// Some pod binds a hostPort.
    HostPorts,
    /// Some Ingress serves a host without TLS.
    IngressWithoutTls,
    /// Some pod behind an Ingress admits more than named sources.
    IngressBackendsOpen,
    /// A Kubernetes dashboard is reachable from outside the cluster.
    DashboardExposed,
    /// With Istio, some pod with a sidecar does not get STRICT mTLS.
    MtlsNotStrict,
}

/// Whether the check `id` failed (an accepted risk does not).
fn failed(posture: &NamespacePosture, id: &str) -> bool {
    posture
        .checks
        .iter()
        .any(|c| c.id == id && c.status == CheckStatus::Fail)
}

impl FailOn {
    pub fn holds(self, posture: &NamespacePosture) -> bool {
        match self {
            FailOn::Uncovered => !posture.covered,
            FailOn::NoDefaultDenyIngress => !posture.default_deny_ingress,
            FailOn::NoDefaultDenyEgress => !posture.default_deny_egress,
            FailOn::EgressOpen => posture.egress_open,
            FailOn::DnsBlocked => !posture.dns_allowed,
            FailOn::CniNotEnforcing => posture.cni.capable != Capability::True,
            FailOn::HostNetwork => posture.pods.host_network > 0,
            FailOn::UnprotectedPods => !posture.unprotected_pods.is_empty(),
            FailOn::InvalidObjects => failed(posture, ids::INVALID_OBJECT),
            FailOn::HostPorts => failed(posture, ids::HOST_PORTS),
            FailOn::IngressWithoutTls => failed(posture, ids::INGRESS_TLS),
            FailOn::IngressBackendsOpen => failed(posture, ids::INGRESS_BACKENDS),
            FailOn::DashboardExposed => failed(posture, ids::DASHBOARD_EXPOSED),
            FailOn::MtlsNotStrict => failed(posture, ids::MESH_MTLS),
        }
    }

    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// A `diff --fail-on` condition: a change, as the engine defines them.
pub fn parse_condition(word: &str) -> Result<Condition, String> {
    word.parse().map_err(|error| format!("{error}"))
}
