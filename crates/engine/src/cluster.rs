//! The in-memory index the engine evaluates: namespaces with their pods,
//! policies and externally exposed Services, in the compact model. Updated
//! object by object (`apply_*`, `delete_*`), so a scan builds it once and an
//! operator keeps it current from watch events; it never calls any API.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod as K8sPod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::annotations::NamespaceChoices;
use crate::cni::CniSignal;
use crate::convert::{self, Rejected};
use crate::layers::{LayerKey, LayerKind, LayerPolicy};
use crate::model::{ExposedService, Labels, NAMESPACE_NAME_LABEL, Pod, Policy};

#[derive(Clone, Debug, Default)]
pub struct Cluster {
    namespaces: BTreeMap<String, NamespaceState>,
    /// CNI agent pods by `namespace/name`, so CNI detection never scans every pod.
    cni_pods: BTreeMap<String, CniSignal>,
    /// Policies of other APIs (cluster-wide tiers, Calico, Cilium).
    layers: BTreeMap<LayerKey, LayerPolicy>,
}

#[derive(Clone, Debug, Default)]
pub struct NamespaceState {
    /// Always holds `kubernetes.io/metadata.name`.
    pub labels: Labels,
    /// Whether a Namespace object was seen (pods may arrive first, or alone offline).
    pub declared: bool,
    /// Opt-out and accepted risks from the Namespace's annotations.
    pub choices: NamespaceChoices,
    pub pods: BTreeMap<String, Pod>,
    pub policies: BTreeMap<String, Policy>,
    /// Services reachable from outside the cluster; other Services are not kept.
    pub services: BTreeMap<String, ExposedService>,
    /// Objects of this namespace the API server would have rejected, by kind and name.
    pub rejected: BTreeMap<(&'static str, String), Rejected>,
}

impl NamespaceState {
    fn new(name: &str) -> Self {
        NamespaceState {
            labels: name_label(name),
            ..Default::default()
        }
    }

    fn is_empty(&self) -> bool {
        !self.declared
            && self.pods.is_empty()
            && self.policies.is_empty()
            && self.services.is_empty()
            && self.rejected.is_empty()
    }
}

fn name_label(name: &str) -> Labels {
    Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())])
}

fn object_namespace(namespace: Option<&String>) -> &str {
    namespace.map(String::as_str).unwrap_or("default")
}

