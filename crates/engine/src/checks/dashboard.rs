//! `dashboard-exposed`: a Kubernetes dashboard reachable from outside the
//! cluster, through its Service or an Ingress.

use super::{Findings, capped, check};
use crate::model::{Pod, Service};
use crate::posture::{Check, CheckStatus, Severity, ids};

impl Findings<'_> {
    pub(super) fn dashboard_exposed(&self) -> Check {
        let state = self.state;
        let pods: Vec<&Pod> = state.pods.values().filter(|p| p.dashboard).collect();
        // A Service leads to the dashboard when labelled so or selecting a dashboard pod.
        let services: Vec<&Service> = state
            .services
            .values()
            .filter(|s| s.dashboard || pods.iter().any(|p| s.selects(p)))
            .collect();
        if services.is_empty() && pods.is_empty() {
            return check(
                ids::DASHBOARD_EXPOSED,
                CheckStatus::NotApplicable,
                Severity::Critical,
                "no Kubernetes dashboard".into(),
            );
        }
        let mut reachable: Vec<String> = services
            .iter()
            .filter(|s| s.is_exposed())
            .map(|s| {
                format!(
                    "service/{} ({}) exposes the dashboard",
                    s.name,
                    s.exposure_description()
                )
            })
            .collect();
        for ingress in state.ingresses.values() {
            for backend in &ingress.backends {
                if services.iter().any(|s| s.name == backend.service) {
                    reachable.push(format!(
                        "ingress/{} -> service/{}:{} routes to the dashboard",
                        ingress.name, backend.service, backend.port
                    ));
                }
            }
        }
        if reachable.is_empty() {
            let found = services
                .iter()
                .map(|s| format!("service/{}", s.name))
                .chain(pods.iter().map(|p| format!("pod/{}", p.name)));
            return check(
                ids::DASHBOARD_EXPOSED,
                CheckStatus::Pass,
                Severity::Critical,
                "the Kubernetes dashboard is reachable only inside the cluster".into(),
            )
            .with_evidence(capped(found));
        }
        check(
            ids::DASHBOARD_EXPOSED,
            CheckStatus::Fail,
            Severity::Critical,
            "the Kubernetes dashboard is reachable from outside the cluster: whoever reaches it acts with its ServiceAccount or with any token they paste".into(),
        )
        .with_evidence(capped(reachable))
        .with_remediation(
            "Make the dashboard's Service ClusterIP, remove Ingress routes to it, and reach it through `kubectl proxy` or `kubectl port-forward` instead.",
        )
    }
}
