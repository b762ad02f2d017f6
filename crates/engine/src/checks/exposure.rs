//! The exposed-services check: Services reachable from outside the cluster
//! and whether the pods behind them are isolated for ingress.

use std::collections::BTreeSet;

use super::{Findings, capped, check, guarded_line};
use crate::exposure::{ExposedPod, Guard};
use crate::model::Service;
use crate::posture::{Check, CheckStatus, Severity, ids};

impl Findings<'_> {
    pub(super) fn exposed_services(&self) -> Check {
        let services: Vec<&Service> = self
            .state
            .services
            .values()
            .filter(|s| s.is_exposed())
            .collect();
        if services.is_empty() {
            return check(
                ids::EXPOSED_SERVICES,
                CheckStatus::NotApplicable,
                Severity::High,
                "no Service is exposed outside the cluster".into(),
            );
        }
        let unprotected: Vec<&ExposedPod> = self
            .exposed
            .iter()
            .filter(|e| e.guard.unprotected())
            .collect();
        let open: Vec<&ExposedPod> = self
            .exposed
            .iter()
            .filter(|e| matches!(e.guard, Guard::OpenToEveryone { .. }))
            .collect();
        // Services without a selector have hand-managed endpoints, which are not evaluated.
        let selectorless = services.iter().filter(|s| s.selector.is_empty()).map(|s| {
            format!(
                "service/{} ({}): no selector, its endpoints are not evaluated",
                s.name,
                s.exposure_description()
            )
        });
        let (status, severity, message, shown) = if !unprotected.is_empty() {
            let host = distinct_pods(
                unprotected
                    .iter()
                    .copied()
                    .filter(|e| e.guard == Guard::HostNetwork),
            );
            let all = distinct_pods(unprotected.iter().copied());
            let mut why = Vec::new();
            if all > host {
                why.push(format!("{} not isolated for ingress", all - host));
            }
            if host > 0 {
                why.push(format!(
                    "{host} on the host network, where NetworkPolicy cannot protect them"
                ));
            }
            (
                CheckStatus::Fail,
                Severity::High,
                format!(
                    "{all} pod(s) behind Services exposed outside the cluster accept traffic NetworkPolicy does not restrict: {}",
                    why.join(", ")
                ),
                unprotected.into_iter().chain(open).collect::<Vec<_>>(),
            )
        } else if !open.is_empty() {
            (
                CheckStatus::Warn,
                Severity::Medium,
                format!(
                    "{} pod(s) behind Services exposed outside the cluster are isolated, but a policy admits every public address to a Service port: intended for a public load balancer perhaps, worth a look",
                    distinct_pods(open.iter().copied())
                ),
                open,
            )
        } else if self.exposed.is_empty() {
            (
                CheckStatus::Pass,
                Severity::High,
                format!(
                    "{} Service(s) exposed outside the cluster select no pod",
                    services.len()
                ),
                Vec::new(),
            )
        } else {
            (
                CheckStatus::Pass,
                Severity::High,
                format!(
                    "{} pod(s) behind {} Service(s) exposed outside the cluster admit only the sources their policies name",
                    distinct_pods(self.exposed.iter()),
                    services.len()
                ),
                self.exposed.iter().collect(),
            )
        };
        check(ids::EXPOSED_SERVICES, status, severity, message)
            .with_evidence(capped(
                shown.into_iter().map(exposed_line).chain(selectorless),
            ))
            .with_remediation(
                "Add an ingress NetworkPolicy selecting these pods that admits only the expected sources (e.g. the ingress controller's namespace, or the load balancer's source ranges as ipBlocks). NetworkPolicy cannot protect hostNetwork pods: run them without hostNetwork or stop exposing them.",
            )
    }
}

/// How many pods a list of (Service, pod) pairs reaches; a pod behind two Services counts once.
fn distinct_pods<'e>(exposed: impl Iterator<Item = &'e ExposedPod<'e>>) -> usize {
    exposed.map(|e| e.pod).collect::<BTreeSet<_>>().len()
}

/// `service/NAME (LoadBalancer) -> pod/NAME`, with why when it is not guarded.
fn exposed_line(exposed: &ExposedPod<'_>) -> String {
    guarded_line(
        format!(
            "service/{} ({}) -> pod/{}",
            exposed.service.name,
            exposed.service.exposure_description(),
            exposed.pod
        ),
        &exposed.guard,
    )
}
