//! `host-ports`: container ports bound to a port of the node.

use super::{Findings, capped, check};
use crate::posture::{Check, CheckStatus, Severity, ids};

impl Findings<'_> {
    /// hostNetwork pods are left to `host-network-pods`: their every port is the node's.
    pub(super) fn host_ports(&self) -> Check {
        let pods = self.state.pods.values().filter(|pod| !pod.host_network);
        if pods.clone().next().is_none() {
            return check(
                ids::HOST_PORTS,
                CheckStatus::NotApplicable,
                Severity::High,
                "no pod besides hostNetwork pods".into(),
            );
        }
        let bound: Vec<String> = pods
            .flat_map(|pod| {
                pod.ports.iter().filter_map(move |port| {
                    port.host_port
                        .map(|host| format!("pod/{}: hostPort {host}/{}", pod.name, port.protocol))
                })
            })
            .collect();
        if bound.is_empty() {
            return check(
                ids::HOST_PORTS,
                CheckStatus::Pass,
                Severity::High,
                "no pod binds a hostPort".into(),
            );
        }
        check(
            ids::HOST_PORTS,
            CheckStatus::Fail,
            Severity::High,
            format!(
                "{} hostPort(s) bound on nodes: traffic to the node's port is forwarded (DNAT) to the pod, which many CNIs do before NetworkPolicy applies",
                bound.len()
            ),
        )
        .with_evidence(capped(bound))
        .with_remediation(
            "Remove hostPort and expose the pods through a Service (ClusterIP behind an Ingress, or LoadBalancer) that NetworkPolicy can guard.",
        )
    }
}
