//! Which namespaces' verdicts a change to one object can alter, so a
//! controller re-evaluates those and no others. Each function judges the
//! object as the index holds it now: call it before and after applying a
//! change and merge both answers, since the old version matters too (a
//! policy whose namespace selector was narrowed still affected its old set).

use std::collections::BTreeSet;

use kube_core::SelectorExt;

use k8s_openapi::api::core::v1::Pod as K8sPod;

use crate::cluster::{Cluster, NamespaceState};
use crate::convert::{self, Rejected};
use crate::layers::LayerKind;
use crate::mesh;
use crate::model::{Direction, Peer, Pod, Policy};
use crate::settings::Settings;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Affected {
    #[default]
    Nothing,
    Namespaces(BTreeSet<String>),
    /// Cluster-wide inputs: DNS and CNI pods, DNS-side policies.
    All,
}

impl Affected {
    pub fn one(namespace: &str) -> Self {
        Affected::Namespaces(BTreeSet::from([namespace.to_string()]))
    }

    pub fn merge(self, other: Affected) -> Affected {
        match (self, other) {
            (Affected::All, _) | (_, Affected::All) => Affected::All,
            (Affected::Nothing, other) | (other, Affected::Nothing) => other,
            (Affected::Namespaces(mut a), Affected::Namespaces(b)) => {
                a.extend(b);
                Affected::Namespaces(a)
            }
        }
    }

    /// The namespaces named, with `All` resolved against the index.
    pub fn resolve(self, cluster: &Cluster) -> BTreeSet<String> {
        match self {
            Affected::Nothing => BTreeSet::new(),
            Affected::Namespaces(names) => names,
            Affected::All => cluster.namespaces().map(|(name, _)| name.clone()).collect(),
        }
    }
}

impl Cluster {
    /// Indexes a pod from a watch and returns what the change reaches:
    /// nothing when the index already holds the same facts. Kubelets rewrite
    /// pod status all the time, and only its IPs are indexed.
    pub fn apply_pod_change(&mut self, settings: &Settings, pod: &K8sPod) -> Affected {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let indexed = convert::pod(pod);
        if self.indexed_pod(namespace, name) == Some(indexed.as_ref()) {
            return Affected::Nothing;
        }
        let before = self.affected_by_pod(settings, namespace, name);
        self.put_pod(namespace, name, indexed);
        before.merge(self.affected_by_pod(settings, namespace, name))
    }

    /// The pod as the index holds it, or its rejection.
    fn indexed_pod(&self, namespace: &str, name: &str) -> Option<Result<&Pod, &Rejected>> {
        let state = self.namespace(namespace)?;
        match state.pods.get(name) {
            Some(pod) => Some(Ok(pod)),
            None => state.rejected.get(&("Pod", name.to_string())).map(Err),
        }
    }

    /// A pod's change reaches its own namespace and the namespaces whose
    /// peers select its namespace (an empty peer may stop being empty), or
    /// everyone when it serves DNS, runs the CNI, is a system pod that every
    /// namespace is checked against or is Istio's control plane (those
    /// inputs are cluster-wide).
    pub fn affected_by_pod(&self, settings: &Settings, namespace: &str, name: &str) -> Affected {
        let Some(state) = self.namespace(namespace) else {
            return Affected::one(namespace);
        };
        let Some(pod) = state.pods.get(name) else {
            return Affected::one(namespace);
        };
        if settings.serves_dns(namespace, &pod.labels)
            || settings.is_system_target(namespace, pod)
            || pod.cni.is_some()
            || mesh::control_plane(&pod.labels)
        {
            return Affected::All;
        }
        let selecting = self
            .namespaces()
            .filter(|(_, other)| {
                other.policies.values().any(|policy| {
                    namespace_selectors(policy).any(|selector| selector.matches(&state.labels))
                })
            })
            .map(|(other, _)| other.clone());
        Affected::Namespaces(selecting.chain([namespace.to_string()]).collect())
    }

    /// A policy's change reaches its own namespace: it governs only pods
    /// there, and another namespace's verdicts involve its own pods' flows,
    /// DNS and the system namespaces, never this namespace's pods. The
    /// namespaces its peers select are not reached (the differential impact
    /// test holds without them). In the DNS namespace it can decide
    /// everyone's DNS, in a system namespace whether everyone reaches its pods.
    pub fn affected_by_policy(
        &self,
        settings: &Settings,
        namespace: &str,
        _name: &str,
    ) -> Affected {
        if namespace == settings.dns_namespace
            || settings.system_namespaces.iter().any(|n| n == namespace)
        {
            return Affected::All;
        }
        self.implied_namespace(namespace)
    }

