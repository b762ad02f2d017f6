//! `ingress-tls` and `ingress-backends`: what the namespace's Ingresses
//! serve in plain HTTP, and whether the pods they route to accept traffic
//! from anyone but the ingress controller.

use super::{Findings, capped, check, guarded_line};
use crate::exposure::{DeadEnd, Guard, RoutedPod};
use crate::ingress::ANY_HOST;
use crate::posture::{Check, CheckStatus, Severity, ids};

/// `ingress/NAME -> service/NAME:PORT -> pod/NAME`, with why when it is not guarded.
fn routed_line(routed: &RoutedPod<'_>) -> String {
    guarded_line(
        format!(
            "ingress/{} -> service/{}:{} -> pod/{}",
            routed.ingress.name, routed.backend.service, routed.backend.port, routed.pod.name
        ),
        &routed.guard,
    )
}

fn dead_end_line(dead_end: &DeadEnd<'_>) -> String {
    format!(
        "ingress/{} -> service/{}:{}: {}",
        dead_end.ingress.name, dead_end.backend.service, dead_end.backend.port, dead_end.reason
    )
}

impl Findings<'_> {
    pub(super) fn ingress_tls(&self) -> Check {
        let ingresses = &self.state.ingresses;
        if ingresses.is_empty() {
            return check(
                ids::INGRESS_TLS,
                CheckStatus::NotApplicable,
                Severity::Medium,
                "no Ingress".into(),
            );
        }
        let plain: Vec<String> = ingresses
            .values()
            .flat_map(|ingress| {
                ingress.hosts_without_tls.iter().map(move |host| {
                    if host == ANY_HOST {
                        format!(
                            "ingress/{}: any host (no host set) without TLS",
                            ingress.name
                        )
                    } else {
                        format!("ingress/{}: host {host} without TLS", ingress.name)
                    }
                })
            })
            .collect();
        if plain.is_empty() {
            return check(
                ids::INGRESS_TLS,
                CheckStatus::Pass,
                Severity::Medium,
                format!("every host of {} Ingress(es) has TLS", ingresses.len()),
            );
        }
        check(
            ids::INGRESS_TLS,
            CheckStatus::Fail,
            Severity::Medium,
            format!(
                "{} host(s) of Ingresses are served without TLS: requests and credentials cross the network in clear text",
                plain.len()
            ),
        )
        .with_evidence(capped(plain))
        .with_remediation(
            "List every host under `spec.tls[].hosts` with a certificate Secret (cert-manager can issue it), and redirect HTTP to HTTPS.",
        )
    }

    pub(super) fn ingress_backends(&self) -> Check {
        let ingresses = &self.state.ingresses;
        if ingresses.is_empty() {
            return check(
                ids::INGRESS_BACKENDS,
                CheckStatus::NotApplicable,
                Severity::High,
                "no Ingress".into(),
            );
        }
        let routes = self.routes;
        let open: Vec<&RoutedPod> = routes
            .pods
            .iter()
            .filter(|r| r.guard != Guard::Restricted)
            .collect();
        let dead_ends = routes.dead_ends.iter().map(dead_end_line);
        let pods = |routed: &[&RoutedPod]| {
            routed
                .iter()
                .map(|r| r.pod.name.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        let (status, message, shown) = if !open.is_empty() {
            (
                CheckStatus::Fail,
                format!(
                    "{} pod(s) behind Ingresses accept traffic from more than the ingress controller: not isolated for ingress, on the host network, or open to every address on the backend port",
                    pods(&open)
                ),
                open,
            )
        } else if routes.pods.is_empty() {
            (
                CheckStatus::Pass,
                format!("{} Ingress(es) route to no pod", ingresses.len()),
                Vec::new(),
            )
        } else {
            let all: Vec<&RoutedPod> = routes.pods.iter().collect();
            (
                CheckStatus::Pass,
                format!(
                    "{} pod(s) behind {} Ingress(es) admit only the sources their policies name",
                    pods(&all),
                    ingresses.len()
                ),
                all,
            )
        };
        check(ids::INGRESS_BACKENDS, status, Severity::High, message)
            .with_evidence(capped(
                shown.into_iter().map(routed_line).chain(dead_ends),
            ))
            .with_remediation(
                "Add an ingress NetworkPolicy selecting the backend pods that admits only the ingress controller (its namespace and pod labels) on the backend port, so the Ingress's TLS and authentication cannot be bypassed.",
            )
    }
}
