//! The pods behind Services exposed outside the cluster, and how far
//! NetworkPolicy guards them against the sources such a Service lets in.

use std::collections::{BTreeSet, HashMap};

use crate::cluster::NamespaceState;
use crate::evaluate::{admits_addresses, public_family_covered};
use crate::ipset::Family;
use crate::model::{Direction, ExposedService, Labels, Pod, Policy, Rule};
use crate::reach;

/// How a pod behind an exposed Service is guarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Guard {
    /// NetworkPolicy does not apply to hostNetwork pods: exposed and unprotectable.
    HostNetwork,
    /// No policy selects the pod for ingress: every source gets in.
    NotIsolated,
    /// Isolated, but `policies` together admit every public address of
    /// `family` to a target port of the Service (`port`, e.g. `TCP/8080`).
    OpenToEveryone {
        policies: Vec<String>,
        family: Family,
        port: String,
    },
    /// Only the sources the selecting policies name get in.
    Restricted,
}

impl Guard {
    pub fn unprotected(&self) -> bool {
        matches!(self, Guard::HostNetwork | Guard::NotIsolated)
    }
}

/// One pod a Service exposes.
pub(crate) struct ExposedPod<'a> {
    pub service: &'a ExposedService,
    pub pod: &'a str,
    pub guard: Guard,
}

/// Every (Service, pod) pair of the namespace's exposed Services, by Service
/// then pod name.
pub(crate) fn exposed_pods(state: &NamespaceState) -> Vec<ExposedPod<'_>> {
    // Pods with the same labels share their selecting policies.
    let mut ingress: HashMap<&Labels, Vec<&Policy>> = HashMap::new();
    let mut exposed = Vec::new();
    for service in state.services.values() {
        for pod in state.pods.values().filter(|pod| service.selects(pod)) {
            let policies = ingress
                .entry(&pod.labels)
                .or_insert_with(|| reach::selecting(state, pod, Direction::Ingress));
            exposed.push(ExposedPod {
                service,
                pod: &pod.name,
                guard: guard(service, pod, policies),
            });
        }
    }
    exposed
}

fn guard(service: &ExposedService, pod: &Pod, ingress: &[&Policy]) -> Guard {
    if pod.host_network {
        return Guard::HostNetwork;
    }
    if ingress.is_empty() {
        return Guard::NotIsolated;
    }
    for port in &service.ports {
        let Some(target) = port.target_on(pod) else {
            continue;
        };
        let admitting: Vec<(&str, &Rule)> = ingress
            .iter()
            .flat_map(|p| {
                p.ingress
                    .iter()
                    .flatten()
                    .map(move |r| (p.name.as_str(), r))
            })
            .filter(|(_, rule)| {
                admits_addresses(rule) && rule.admits_port(port.protocol, target, Some(pod))
            })
            .collect();
        if let Some(family) = public_family_covered(admitting.iter().map(|(_, r)| *r)) {
            let policies: BTreeSet<&str> = admitting.iter().map(|(name, _)| *name).collect();
            return Guard::OpenToEveryone {
                policies: policies.into_iter().map(String::from).collect(),
                family,
                port: format!("{}/{target}", port.protocol),
            };
        }
    }
    Guard::Restricted
}
