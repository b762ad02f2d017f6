//! Semantics tests, named after the rules of the NetworkPolicy semantics
//! reference (`shared/reference/networkpolicy-semantics.md`), plus the
//! verdict definitions. Fixtures are YAML as users write it.

mod choices;
mod connectivity;
mod differential;
mod dns;
mod explain;
mod exposure;
mod impact;
mod index;
mod layers;
mod peers;
mod ports;
mod selection;
mod verdicts;

use serde::Deserialize;

use crate::model::{Direction, Protocol};
use crate::reach::{self, Endpoint, Reach, Remote};
use crate::{Cluster, Evaluator, NamespacePosture, Settings};

/// Builds an index from multi-document YAML (Namespace, Pod, NetworkPolicy, Service).
pub(crate) fn cluster(yaml: &str) -> Cluster {
    let mut cluster = Cluster::default();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(document).expect("fixture is valid YAML");
        if value.is_null() {
            continue;
        }
        match value["kind"].as_str() {
            Some("Namespace") => cluster.apply_namespace(&serde_json::from_value(value).unwrap()),
            Some("Pod") => cluster.apply_pod(&serde_json::from_value(value).unwrap()),
            Some("NetworkPolicy") => cluster.apply_policy(&serde_json::from_value(value).unwrap()),
            Some("Service") => cluster.apply_service(&serde_json::from_value(value).unwrap()),
            other => panic!("fixture kind {other:?} is not handled"),
        }
    }
    cluster
}

pub(crate) fn pod(namespace: &str, name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{{labels}}}}}\nspec: {{containers: [{{name: main, image: app}}]}}\n---\n"
    )
}

pub(crate) fn pod_with_ip(namespace: &str, name: &str, labels: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{{labels}}}}}\nspec: {{containers: [{{name: main, image: app}}]}}\nstatus: {{podIP: {ip}}}\n---\n"
    )
}

pub(crate) fn policy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
    )
}

pub(crate) fn service(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
    )
}

pub(crate) fn namespace(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n---\n"
    )
}

/// A CNI agent that enforces NetworkPolicy, so `covered` can be true.
pub(crate) const CALICO: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: calico-node-1, namespace: kube-system, labels: {k8s-app: calico-node}}\nspec: {hostNetwork: true, containers: [{name: calico-node, image: 'calico/node:v3.27.0'}]}\n---\n";

/// A kubeadm CoreDNS pod.
pub(crate) const COREDNS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec: {containers: [{name: coredns, image: 'coredns/coredns:1.11.1', ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}, {name: metrics, containerPort: 9153}]}]}\n---\n";

pub(crate) fn posture(cluster: &Cluster, namespace: &str) -> NamespacePosture {
    Evaluator::new(cluster, &Settings::default())
        .namespace(namespace)
        .expect("namespace is in the fixture")
}

fn endpoint<'a>(
    cluster: &'a Cluster,
    path: &str,
) -> (Endpoint<'a>, &'a crate::cluster::NamespaceState) {
    let (namespace, name) = path.split_once('/').expect("ns/pod");
    let (namespace, state) = cluster
        .namespaces()
        .find(|(n, _)| n.as_str() == namespace)
        .expect("namespace exists");
    let pod = state
        .pods
        .get(name)
        .unwrap_or_else(|| panic!("pod {path} exists"));
    (
        Endpoint {
            namespace,
            namespace_labels: &state.labels,
            pod,
        },
        state,
    )
}

/// Both sides of `from` -> `to` (each `namespace/pod`) on `protocol`/`port`.
pub(crate) fn reach(
    cluster: &Cluster,
    from: &str,
    to: &str,
    protocol: Protocol,
    port: u16,
) -> Reach {
    let (source, source_state) = endpoint(cluster, from);
    let (destination, destination_state) = endpoint(cluster, to);
    let egress = reach::selecting(source_state, source.pod, Direction::Egress);
    let ingress = reach::selecting(destination_state, destination.pod, Direction::Ingress);
    reach::connection(
        &source,
        &egress,
        &Remote::Pod(destination),
        &ingress,
        protocol,
        port,
    )
}

pub(crate) fn reach_address(
    cluster: &Cluster,
    from: &str,
    ip: &str,
    protocol: Protocol,
    port: u16,
) -> Reach {
    let (source, source_state) = endpoint(cluster, from);
    let egress = reach::selecting(source_state, source.pod, Direction::Egress);
    let address = Remote::Address(ip.parse().expect("valid IP"));
    reach::connection(&source, &egress, &address, &[], protocol, port)
}

pub(crate) const TCP: Protocol = Protocol::Tcp;
pub(crate) const UDP: Protocol = Protocol::Udp;
