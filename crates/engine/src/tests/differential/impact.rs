//! `impact`: after one change to a random cluster, every namespace whose
//! report differs is in the affected set, computed the way the operator's
//! watches compute it (the object's `affected_by_*` before the change,
//! merged with the same after it). A namespace left out would keep a stale
//! report. The cluster may hold an (Baseline)AdminNetworkPolicy or a Calico
//! NetworkPolicy beforehand, so changes to pods and namespace labels meet
//! its selectors too.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::networking::v1::Ingress;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use serde_json::json;

use super::generate::{self, ClusterShape, Objects};
use super::{config, index};
use crate::layers::{LayerPolicy, layer_kind};
use crate::{Affected, Cluster, Evaluator, NamespacePosture, Settings};

/// One change, with what it takes from a second random cluster.
#[derive(Clone, Debug)]
enum Change {
    /// A pod of the other cluster: a new pod, or a new version of one.
    PutPod(Index),
    DeletePod(Index),
    PutPolicy(Index),
    DeletePolicy(Index),
    /// A Namespace of the other cluster: new labels, or a new namespace.
    PutNamespace(Index),
    DeleteNamespace(Index),
    /// A Node with one of a few pod CIDRs, or none.
    PutNode(Index),
    DeleteNode,
    /// A LoadBalancer Service selecting the labels of a pod of the other cluster.
    PutService(Index),
    /// An Ingress, over an earlier version of it or none.
    PutIngress(IngressShape, Option<IngressShape>),
    /// An Ingress the cluster holds, deleted.
    DeleteIngress(IngressShape),
    /// An (Baseline)AdminNetworkPolicy, over an earlier version of it or none.
    PutLayer(LayerShape, Option<LayerShape>),
    /// An (Baseline)AdminNetworkPolicy the cluster holds, deleted.
    DeleteLayer(LayerShape),
    /// A PeerAuthentication, over an earlier version of it or none.
    PutPeerAuthentication(PeerAuthenticationShape, Option<PeerAuthenticationShape>),
    /// A PeerAuthentication the cluster holds, deleted.
    DeletePeerAuthentication(PeerAuthenticationShape),
    /// A Calico NetworkPolicy (namespaced), over an earlier version of it or none.
    PutCalico(CalicoShape, Option<CalicoShape>),
    /// A Calico NetworkPolicy the cluster holds, deleted.
    DeleteCalico(CalicoShape),
}

/// A Calico NetworkPolicy `calico` in a generated namespace, selecting all
/// its pods, with one Deny or Allow rule whose peer is the namespaces with
/// a generated label.
#[derive(Clone, Debug)]
struct CalicoShape {
    namespace: Index,
    egress: bool,
    deny: bool,
    peer: Index,
}

fn calico_shape() -> impl Strategy<Value = CalicoShape> {
    (any::<Index>(), any::<bool>(), any::<bool>(), any::<Index>()).prop_map(
        |(namespace, egress, deny, peer)| CalicoShape {
            namespace,
            egress,
            deny,
            peer,
        },
    )
}

fn calico(shape: &CalicoShape) -> (String, serde_json::Value) {
    let namespace =
        generate::NAMESPACE_NAMES[shape.namespace.index(generate::NAMESPACE_NAMES.len())];
    let (key, value) =
        generate::NAMESPACE_LABELS[shape.peer.index(generate::NAMESPACE_LABELS.len())];
    let (direction, peer) = if shape.egress {
        ("egress", "destination")
    } else {
        ("ingress", "source")
    };
    let rule = json!({"action": if shape.deny { "Deny" } else { "Allow" },
        peer: {"namespaceSelector": format!("{key} == '{value}'")}});
    let object = json!({
        "apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "calico", "namespace": namespace},
        "spec": {"selector": "all()", direction: [rule]},
    });
    (namespace.to_string(), object)
}

