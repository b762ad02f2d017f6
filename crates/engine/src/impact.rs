//! Which namespaces' verdicts a change to one object can alter, so a
//! controller re-evaluates those and no others. Each function judges the
//! object as the index holds it now: call it before and after applying a
//! change and merge both answers, since the old version matters too (a
//! policy whose namespace selector was narrowed still affected its old set).

use std::collections::BTreeSet;

use kube_core::SelectorExt;

use crate::cluster::{Cluster, NamespaceState};
use crate::layers::LayerKind;
use crate::model::{Direction, Peer, Policy};
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
    /// A pod's change reaches its own namespace and the namespaces whose
    /// peers select its namespace (an empty peer may stop being empty), or
    /// everyone when it serves DNS, runs the CNI or lives in a system
    /// namespace (those inputs are cluster-wide).
    pub fn affected_by_pod(&self, settings: &Settings, namespace: &str, name: &str) -> Affected {
        let Some(state) = self.namespace(namespace) else {
            return Affected::one(namespace);
        };
        let Some(pod) = state.pods.get(name) else {
            return Affected::one(namespace);
        };
        let is_dns = namespace == settings.dns_namespace
            && (settings.dns_selector.matches(&pod.labels)
                || settings.node_local_dns_selector.matches(&pod.labels));
        let is_system = settings.system_namespaces.iter().any(|n| n == namespace);
        if is_dns || is_system || pod.cni.is_some() {
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

    /// A policy's change reaches its own namespace and the namespaces its
    /// peers select; in the DNS namespace it can decide everyone's DNS, in
    /// a system namespace whether everyone reaches its pods.
    pub fn affected_by_policy(&self, settings: &Settings, namespace: &str, name: &str) -> Affected {
        if namespace == settings.dns_namespace
            || settings.system_namespaces.iter().any(|n| n == namespace)
        {
            return Affected::All;
        }
        let own = Affected::one(namespace);
        match self.namespace(namespace).and_then(|s| s.policies.get(name)) {
            Some(policy) => own.merge(self.selected_namespaces(policy)),
            None => own,
        }
    }

    /// A Service decides only its own namespace's exposure check (no policy
    /// or verdict elsewhere refers to it), and only while the index holds it:
    /// a Service reachable only inside the cluster changes nothing.
    pub fn affected_by_service(&self, namespace: &str, name: &str) -> Affected {
        let held = self.namespace(namespace).is_some_and(|state| {
            state.services.contains_key(name)
                || state.rejected.contains_key(&("Service", name.to_string()))
        });
        if held {
            Affected::one(namespace)
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

    fn selected_namespaces(&self, policy: &Policy) -> Affected {
        let mut affected = Affected::Nothing;
        for selector in namespace_selectors(policy) {
            if selector.selects_all() {
                return Affected::All;
            }
            let names = self
                .namespaces()
                .filter(|(_, state)| selector.matches(&state.labels))
                .map(|(name, _)| name.clone())
                .collect();
            affected = affected.merge(Affected::Namespaces(names));
        }
        affected
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

fn selects_namespaces(state: &NamespaceState) -> bool {
    state
        .policies
        .values()
        .any(|policy| namespace_selectors(policy).next().is_some())
}
