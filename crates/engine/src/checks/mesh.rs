//! `mesh-mtls`: with Istio installed, whether the namespace's pods carry the
//! sidecar and get STRICT mutual TLS from the PeerAuthentications.

use std::collections::BTreeMap;

use super::{Findings, capped, check};
use crate::facts::{self, Source};
use crate::mesh::{self, MtlsMode};
use crate::model::Pod;
use crate::posture::{Check, CheckStatus, Severity, ids};

impl Findings<'_> {
    /// `peerauthentication/NAME (level)`, or the default when none decides.
    fn mtls_source(&self, source: Source<'_>) -> String {
        match source {
            Source::Workload(name) => format!("peerauthentication/{name} (workload)"),
            Source::Namespace(name) => format!("peerauthentication/{name} (namespace-wide)"),
            Source::Mesh(name) => {
                let root = self.mesh.map_or("", |m| m.root_namespace);
                format!("peerauthentication/{root}/{name} (mesh-wide)")
            }
            Source::Default => "no PeerAuthentication".into(),
        }
    }

    pub(super) fn mesh_mtls(&self) -> Check {
        let Some(mesh) = self.mesh else {
            return check(
                ids::MESH_MTLS,
                CheckStatus::NotApplicable,
                Severity::Medium,
                "Istio is not installed".into(),
            );
        };
        let pods: Vec<&Pod> = self
            .state
            .pods
            .values()
            .filter(|p| !p.host_network)
            .collect();
        if pods.is_empty() {
            return check(
                ids::MESH_MTLS,
                CheckStatus::NotApplicable,
                Severity::Medium,
                "no pod besides hostNetwork pods".into(),
            );
        }
        let (injected, outside): (Vec<&Pod>, Vec<&Pod>) = pods
            .into_iter()
            .partition(|p| mesh::injected(p, &self.state.labels));
        let outside_lines = || {
            outside
                .iter()
                .map(|p| format!("pod/{}: no Istio sidecar", p.name))
        };
        let remediation = "Label the namespace `istio-injection=enabled` (or `istio.io/rev`) and restart its pods, and set `mtls: {mode: STRICT}` in a PeerAuthentication without selector in the namespace (or mesh-wide in the root namespace); drop portLevelMtls exceptions that are not needed.";
        if injected.is_empty() {
            return check(
                ids::MESH_MTLS,
                CheckStatus::Warn,
                Severity::Medium,
                format!(
                    "Istio is installed but none of the {} pod(s) has its sidecar: mTLS cannot apply",
                    outside.len()
                ),
            )
            .with_evidence(capped(outside_lines()))
            .with_remediation(remediation);
        }
        // Injected pods by what decides their mode (weaker than STRICT), and port exceptions.
        let mut weak: BTreeMap<(Source, String), usize> = BTreeMap::new();
        let mut weak_ports: BTreeMap<(Source, u32, String), usize> = BTreeMap::new();
        for pod in &injected {
            let decision = facts::decide(self.state, mesh, pod);
            if decision.mode != MtlsMode::Strict {
                *weak
                    .entry((decision.source, decision.mode.to_string()))
                    .or_default() += 1;
            }
            for (port, mode) in decision.weaker_ports {
                *weak_ports
                    .entry((decision.source, port, mode.to_string()))
                    .or_default() += 1;
            }
        }
        let weak_lines = weak.iter().map(|((source, mode), count)| match source {
            Source::Default => {
                format!("no PeerAuthentication: {mode} by default for {count} injected pod(s)")
            }
            _ => format!(
                "{}: {mode} for {count} injected pod(s)",
                self.mtls_source(*source)
            ),
        });
        let port_lines = weak_ports.iter().map(|((source, port, mode), count)| {
            format!(
                "{}: port {port} {mode} for {count} pod(s)",
                self.mtls_source(*source)
            )
        });
        let weak_count: usize = weak.values().sum();
        let (status, message) = if weak_count > 0 {
            (
                CheckStatus::Fail,
                format!(
                    "{weak_count} of {} pod(s) with a sidecar accept plaintext: their mTLS mode is not STRICT",
                    injected.len()
                ),
            )
        } else if !weak_ports.is_empty() {
            (
                CheckStatus::Warn,
                "mTLS is STRICT, but portLevelMtls accepts plaintext on some ports".into(),
            )
        } else if !outside.is_empty() {
            (
                CheckStatus::Warn,
                format!(
                    "mTLS is STRICT for the {} pod(s) with a sidecar; {} pod(s) have none and talk in plaintext",
                    injected.len(),
                    outside.len()
                ),
            )
        } else {
            (
                CheckStatus::Pass,
                format!(
                    "all {} pod(s) have the Istio sidecar and STRICT mTLS",
                    injected.len()
                ),
            )
        };
        let evidence: Vec<String> = weak_lines
            .chain(port_lines)
            .chain(outside_lines())
            .collect();
        check(ids::MESH_MTLS, status, Severity::Medium, message)
            .with_evidence(capped(evidence))
            .with_remediation(remediation)
    }
}