/// Indexes a Calico NetworkPolicy as the operator's watch does.
fn apply_calico(cluster: &mut Cluster, settings: &Settings, shape: &CalicoShape) -> Affected {
    let (namespace, object) = calico(shape);
    let kind = layer_kind("crd.projectcalico.org", "NetworkPolicy").expect("a layer kind");
    let affected = cluster.affected_by_layer(settings, kind, Some(&namespace));
    cluster.apply_layer_policy(LayerPolicy::from_object(
        kind,
        Some(&namespace),
        "calico",
        &object,
    ));
    affected
}

/// A PeerAuthentication `pa` in a generated namespace or Istio's root one,
/// for the whole namespace or the pods with a generated label, beside
/// another sign of Istio or none.
#[derive(Clone, Debug)]
struct PeerAuthenticationShape {
    namespace: Index,
    selector: Option<Index>,
    mode: Index,
    other: Option<OtherSignal>,
}

/// Another sign of Istio, in place first, so the PeerAuthentication is not the only one.
#[derive(Clone, Copy, Debug)]
enum OtherSignal {
    /// A second PeerAuthentication (`base`, namespace-wide in `ns-a`).
    PeerAuthentication,
    /// An istiod pod in Istio's root namespace.
    ControlPlane,
}

fn other_signal() -> impl Strategy<Value = Option<OtherSignal>> {
    proptest::option::of(prop_oneof![
        Just(OtherSignal::PeerAuthentication),
        Just(OtherSignal::ControlPlane)
    ])
}

const PEER_AUTHENTICATION_NAMESPACES: [&str; 5] = ["ns-a", "ns-b", "ns-c", "ns-d", "istio-system"];
const MTLS_MODES: [&str; 3] = ["STRICT", "PERMISSIVE", "DISABLE"];

fn peer_authentication_shape() -> impl Strategy<Value = PeerAuthenticationShape> {
    (
        any::<Index>(),
        proptest::option::of(any::<Index>()),
        any::<Index>(),
        other_signal(),
    )
        .prop_map(
            |(namespace, selector, mode, other)| PeerAuthenticationShape {
                namespace,
                selector,
                mode,
                other,
            },
        )
}

fn peer_authentication(shape: &PeerAuthenticationShape) -> serde_json::Value {
    let namespace =
        PEER_AUTHENTICATION_NAMESPACES[shape.namespace.index(PEER_AUTHENTICATION_NAMESPACES.len())];
    let mut spec = json!({"mtls": {"mode": MTLS_MODES[shape.mode.index(MTLS_MODES.len())]}});
    if let Some(selector) = &shape.selector {
        let (key, value) = generate::POD_LABELS[selector.index(generate::POD_LABELS.len())];
        spec["selector"] = json!({"matchLabels": {key: value}});
    }
    json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "pa", "namespace": namespace},
        "spec": spec,
    })
}

/// Indexes a PeerAuthentication as the operator's watch does, returning what it affects.
fn apply_peer_authentication(
    cluster: &mut Cluster,
    settings: &Settings,
    object: &serde_json::Value,
) -> Affected {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let before = cluster.affected_by_peer_authentication(settings, namespace, name);
    cluster.apply_peer_authentication(object);
    before.merge(cluster.affected_by_peer_authentication(settings, namespace, name))
}

/// An AdminNetworkPolicy, or the BaselineAdminNetworkPolicy, with a subject
/// selecting namespaces or pods by a generated label and one Deny or Allow
/// rule to (or from) the namespaces with a generated label.
#[derive(Clone, Debug)]
struct LayerShape {
    baseline: bool,
    subject_pods: bool,
    subject: Index,
    egress: bool,
    deny: bool,
    peer: Index,
}

fn layer_shape() -> impl Strategy<Value = LayerShape> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<Index>(),
        any::<bool>(),
        any::<bool>(),
        any::<Index>(),
    )
        .prop_map(
            |(baseline, subject_pods, subject, egress, deny, peer)| LayerShape {
                baseline,
                subject_pods,
                subject,
                egress,
                deny,
                peer,
            },
        )
}