    /// A namespace the index holds only for its objects (no Namespace seen)
    /// comes with its first object and goes with its last, and namespace
    /// selectors elsewhere may match it: then a change reaches those too.
    fn implied_namespace(&self, namespace: &str) -> Affected {
        match self.namespace(namespace) {
            Some(state) if !state.declared => self.affected_by_namespace(namespace),
            _ => Affected::one(namespace),
        }
    }

    /// A Service decides only its own namespace's checks (exposure, Ingress
    /// backends, dashboard): no policy or verdict elsewhere refers to it.
    pub fn affected_by_service(&self, namespace: &str, name: &str) -> Affected {
        self.held(namespace, "Service", name, |state| {
            state.services.contains_key(name)
        })
    }

    /// An Ingress routes only to Services of its own namespace.
    pub fn affected_by_ingress(&self, namespace: &str, name: &str) -> Affected {
        self.held(namespace, "Ingress", name, |state| {
            state.ingresses.contains_key(name)
        })
    }

    /// A PeerAuthentication decides its own namespace's pods, except the
    /// mesh-wide one (no selector, in the root namespace), which decides
    /// every namespace; the first one also tells that Istio is installed.
    pub fn affected_by_peer_authentication(
        &self,
        settings: &Settings,
        namespace: &str,
        name: &str,
    ) -> Affected {
        let Some(policy) = self
            .namespace(namespace)
            .and_then(|state| state.peer_authentications.get(name))
        else {
            return self.held(namespace, "PeerAuthentication", name, |_| false);
        };
        let mesh_wide = namespace == settings.mesh_root_namespace && policy.selector.is_none();
        // The only sign of Istio: its coming or going switches the check on or off everywhere.
        let only_signal = self.istio_signals() == 1;
        if mesh_wide || only_signal {
            Affected::All
        } else {
            self.implied_namespace(namespace)
        }
    }

    /// Its own namespace while the index holds the object (or its rejection),
    /// and those selecting it when that namespace is implied by its objects.
    fn held(
        &self,
        namespace: &str,
        kind: &'static str,
        name: &str,
        contains: impl Fn(&NamespaceState) -> bool,
    ) -> Affected {
        let held = self.namespace(namespace).is_some_and(|state| {
            contains(state) || state.rejected.contains_key(&(kind, name.to_string()))
        });
        if held {
            self.implied_namespace(namespace)
        } else {
            Affected::Nothing
        }
    }

    /// A policy layer's change: a cluster-scoped policy can reach every
    /// namespace (its subject and peers select by labels), a namespaced one
    /// its own namespace, or everyone from the DNS namespace (it decides
    /// everyone's DNS there).
    pub fn affected_by_layer(
        &self,
        settings: &Settings,
        kind: LayerKind,
        namespace: Option<&str>,
    ) -> Affected {
        match namespace.filter(|_| !kind.cluster_scoped) {
            Some(namespace) if namespace != settings.dns_namespace => Affected::one(namespace),
            _ => Affected::All,
        }
    }

    /// A namespace's labels decide which policies elsewhere select it, so a
    /// change reaches it and every namespace whose policies select namespaces.
    pub fn affected_by_namespace(&self, name: &str) -> Affected {
        let selecting = self
            .namespaces()
            .filter(|(_, state)| selects_namespaces(state))
            .map(|(other, _)| other.clone());
        Affected::Namespaces(selecting.chain([name.to_string()]).collect())
    }
}

fn namespace_selectors(policy: &Policy) -> impl Iterator<Item = &kube_core::Selector> {
    [Direction::Ingress, Direction::Egress]
        .into_iter()
        .flat_map(|direction| policy.rules(direction).unwrap_or_default())
        .flat_map(|rule| &rule.peers)
        .filter_map(|peer| match peer {
            Peer::Selector {
                namespaces: Some(selector),
                ..
            } => Some(selector),
            _ => None,
        })
}

/// Whether some rule of the namespace's policies selects namespaces.
pub(crate) fn selects_namespaces(state: &NamespaceState) -> bool {
    state
        .policies
        .values()
        .any(|policy| namespace_selectors(policy).next().is_some())
}
