//! Changes to the index as a watch delivers them, by kind: applying or
//! deleting one object, or resetting a kind to what a fresh list holds,
//! returns the namespaces whose verdicts the change may alter. The index
//! judges what a change reaches from the object's old and new versions, so a
//! controller feeding it keeps no state of its own about either.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube_core::DynamicObject;

use crate::cluster::{Cluster, NamespaceState};
use crate::impact::Affected;
use crate::layers::{LayerKind, LayerPolicy};
use crate::settings::Settings;

/// `(namespace, name)` of an object; the namespace is empty for cluster-scoped kinds.
pub type ObjectKey = (String, String);

/// A kind of object the index holds, and how one enters and leaves it.
pub trait IndexKind {
    /// The object as a watch delivers it.
    type Object;
    /// The kind's name for logs and metrics, unique among the kinds watched.
    fn name(&self) -> String;
    fn apply(&self, cluster: &mut Cluster, settings: &Settings, object: &Self::Object) -> Affected;
    /// Indexes an object as `apply` does, without judging what it reaches:
    /// for lists, after which everything is evaluated anyway.
    fn index(&self, cluster: &mut Cluster, settings: &Settings, object: &Self::Object) {
        self.apply(cluster, settings, object);
    }
    fn delete(&self, cluster: &mut Cluster, settings: &Settings, key: &ObjectKey) -> Affected;
    /// The key of every object of this kind the index holds, valid or rejected.
    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey>;
    /// How many objects of this kind the index holds.
    fn count(&self, cluster: &Cluster) -> usize {
        self.held(cluster).len()
    }
}

/// What a relist changed beyond the objects it applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Relisted {
    /// Objects the index held that the list no longer has: deleted while
    /// unwatched, so no Delete event will ever come for them.
    pub removed: Vec<ObjectKey>,
    pub affected: Affected,
}

impl Cluster {
    /// Indexes one object of `kind` (new or changed) and returns what it reaches.
    pub fn apply<K: IndexKind>(
        &mut self,
        kind: &K,
        settings: &Settings,
        object: &K::Object,
    ) -> Affected {
        kind.apply(self, settings, object)
    }

    /// Indexes one object of `kind` without judging what it reaches (see
    /// [`IndexKind::index`]).
    pub fn index<K: IndexKind>(&mut self, kind: &K, settings: &Settings, object: &K::Object) {
        kind.index(self, settings, object);
    }

    /// Forgets one object of `kind` and returns what it reached.
    pub fn delete<K: IndexKind>(
        &mut self,
        kind: &K,
        settings: &Settings,
        key: &ObjectKey,
    ) -> Affected {
        kind.delete(self, settings, key)
    }

    /// After a fresh list of `kind` whose objects were applied one by one
    /// (so a big list is never held whole): forgets every object of the
    /// kind whose key the list lacks.
    pub fn reset<K: IndexKind>(
        &mut self,
        kind: &K,
        settings: &Settings,
        listed: &BTreeSet<ObjectKey>,
    ) -> Relisted {
        let removed: Vec<ObjectKey> = kind.held(self).difference(listed).cloned().collect();
        let affected = removed.iter().fold(Affected::Nothing, |affected, key| {
            affected.merge(kind.delete(self, settings, key))
        });
        Relisted { removed, affected }
    }
}

/// The key of a typed namespaced object.
fn key_of(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
    (
        metadata.namespace.clone().unwrap_or_default(),
        metadata.name.clone().unwrap_or_default(),
    )
}