/// The object `shape` describes, as the operator's watch hands it over.
fn layer(shape: &LayerShape) -> (&'static str, serde_json::Value) {
    let pick = |labels: &[(&str, &str)], index: &Index| {
        let (key, value) = labels[index.index(labels.len())];
        json!({"matchLabels": {key: value}})
    };
    let subject = if shape.subject_pods {
        json!({"pods": {"namespaceSelector": {}, "podSelector": pick(generate::POD_LABELS, &shape.subject)}})
    } else {
        json!({"namespaces": pick(generate::NAMESPACE_LABELS, &shape.subject)})
    };
    let (direction, peers) = if shape.egress {
        ("egress", "to")
    } else {
        ("ingress", "from")
    };
    let action = if shape.deny { "Deny" } else { "Allow" };
    let rule = json!({"name": "one", "action": action,
        peers: [{"namespaces": pick(generate::NAMESPACE_LABELS, &shape.peer)}]});
    let mut spec = json!({"subject": subject, direction: [rule]});
    let (kind, name) = if shape.baseline {
        ("BaselineAdminNetworkPolicy", "default")
    } else {
        spec["priority"] = json!(10);
        ("AdminNetworkPolicy", "tiered")
    };
    let object = json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    });
    (kind, object)
}

/// Indexes a layer object as the operator's watch does, returning what it affects.
fn apply_layer(cluster: &mut Cluster, settings: &Settings, shape: &LayerShape) -> Affected {
    let (kind, object) = layer(shape);
    let kind = layer_kind("policy.networking.k8s.io", kind).expect("a layer kind");
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let affected = cluster.affected_by_layer(settings, kind, None);
    cluster.apply_layer_policy(LayerPolicy::from_object(kind, None, name, &object));
    affected
}

/// An Ingress in the namespace of a pod of the other cluster, routing one
/// host to a Service `web` selecting that pod's labels; the Service is
/// there (ClusterIP) only when `service` says so.
#[derive(Clone, Debug)]
struct IngressShape {
    pod: Index,
    host: usize,
    tls: bool,
    service: bool,
}

const INGRESS_HOSTS: [&str; 2] = ["shop.example.com", "api.example.com"];

fn ingress_shape() -> impl Strategy<Value = IngressShape> {
    (
        any::<Index>(),
        0..INGRESS_HOSTS.len(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(pod, host, tls, service)| IngressShape {
            pod,
            host,
            tls,
            service,
        })
}

const NODE_CIDRS: [&[&str]; 4] = [&["10.0.0.0/16"], &["172.20.0.0/16"], &["fd00::/64"], &[]];

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<Index>().prop_map(Change::PutPod),
        any::<Index>().prop_map(Change::DeletePod),
        any::<Index>().prop_map(Change::PutPolicy),
        any::<Index>().prop_map(Change::DeletePolicy),
        any::<Index>().prop_map(Change::PutNamespace),
        any::<Index>().prop_map(Change::DeleteNamespace),
        any::<Index>().prop_map(Change::PutNode),
        Just(Change::DeleteNode),
        any::<Index>().prop_map(Change::PutService),
        (ingress_shape(), proptest::option::of(ingress_shape()))
            .prop_map(|(shape, previous)| Change::PutIngress(shape, previous)),
        ingress_shape().prop_map(Change::DeleteIngress),
        (layer_shape(), proptest::option::of(layer_shape())).prop_map(|(shape, previous)| {
            // The same object's earlier version: the same kind.
            let previous = previous.map(|p| LayerShape {
                baseline: shape.baseline,
                ..p
            });
            Change::PutLayer(shape, previous)
        }),
        layer_shape().prop_map(Change::DeleteLayer),
        (
            peer_authentication_shape(),
            proptest::option::of(peer_authentication_shape())
        )
            .prop_map(|(shape, previous)| {
                // The same object's earlier version: the same namespace.
                let previous = previous.map(|p| PeerAuthenticationShape {
                    namespace: shape.namespace,
                    other: shape.other,
                    ..p
                });
                Change::PutPeerAuthentication(shape, previous)
            }),
        peer_authentication_shape().prop_map(Change::DeletePeerAuthentication),
        (calico_shape(), proptest::option::of(calico_shape())).prop_map(|(shape, previous)| {
            let previous = previous.map(|p| CalicoShape {
                namespace: shape.namespace,
                ..p
            });
            Change::PutCalico(shape, previous)
        }),
        calico_shape().prop_map(Change::DeleteCalico),
    ]
}