impl Cluster {
    /// An index of whole lists of objects, as a scan or a benchmark has them.
    pub fn from_objects<'a>(
        namespaces: impl IntoIterator<Item = &'a Namespace>,
        policies: impl IntoIterator<Item = &'a NetworkPolicy>,
        pods: impl IntoIterator<Item = &'a K8sPod>,
    ) -> Self {
        let mut cluster = Cluster::default();
        namespaces
            .into_iter()
            .for_each(|n| cluster.apply_namespace(n));
        policies.into_iter().for_each(|p| cluster.apply_policy(p));
        pods.into_iter().for_each(|p| cluster.apply_pod(p));
        cluster
    }

    pub fn namespace(&self, name: &str) -> Option<&NamespaceState> {
        self.namespaces.get(name)
    }

    pub fn namespaces(&self) -> impl Iterator<Item = (&String, &NamespaceState)> {
        self.namespaces.iter()
    }

    pub fn cni_pods(&self) -> impl Iterator<Item = (&String, &CniSignal)> {
        self.cni_pods.iter()
    }

    /// Every layer policy, in kind, namespace and name order.
    pub fn layers(&self) -> impl Iterator<Item = &LayerPolicy> {
        self.layers.values()
    }

    pub fn layer_policy(
        &self,
        kind: LayerKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&LayerPolicy> {
        let key = (kind, namespace.map(str::to_string), name.to_string());
        self.layers.get(&key)
    }

    pub fn apply_layer_policy(&mut self, policy: LayerPolicy) {
        self.layers.insert(policy.key(), policy);
    }

    /// `namespace` is ignored for cluster-scoped kinds.
    pub fn delete_layer_policy(&mut self, kind: LayerKind, namespace: Option<&str>, name: &str) {
        let namespace = namespace.filter(|_| !kind.cluster_scoped);
        let key = (kind, namespace.map(str::to_string), name.to_string());
        self.layers.remove(&key);
    }

    fn entry(&mut self, name: &str) -> &mut NamespaceState {
        self.namespaces
            .entry(name.to_string())
            .or_insert_with(|| NamespaceState::new(name))
    }

    fn prune(&mut self, name: &str) {
        if self
            .namespaces
            .get(name)
            .is_some_and(NamespaceState::is_empty)
        {
            self.namespaces.remove(name);
        }
    }

    pub fn apply_namespace(&mut self, namespace: &Namespace) {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let result = convert::namespace_labels(namespace);
        let choices = NamespaceChoices::from_annotations(namespace.metadata.annotations.as_ref());
        let state = self.entry(&name);
        state.declared = true;
        state.choices = choices;
        let key = ("Namespace", name.clone());
        match result {
            Ok(labels) => {
                state.labels = labels;
                state.rejected.remove(&key);
            }
            Err(rejected) => {
                state.labels = name_label(&name);
                state.rejected.insert(key, rejected);
            }
        }
    }

    /// Forgets a namespace and everything in it, as the API server deletes its contents.
    pub fn delete_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
        let prefix = format!("{name}/");
        self.cni_pods.retain(|key, _| !key.starts_with(&prefix));
        self.layers
            .retain(|(_, namespace, _), _| namespace.as_deref() != Some(name));
    }

    pub fn apply_pod(&mut self, pod: &K8sPod) {
        let namespace = object_namespace(pod.metadata.namespace.as_ref()).to_string();
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.put_pod(&namespace, &name, convert::pod(pod));
    }

    /// Adds a pod built elsewhere (e.g. from a workload's pod template).
    pub fn put_pod(&mut self, namespace: &str, name: &str, pod: Result<Pod, Rejected>) {
        let cni_key = format!("{namespace}/{name}");
        let state = self.entry(namespace);
        let rejected_key = ("Pod", name.to_string());
        match pod {
            Ok(pod) => {
                state.rejected.remove(&rejected_key);
                let signal = pod.cni.clone();
                state.pods.insert(name.to_string(), pod);
                match signal {
                    Some(signal) => self.cni_pods.insert(cni_key, signal),
                    None => self.cni_pods.remove(&cni_key),
                };
            }
            Err(rejected) => {
                state.pods.remove(name);
                state.rejected.insert(rejected_key, rejected);
                self.cni_pods.remove(&cni_key);
            }
        }
    }

    pub fn delete_pod(&mut self, namespace: &str, name: &str) {
        if let Some(state) = self.namespaces.get_mut(namespace) {
            state.pods.remove(name);
            state.rejected.remove(&("Pod", name.to_string()));
        }
        self.cni_pods.remove(&format!("{namespace}/{name}"));
        self.prune(namespace);
    }

    pub fn apply_policy(&mut self, policy: &NetworkPolicy) {
        let namespace = object_namespace(policy.metadata.namespace.as_ref()).to_string();
        let name = policy.metadata.name.clone().unwrap_or_default();
        let result = convert::policy(policy);
        let state = self.entry(&namespace);
        let key = ("NetworkPolicy", name.clone());
        match result {
            Ok(policy) => {
                state.rejected.remove(&key);
                state.policies.insert(name, policy);
            }
            Err(rejected) => {
                state.policies.remove(&name);
                state.rejected.insert(key, rejected);
            }
        }
    }

    /// Records an object that could not even be decoded as its kind.
    pub fn reject(&mut self, namespace: &str, rejected: Rejected) {
        let key = (rejected.kind, rejected.name.clone());
        self.entry(namespace).rejected.insert(key, rejected);
    }

    pub fn delete_policy(&mut self, namespace: &str, name: &str) {
        if let Some(state) = self.namespaces.get_mut(namespace) {
            state.policies.remove(name);
            state.rejected.remove(&("NetworkPolicy", name.to_string()));
        }
        self.prune(namespace);
    }

    /// Indexes a Service if it is exposed outside the cluster; a Service that
    /// is not (or no longer) exposed leaves the index.
    pub fn apply_service(&mut self, service: &Service) {
        let namespace = object_namespace(service.metadata.namespace.as_ref()).to_string();
        let name = service.metadata.name.clone().unwrap_or_default();
        let key = ("Service", name.clone());
        match convert::service(service) {
            Ok(Some(exposed)) => {
                let state = self.entry(&namespace);
                state.rejected.remove(&key);
                state.services.insert(name, exposed);
            }
            Ok(None) => self.delete_service(&namespace, &name),
            Err(rejected) => {
                let state = self.entry(&namespace);
                state.services.remove(&name);
                state.rejected.insert(key, rejected);
            }
        }
    }

    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        if let Some(state) = self.namespaces.get_mut(namespace) {
            state.services.remove(name);
            state.rejected.remove(&("Service", name.to_string()));
        }
        self.prune(namespace);
    }
}
