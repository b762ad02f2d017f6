//! The pods behind Services exposed outside the cluster and behind Ingress
//! backends, and how far NetworkPolicy guards them against the sources such
//! a Service or Ingress lets in.

use std::collections::{BTreeSet, HashMap};

use crate::cluster::NamespaceState;
use crate::ingress::{Backend, Ingress};
use crate::ipset::Family;
use crate::model::{Direction, Labels, Pod, Policy, Rule, Service, ServicePort};
use crate::reach;
use crate::reach::external::{admits_addresses, public_family_covered};

/// How a pod behind an exposed Service or an Ingress backend is guarded.
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
    pub service: &'a Service,
    pub pod: &'a str,
    pub guard: Guard,
}

/// The ingress policies selecting each distinct label set, computed once.
struct Selections<'a> {
    state: &'a NamespaceState,
    by_labels: HashMap<&'a Labels, Vec<&'a Policy>>,
}

impl<'a> Selections<'a> {
    fn new(state: &'a NamespaceState) -> Self {
        Selections {
            state,
            by_labels: HashMap::new(),
        }
    }

    fn guard<'p>(
        &mut self,
        ports: impl IntoIterator<Item = &'p ServicePort>,
        pod: &'a Pod,
    ) -> Guard {
        let state = self.state;
        let policies = self
            .by_labels
            .entry(&pod.labels)
            .or_insert_with(|| reach::selecting(state, pod, Direction::Ingress));
        guard(ports, pod, policies)
    }
}

/// Every (Service, pod) pair of the namespace's exposed Services, by Service
/// then pod name.
pub(crate) fn exposed_pods(state: &NamespaceState) -> Vec<ExposedPod<'_>> {
    let mut selections = Selections::new(state);
    let mut exposed = Vec::new();
    for service in state.services.values().filter(|s| s.is_exposed()) {
        for pod in state.pods.values().filter(|pod| service.selects(pod)) {
            exposed.push(ExposedPod {
                service,
                pod: &pod.name,
                guard: selections.guard(&service.ports, pod),
            });
        }
    }
    exposed
}

/// One pod an Ingress routes to through one of its backends.
pub(crate) struct RoutedPod<'a> {
    pub ingress: &'a Ingress,
    pub backend: &'a Backend,
    pub pod: &'a Pod,
    pub guard: Guard,
}

/// An Ingress backend that leads to no pod, and why.
pub(crate) struct DeadEnd<'a> {
    pub ingress: &'a Ingress,
    pub backend: &'a Backend,
    pub reason: &'static str,
}

/// Where the namespace's Ingresses route: pods with their guard on the
/// backend's port, and backends that lead nowhere.
pub(crate) struct Routes<'a> {
    pub pods: Vec<RoutedPod<'a>>,
    pub dead_ends: Vec<DeadEnd<'a>>,
}

pub(crate) fn ingress_routes(state: &NamespaceState) -> Routes<'_> {
    let mut selections = Selections::new(state);
    let mut routes = Routes {
        pods: Vec::new(),
        dead_ends: Vec::new(),
    };
    for ingress in state.ingresses.values() {
        for backend in &ingress.backends {
            let dead_end = |reason| DeadEnd {
                ingress,
                backend,
                reason,
            };
            let Some(service) = state.services.get(&backend.service) else {
                routes.dead_ends.push(dead_end("no such Service"));
                continue;
            };
            let Some(port) = service.port(&backend.port) else {
                routes
                    .dead_ends
                    .push(dead_end("the Service has no such port"));
                continue;
            };
            if service.selector.is_empty() {
                routes.dead_ends.push(dead_end(
                    "the Service has no selector: its endpoints are not evaluated",
                ));
                continue;
            }
            for pod in state.pods.values().filter(|pod| service.selects(pod)) {
                routes.pods.push(RoutedPod {
                    ingress,
                    backend,
                    pod,
                    guard: selections.guard([port], pod),
                });
            }
        }
    }
    routes
}

/// How `ingress` policies guard `pod` on the target ports of `ports`.
fn guard<'p>(
    ports: impl IntoIterator<Item = &'p ServicePort>,
    pod: &Pod,
    ingress: &[&Policy],
) -> Guard {
    if pod.host_network {
        return Guard::HostNetwork;
    }
    if ingress.is_empty() {
        return Guard::NotIsolated;
    }
    for port in ports {
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