/// The Ingress `shape` describes, with its backend Service when it has one.
fn ingress(shape: &IngressShape, other: &Objects) -> Option<(Ingress, Option<Service>)> {
    let pod = other.pods.get(shape.pod.index(other.pods.len().max(1)))?;
    let (namespace, _) = name_of(&pod.metadata);
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let host = INGRESS_HOSTS[shape.host];
    let mut spec = json!({"rules": [{"host": host, "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    }]}}]});
    if shape.tls {
        spec["tls"] = json!([{"hosts": [host], "secretName": "shop-tls"}]);
    }
    let ingress = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": spec,
    }))
    .expect("a valid Ingress");
    let service = shape.service.then(|| {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        }))
        .expect("a valid Service")
    });
    Some((ingress, service))
}

fn put_other_signal(cluster: &mut Cluster, other: Option<OtherSignal>) {
    match other {
        None => {}
        Some(OtherSignal::PeerAuthentication) => cluster.apply_peer_authentication(&json!({
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "base", "namespace": "ns-a"},
            "spec": {"mtls": {"mode": "STRICT"}},
        })),
        Some(OtherSignal::ControlPlane) => cluster.apply_pod(
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "istiod-1", "namespace": "istio-system", "labels": {"app": "istiod"}},
                "spec": {"containers": [{"name": "discovery", "image": "istio/pilot"}]},
                "status": {"podIP": "10.9.0.5"},
            }))
            .expect("a valid Pod"),
        ),
    }
}

/// What the cluster holds before the change, beyond the generated objects:
/// the earlier version of what is put, the object that is deleted.
fn prepare(cluster: &mut Cluster, settings: &Settings, change: &Change, other: &Objects) {
    let service_of = |shape: &IngressShape, cluster: &mut Cluster| {
        if let Some((_, Some(service))) = ingress(shape, other) {
            cluster.apply_service(&service);
        }
    };
    let ingress_of = |shape: &IngressShape, cluster: &mut Cluster| {
        service_of(shape, cluster);
        if let Some((ingress, _)) = ingress(shape, other) {
            cluster.apply_ingress(&ingress);
        }
    };
    match change {
        Change::PutIngress(shape, previous) => {
            if let Some(previous) = previous {
                ingress_of(previous, cluster);
            }
            service_of(shape, cluster);
        }
        Change::DeleteIngress(shape) => ingress_of(shape, cluster),
        Change::PutLayer(_, Some(shape)) | Change::DeleteLayer(shape) => {
            apply_layer(cluster, settings, shape);
        }
        Change::PutPeerAuthentication(shape, previous) => {
            put_other_signal(cluster, shape.other);
            if let Some(previous) = previous {
                cluster.apply_peer_authentication(&peer_authentication(previous));
            }
        }
        Change::PutCalico(_, Some(shape)) | Change::DeleteCalico(shape) => {
            apply_calico(cluster, settings, shape);
        }
        Change::DeletePeerAuthentication(shape) => {
            put_other_signal(cluster, shape.other);
            cluster.apply_peer_authentication(&peer_authentication(shape));
        }
        _ => {}
    }
}

fn name_of(
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (String, String) {
    (
        metadata.namespace.clone().unwrap_or_default(),
        metadata.name.clone().unwrap_or_default(),
    )
}

fn node(cidrs: &[&str]) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1"},
        "spec": {"podCIDRs": cidrs},
    }))
    .expect("a valid Node")
}

