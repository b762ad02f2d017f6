//! `impact`: after one change to a random cluster, every namespace whose
//! report differs is in the affected set, as `Cluster::apply` / `delete`
//! return it to the operator's watches (the object's `affected_by_*` before
//! the change, merged with the same after it, or nothing for a pod whose
//! indexed facts are unchanged). A namespace left out would keep a stale
//! report. The cluster may hold an (Baseline)AdminNetworkPolicy or a Calico
//! NetworkPolicy beforehand, so changes to pods and namespace labels meet
//! its selectors too.

mod apply;
mod shapes;

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::networking::v1::Ingress;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use serde_json::json;

use super::generate::{self, ClusterShape, Objects};
use super::{config, index};
use crate::changes::{
    Ingresses, Namespaces, NetworkPolicies, Nodes, ObjectKey, PeerAuthentications, Pods, Services,
};
use crate::layers::layer_kind;
use crate::{Affected, Cluster, Evaluator, NamespacePosture, Settings};

use apply::*;
use shapes::*;

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