/// Keys of a namespaced kind: valid objects from `valid`, rejected ones by `kind`.
fn held_in_namespaces<'a, I: Iterator<Item = &'a String>>(
    cluster: &'a Cluster,
    kind: &str,
    valid: impl Fn(&'a NamespaceState) -> I,
) -> BTreeSet<ObjectKey> {
    let mut keys = BTreeSet::new();
    for (namespace, state) in cluster.namespaces() {
        keys.extend(valid(state).map(|name| (namespace.clone(), name.clone())));
        let rejected = state.rejected.keys().filter(|(k, _)| *k == kind);
        keys.extend(rejected.map(|(_, name)| (namespace.clone(), name.clone())));
    }
    keys
}

/// [`held_in_namespaces`]'s count without collecting names: pods are many.
fn count_in_namespaces(
    cluster: &Cluster,
    kind: &str,
    valid: impl Fn(&NamespaceState) -> usize,
) -> usize {
    let rejected =
        |state: &NamespaceState| state.rejected.keys().filter(|(k, _)| *k == kind).count();
    cluster
        .namespaces()
        .map(|(_, state)| valid(state) + rejected(state))
        .sum()
}

/// Pods: status rewrites that leave the indexed facts unchanged reach nothing.
pub struct Pods;

impl IndexKind for Pods {
    type Object = Pod;

    fn name(&self) -> String {
        "Pod".into()
    }

    fn apply(&self, cluster: &mut Cluster, settings: &Settings, pod: &Pod) -> Affected {
        cluster.apply_pod_change(settings, pod)
    }

    /// What a pod reaches scans every namespace's policies: for each pod of
    /// a list that was most of an operator's start-up (quadratic in the size).
    fn index(&self, cluster: &mut Cluster, _: &Settings, pod: &Pod) {
        cluster.apply_pod(pod);
    }

    fn delete(&self, cluster: &mut Cluster, settings: &Settings, key: &ObjectKey) -> Affected {
        let (namespace, name) = key;
        let before = cluster.affected_by_pod(settings, namespace, name);
        cluster.delete_pod(namespace, name);
        before
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        held_in_namespaces(cluster, "Pod", |state| state.pods.keys())
    }

    fn count(&self, cluster: &Cluster) -> usize {
        count_in_namespaces(cluster, "Pod", |state| state.pods.len())
    }
}

pub struct NetworkPolicies;

impl IndexKind for NetworkPolicies {
    type Object = NetworkPolicy;

    fn name(&self) -> String {
        "NetworkPolicy".into()
    }

    fn apply(
        &self,
        cluster: &mut Cluster,
        settings: &Settings,
        policy: &NetworkPolicy,
    ) -> Affected {
        let (namespace, name) = key_of(&policy.metadata);
        let before = cluster.affected_by_policy(settings, &namespace, &name);
        cluster.apply_policy(policy);
        before.merge(cluster.affected_by_policy(settings, &namespace, &name))
    }

    fn delete(&self, cluster: &mut Cluster, settings: &Settings, key: &ObjectKey) -> Affected {
        let (namespace, name) = key;
        let before = cluster.affected_by_policy(settings, namespace, name);
        cluster.delete_policy(namespace, name);
        before
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        held_in_namespaces(cluster, "NetworkPolicy", |state| state.policies.keys())
    }
}

pub struct Services;

impl IndexKind for Services {
    type Object = Service;

    fn name(&self) -> String {
        "Service".into()
    }

    fn apply(&self, cluster: &mut Cluster, _: &Settings, service: &Service) -> Affected {
        let (namespace, name) = key_of(&service.metadata);
        let before = cluster.affected_by_service(&namespace, &name);
        cluster.apply_service(service);
        before.merge(cluster.affected_by_service(&namespace, &name))
    }

    fn delete(&self, cluster: &mut Cluster, _: &Settings, key: &ObjectKey) -> Affected {
        let (namespace, name) = key;
        let before = cluster.affected_by_service(namespace, name);
        cluster.delete_service(namespace, name);
        before
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        held_in_namespaces(cluster, "Service", |state| state.services.keys())
    }
}

pub struct Ingresses;

impl IndexKind for Ingresses {
    type Object = Ingress;

    fn name(&self) -> String {
        "Ingress".into()
    }

    fn apply(&self, cluster: &mut Cluster, _: &Settings, ingress: &Ingress) -> Affected {
        let (namespace, name) = key_of(&ingress.metadata);
        let before = cluster.affected_by_ingress(&namespace, &name);
        cluster.apply_ingress(ingress);
        before.merge(cluster.affected_by_ingress(&namespace, &name))
    }

    fn delete(&self, cluster: &mut Cluster, _: &Settings, key: &ObjectKey) -> Affected {
        let (namespace, name) = key;
        let before = cluster.affected_by_ingress(namespace, name);
        cluster.delete_ingress(namespace, name);
        before
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        held_in_namespaces(cluster, "Ingress", |state| state.ingresses.keys())
    }
}

/// Namespace objects; a namespace implied only by its objects is not one of them.
pub struct Namespaces;

impl IndexKind for Namespaces {
    type Object = Namespace;

    fn name(&self) -> String {
        "Namespace".into()
    }

    fn apply(&self, cluster: &mut Cluster, _: &Settings, namespace: &Namespace) -> Affected {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let before = cluster.affected_by_namespace(&name);
        cluster.apply_namespace(namespace);
        before.merge(cluster.affected_by_namespace(&name))
    }

    fn delete(&self, cluster: &mut Cluster, _: &Settings, (_, name): &ObjectKey) -> Affected {
        let before = cluster.affected_by_namespace(name);
        cluster.delete_namespace(name);
        before
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        let declared = cluster.namespaces().filter(|(_, state)| state.declared);
        declared
            .map(|(name, _)| (String::new(), name.clone()))
            .collect()
    }
}

/// Nodes, of which the index keeps only the pod CIDRs.
pub struct Nodes;

impl IndexKind for Nodes {
    type Object = Node;

    fn name(&self) -> String {
        "Node".into()
    }

    fn apply(&self, cluster: &mut Cluster, _: &Settings, node: &Node) -> Affected {
        cluster.apply_node(node)
    }

    fn delete(&self, cluster: &mut Cluster, _: &Settings, (_, name): &ObjectKey) -> Affected {
        cluster.delete_node(name)
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        cluster
            .nodes()
            .map(|name| (String::new(), name.clone()))
            .collect()
    }
}

/// The JSON of an object of another project's API; a `DynamicObject` is
/// JSON already, so this fails only on a broken serializer.
fn as_json(object: &DynamicObject) -> Option<serde_json::Value> {
    serde_json::to_value(object).ok()
}

fn dynamic_key(object: &DynamicObject) -> ObjectKey {
    key_of(&object.metadata)
}

/// A policy layer kind (cluster-wide tiers, Calico, Cilium).
impl IndexKind for LayerKind {
    type Object = DynamicObject;

    fn name(&self) -> String {
        format!("{}.{}", self.kind, self.group)
    }

    fn apply(
        &self,
        cluster: &mut Cluster,
        settings: &Settings,
        object: &DynamicObject,
    ) -> Affected {
        let (namespace, name) = dynamic_key(object);
        let namespace = Some(namespace.as_str()).filter(|n| !n.is_empty());
        let Some(value) = as_json(object) else {
            return Affected::Nothing;
        };
        let affected = cluster.affected_by_layer(settings, *self, namespace);
        cluster.apply_layer_policy(LayerPolicy::from_object(*self, namespace, &name, &value));
        affected
    }

    fn delete(&self, cluster: &mut Cluster, settings: &Settings, key: &ObjectKey) -> Affected {
        let (namespace, name) = key;
        let namespace = Some(namespace.as_str()).filter(|n| !n.is_empty());
        let affected = cluster.affected_by_layer(settings, *self, namespace);
        cluster.delete_layer_policy(*self, namespace, name);
        affected
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        let own = cluster.layers().filter(|policy| policy.kind == *self);
        own.map(|policy| {
            (
                policy.namespace.clone().unwrap_or_default(),
                policy.name.clone(),
            )
        })
        .collect()
    }
}

/// Istio's `security.istio.io` PeerAuthentication.
pub struct PeerAuthentications;

impl IndexKind for PeerAuthentications {
    type Object = DynamicObject;

    fn name(&self) -> String {
        "PeerAuthentication.security.istio.io".into()
    }

    fn apply(
        &self,
        cluster: &mut Cluster,
        settings: &Settings,
        object: &DynamicObject,
    ) -> Affected {
        let (namespace, name) = dynamic_key(object);
        let Some(value) = as_json(object) else {
            return Affected::Nothing;
        };
        let before = cluster.affected_by_peer_authentication(settings, &namespace, &name);
        cluster.apply_peer_authentication(&value);
        before.merge(cluster.affected_by_peer_authentication(settings, &namespace, &name))
    }

    fn delete(&self, cluster: &mut Cluster, settings: &Settings, key: &ObjectKey) -> Affected {
        let (namespace, name) = key;
        let before = cluster.affected_by_peer_authentication(settings, namespace, name);
        cluster.delete_peer_authentication(namespace, name);
        before
    }

    fn held(&self, cluster: &Cluster) -> BTreeSet<ObjectKey> {
        held_in_namespaces(cluster, "PeerAuthentication", |state| {
            state.peer_authentications.keys()
        })
    }
}