/// Applies `change` as the operator's watch would, returning what it affects.
fn apply(
    cluster: &mut Cluster,
    settings: &Settings,
    change: &Change,
    other: &Objects,
    own: &Objects,
) -> Affected {
    let pick = |index: &Index, len: usize| (len > 0).then(|| index.index(len));
    match change {
        Change::PutPod(i) => {
            let Some(i) = pick(i, other.pods.len()) else {
                return Affected::Nothing;
            };
            let pod = &other.pods[i];
            let (namespace, name) = name_of(&pod.metadata);
            let before = cluster.affected_by_pod(settings, &namespace, &name);
            cluster.apply_pod(pod);
            before.merge(cluster.affected_by_pod(settings, &namespace, &name))
        }
        Change::DeletePod(i) => {
            let Some(i) = pick(i, own.pods.len()) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&own.pods[i].metadata);
            let before = cluster.affected_by_pod(settings, &namespace, &name);
            cluster.delete_pod(&namespace, &name);
            before
        }
        Change::PutPolicy(i) => {
            let Some(i) = pick(i, other.policies.len()) else {
                return Affected::Nothing;
            };
            let policy = &other.policies[i];
            let (namespace, name) = name_of(&policy.metadata);
            let before = cluster.affected_by_policy(settings, &namespace, &name);
            cluster.apply_policy(policy);
            before.merge(cluster.affected_by_policy(settings, &namespace, &name))
        }
        Change::DeletePolicy(i) => {
            let Some(i) = pick(i, own.policies.len()) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&own.policies[i].metadata);
            let before = cluster.affected_by_policy(settings, &namespace, &name);
            cluster.delete_policy(&namespace, &name);
            before
        }
        Change::PutNamespace(i) => {
            let Some(i) = pick(i, other.namespaces.len()) else {
                return Affected::Nothing;
            };
            let namespace = &other.namespaces[i];
            let (_, name) = name_of(&namespace.metadata);
            let before = cluster.affected_by_namespace(&name);
            cluster.apply_namespace(namespace);
            before.merge(cluster.affected_by_namespace(&name))
        }
        Change::DeleteNamespace(i) => {
            let name = generate::NAMESPACE_NAMES[i.index(generate::NAMESPACE_NAMES.len())];
            let affected = cluster.affected_by_namespace(name);
            cluster.delete_namespace(name);
            affected
        }
        Change::PutNode(i) => cluster.apply_node(&node(NODE_CIDRS[i.index(NODE_CIDRS.len())])),
        Change::DeleteNode => cluster.delete_node("node-1"),
        Change::PutService(i) => {
            let Some(i) = pick(i, other.pods.len()) else {
                return Affected::Nothing;
            };
            let pod = &other.pods[i];
            let (namespace, _) = name_of(&pod.metadata);
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let service: Service = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"type": "LoadBalancer", "selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            }))
            .expect("a valid Service");
            let before = cluster.affected_by_service(&namespace, "web");
            cluster.apply_service(&service);
            before.merge(cluster.affected_by_service(&namespace, "web"))
        }
        // Its Service is in place already (`prepare`): only the Ingress changes.
        Change::PutIngress(shape, _) => {
            let Some((ingress, _)) = ingress(shape, other) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&ingress.metadata);
            let before = cluster.affected_by_ingress(&namespace, &name);
            cluster.apply_ingress(&ingress);
            before.merge(cluster.affected_by_ingress(&namespace, &name))
        }
        Change::DeleteIngress(shape) => {
            let Some((ingress, _)) = ingress(shape, other) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&ingress.metadata);
            let before = cluster.affected_by_ingress(&namespace, &name);
            cluster.delete_ingress(&namespace, &name);
            before
        }
        Change::PutLayer(shape, _) => apply_layer(cluster, settings, shape),
        Change::DeleteLayer(shape) => {
            let (kind, object) = layer(shape);
            let kind = layer_kind("policy.networking.k8s.io", kind).expect("a layer kind");
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let affected = cluster.affected_by_layer(settings, kind, None);
            cluster.delete_layer_policy(kind, None, name);
            affected
        }
        Change::PutPeerAuthentication(shape, _) => {
            apply_peer_authentication(cluster, settings, &peer_authentication(shape))
        }
        Change::DeletePeerAuthentication(shape) => {
            let object = peer_authentication(shape);
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let affected = cluster.affected_by_peer_authentication(settings, namespace, "pa");
            cluster.delete_peer_authentication(namespace, "pa");
            affected
        }
        Change::PutCalico(shape, _) => apply_calico(cluster, settings, shape),
        Change::DeleteCalico(shape) => {
            let (namespace, _) = calico(shape);
            let kind = layer_kind("crd.projectcalico.org", "NetworkPolicy").expect("a layer kind");
            let affected = cluster.affected_by_layer(settings, kind, Some(&namespace));
            cluster.delete_layer_policy(kind, Some(&namespace), "calico");
            affected
        }
    }
}

