//! The in-memory index the engine evaluates: namespaces with their pods,
//! policies, Services, Ingresses and Istio PeerAuthentications, in the
//! compact model. Updated
//! object by object (`apply_*`, `delete_*`), so a scan builds it once and an
//! operator keeps it current from watch events; it never calls any API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod as K8sPod, Service as K8sService};
use k8s_openapi::api::networking::v1::{Ingress as K8sIngress, NetworkPolicy};

use crate::annotations::NamespaceChoices;
use crate::cni::CniSignal;
use crate::convert::{self, Rejected};
use crate::impact::Affected;
use crate::ingress::{self, Ingress};
use crate::layers::{LayerKey, LayerKind, LayerPolicy};
use crate::mesh::{self, PeerAuthentication};
use crate::model::{Labels, NAMESPACE_NAME_LABEL, Pod, Policy, Service};

/// Cloning is cheap: namespaces are shared until a clone changes one
/// (copy on write), so a what-if evaluation can change a copy.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    namespaces: BTreeMap<String, Arc<NamespaceState>>,
    /// CNI agent pods by `namespace/name`, so CNI detection never scans every pod.
    cni_pods: BTreeMap<String, CniSignal>,
    /// Policies of other APIs (cluster-wide tiers, Calico, Cilium).
    layers: BTreeMap<LayerKey, LayerPolicy>,
    /// Istio control plane pods by `namespace/name`.
    mesh_control_plane: BTreeSet<String>,
    /// `spec.podCIDRs` of each Node, by node name.
    node_pod_cidrs: BTreeMap<String, Vec<IpNet>>,
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
    /// Every Service: the exposed ones are checked themselves, and any of
    /// them can be an Ingress backend (an Ingress may arrive before its Service).
    pub services: BTreeMap<String, Service>,
    pub ingresses: BTreeMap<String, Ingress>,
    pub peer_authentications: BTreeMap<String, PeerAuthentication>,
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
            && self.ingresses.is_empty()
            && self.peer_authentications.is_empty()
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
        self.namespaces.get(name).map(Arc::as_ref)
    }

    pub fn namespaces(&self) -> impl Iterator<Item = (&String, &NamespaceState)> {
        self.namespaces
            .iter()
            .map(|(name, state)| (name, state.as_ref()))
    }

    pub fn cni_pods(&self) -> impl Iterator<Item = (&String, &CniSignal)> {
        self.cni_pods.iter()
    }

    /// Every layer policy, in kind, namespace and name order.
    pub fn layers(&self) -> impl Iterator<Item = &LayerPolicy> {
        self.layers.values()
    }

    /// Whether Istio is installed: its control plane runs, or some
    /// PeerAuthentication exists (offline manifests may hold only those).
    pub fn istio_installed(&self) -> bool {
        self.istio_signals() > 0
    }

    /// How many objects tell that Istio is installed (control plane pods and PeerAuthentications).
    pub fn istio_signals(&self) -> usize {
        let policies: usize = self
            .namespaces
            .values()
            .map(|state| state.peer_authentications.len())
            .sum();
        self.mesh_control_plane.len() + policies
    }

    /// Every Node's pod CIDRs, each once.
    pub fn node_pod_cidrs(&self) -> impl Iterator<Item = IpNet> + '_ {
        let all: BTreeSet<IpNet> = self.node_pod_cidrs.values().flatten().copied().collect();
        all.into_iter()
    }

    /// Keeps a Node's `spec.podCIDRs` (or the older `spec.podCIDR`), the
    /// only part of a Node the engine uses. A change to the cluster's set of
    /// pod CIDRs can move any pod whose IP is not known into or out of an
    /// ipBlock: it affects every namespace.
    pub fn apply_node(&mut self, node: &Node) -> Affected {
        let name = node.metadata.name.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        let listed = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
        let single = spec.and_then(|s| s.pod_cidr.clone());
        // The API server validates these; an unparsable one says nothing.
        let cidrs: Vec<IpNet> = listed
            .iter()
            .chain(single.iter())
            .filter_map(|cidr| cidr.parse().ok())
            .collect();
        self.change_nodes(|nodes| {
            if cidrs.is_empty() {
                nodes.remove(&name);
            } else {
                nodes.insert(name, cidrs);
            }
        })
    }

    /// Forgets a Node's pod CIDRs; see [`Cluster::apply_node`].
    pub fn delete_node(&mut self, name: &str) -> Affected {
        self.change_nodes(|nodes| {
            nodes.remove(name);
        })
    }

    fn change_nodes(&mut self, change: impl FnOnce(&mut BTreeMap<String, Vec<IpNet>>)) -> Affected {
        let before: BTreeSet<IpNet> = self.node_pod_cidrs().collect();
        change(&mut self.node_pod_cidrs);
        if before == self.node_pod_cidrs().collect() {
            Affected::Nothing
        } else {
            Affected::All
        }
    }

    /// Names of the Nodes whose pod CIDRs the index holds.
    pub fn nodes(&self) -> impl Iterator<Item = &String> {
        self.node_pod_cidrs.keys()
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
        let state = self
            .namespaces
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(NamespaceState::new(name)));
        Arc::make_mut(state)
    }

    fn prune(&mut self, name: &str) {
        if self
            .namespaces
            .get(name)
            .is_some_and(|state| state.is_empty())
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
        self.mesh_control_plane
            .retain(|key| !key.starts_with(&prefix));
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
        match pod {
            Ok(pod) => {
                // Checked first: reading a cluster puts every pod, and a
                // rejected one is rare.
                if !state.rejected.is_empty() {
                    state.rejected.remove(&("Pod", name.to_string()));
                }
                let signal = pod.cni.clone();
                let control_plane = mesh::control_plane(&pod.labels);
                state.pods.insert(name.to_string(), pod);
                if control_plane {
                    self.mesh_control_plane.insert(cni_key.clone());
                } else {
                    self.mesh_control_plane.remove(&cni_key);
                }
                match signal {
                    Some(signal) => self.cni_pods.insert(cni_key, signal),
                    None => self.cni_pods.remove(&cni_key),
                };
            }
            Err(rejected) => {
                state.pods.remove(name);
                state.rejected.insert(("Pod", name.to_string()), rejected);
                self.mesh_control_plane.remove(&cni_key);
                self.cni_pods.remove(&cni_key);
            }
        }
    }

    pub fn delete_pod(&mut self, namespace: &str, name: &str) {
        if let Some(state) = self.namespaces.get_mut(namespace).map(Arc::make_mut) {
            state.pods.remove(name);
            state.rejected.remove(&("Pod", name.to_string()));
        }
        let key = format!("{namespace}/{name}");
        self.mesh_control_plane.remove(&key);
        self.cni_pods.remove(&key);
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
        if let Some(state) = self.namespaces.get_mut(namespace).map(Arc::make_mut) {
            state.policies.remove(name);
            state.rejected.remove(&("NetworkPolicy", name.to_string()));
        }
        self.prune(namespace);
    }

    pub fn apply_service(&mut self, service: &K8sService) {
        let namespace = object_namespace(service.metadata.namespace.as_ref()).to_string();
        let name = service.metadata.name.clone().unwrap_or_default();
        let result = convert::service(service);
        self.entry(&namespace)
            .keep("Service", name, result, |state| &mut state.services);
    }

    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        self.forget(namespace, "Service", name, |state| &mut state.services);
    }

    pub fn apply_ingress(&mut self, object: &K8sIngress) {
        let namespace = object_namespace(object.metadata.namespace.as_ref()).to_string();
        let name = object.metadata.name.clone().unwrap_or_default();
        let result = ingress::ingress(object);
        self.entry(&namespace)
            .keep("Ingress", name, result, |state| &mut state.ingresses);
    }

    pub fn delete_ingress(&mut self, namespace: &str, name: &str) {
        self.forget(namespace, "Ingress", name, |state| &mut state.ingresses);
    }

    /// Indexes a `security.istio.io` PeerAuthentication (v1beta1 or v1) given as JSON.
    pub fn apply_peer_authentication(&mut self, object: &serde_json::Value) {
        let (namespace, result) = mesh::peer_authentication(object);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.entry(&namespace)
            .keep("PeerAuthentication", name, result, |state| {
                &mut state.peer_authentications
            });
    }

    pub fn delete_peer_authentication(&mut self, namespace: &str, name: &str) {
        self.forget(namespace, "PeerAuthentication", name, |state| {
            &mut state.peer_authentications
        });
    }

    fn forget<T>(
        &mut self,
        namespace: &str,
        kind: &'static str,
        name: &str,
        map: impl FnOnce(&mut NamespaceState) -> &mut BTreeMap<String, T>,
    ) {
        if let Some(state) = self.namespaces.get_mut(namespace).map(Arc::make_mut) {
            map(state).remove(name);
            state.rejected.remove(&(kind, name.to_string()));
        }
        self.prune(namespace);
    }
}

impl NamespaceState {
    /// Holds a converted object, or the reason it was rejected, never both.
    fn keep<T>(
        &mut self,
        kind: &'static str,
        name: String,
        result: Result<T, Rejected>,
        map: impl FnOnce(&mut NamespaceState) -> &mut BTreeMap<String, T>,
    ) {
        let key = (kind, name.clone());
        match result {
            Ok(object) => {
                self.rejected.remove(&key);
                map(self).insert(name, object);
            }
            Err(rejected) => {
                map(self).remove(&name);
                self.rejected.insert(key, rejected);
            }
        }
    }
}