/// A layer policy the cluster holds before the change.
#[derive(Clone, Debug)]
enum Background {
    Tiered(LayerShape),
    Calico(CalicoShape),
}

fn background() -> impl Strategy<Value = Background> {
    prop_oneof![
        layer_shape().prop_map(Background::Tiered),
        calico_shape().prop_map(Background::Calico),
    ]
}

fn reports(cluster: &Cluster, settings: &Settings) -> Vec<(String, NamespacePosture)> {
    Evaluator::new(cluster, settings).all()
}

/// Namespaces whose report changed (or appeared, or went) but which the
/// change did not name.
fn missed(
    shape: &ClusterShape,
    other: &ClusterShape,
    background: &Option<Background>,
    change: &Change,
) -> Vec<String> {
    let (own, other) = (shape.objects(), other.objects());
    let settings = Settings::default();
    let mut cluster = index(&own);
    match background {
        Some(Background::Tiered(shape)) => {
            apply_layer(&mut cluster, &settings, shape);
        }
        Some(Background::Calico(shape)) => {
            apply_calico(&mut cluster, &settings, shape);
        }
        None => {}
    }
    prepare(&mut cluster, &settings, change, &other);
    let before = reports(&cluster, &settings);
    let affected = apply(&mut cluster, &settings, change, &other, &own);
    let after = reports(&cluster, &settings);
    let named: BTreeSet<String> = match affected {
        Affected::All => before
            .iter()
            .chain(&after)
            .map(|(n, _)| n.clone())
            .collect(),
        other => other.resolve(&cluster),
    };
    let names: BTreeSet<&String> = before.iter().chain(&after).map(|(n, _)| n).collect();
    let report = |list: &[(String, NamespacePosture)], name: &str| {
        list.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone())
    };
    names
        .into_iter()
        .filter(|name| report(&before, name) != report(&after, name))
        .filter(|name| !named.contains(*name))
        .cloned()
        .collect()
}

#[test]
fn every_namespace_whose_report_changes_is_affected() {
    let mut runner = TestRunner::new(config(600));
    let strategy = (
        generate::cluster(),
        generate::cluster(),
        (proptest::option::of(background()), change()),
    );
    let result = runner.run(
        &strategy,
        |(shape, other, (background, change))| match missed(&shape, &other, &background, &change)
            .as_slice()
        {
            [] => Ok(()),
            missed => Err(TestCaseError::fail(format!(
                "{change:?} changed the reports of {missed:?}, which it did not name"
            ))),
        },
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (shape, other, (background, change)))) => panic!(
            "{reason}\n--- cluster ---\n{}\nwith the layer policy {background:?}\n--- change {change:?} from ---\n{}",
            shape.objects().yaml(),
            other.objects().yaml()
        ),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
}
