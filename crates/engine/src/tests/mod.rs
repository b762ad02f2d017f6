//! Semantics tests, named after the rules of the NetworkPolicy semantics
//! reference (`docs/semantics.md`), plus the
//! verdict definitions. Fixtures are YAML as users write it.

mod changes;
mod choices;
mod compliance;
mod connectivity;
mod dashboard;
mod diff;
mod diff_checks;
mod differential;
mod dns;
mod explain;
mod exposure;
mod host_ports;
mod hygiene;
mod impact;
mod index;
mod ingress;
mod layer_validation;
mod layers;
mod mesh;
mod messages;
mod peers;
mod ports;
mod selection;
mod suggest;
mod system;
mod undetermined;
mod verdicts;
mod whatif;

use serde::Deserialize;

use crate::layers::{LayerPolicy, layer_kind};
use crate::model::{Direction, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::reach::LayerSide;
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};
use crate::{Cluster, Evaluator, NamespacePosture, Settings};

/// Builds an index from multi-document YAML (Namespace, Pod, NetworkPolicy,
/// Service, Ingress, PeerAuthentication, and policies of the layer APIs).
pub(crate) fn cluster(yaml: &str) -> Cluster {
    let mut cluster = Cluster::default();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(document).expect("fixture is valid YAML");
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().expect("fixture object with a kind");
        let api_version = value["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if let Some(layer) = layer_kind(group, kind) {
            let metadata = &value["metadata"];
            cluster.apply_layer_policy(LayerPolicy::from_object(
                layer,
                metadata["namespace"].as_str(),
                metadata["name"].as_str().unwrap_or_default(),
                &value,
            ));
            continue;
        }
        match kind {
            "Namespace" => cluster.apply_namespace(&serde_json::from_value(value).unwrap()),
            "Pod" => cluster.apply_pod(&serde_json::from_value(value).unwrap()),
            "NetworkPolicy" => cluster.apply_policy(&serde_json::from_value(value).unwrap()),
            "Service" => cluster.apply_service(&serde_json::from_value(value).unwrap()),
            "Ingress" => cluster.apply_ingress(&serde_json::from_value(value).unwrap()),
            "PeerAuthentication" => cluster.apply_peer_authentication(&value),
            "Node" => {
                cluster.apply_node(&serde_json::from_value(value).unwrap());
            }
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

pub(crate) fn ingress(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
    )
}

pub(crate) fn peer_authentication(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
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

/// The pod CIDRs of a cluster nobody says anything about: the assumed ranges.
pub(crate) fn assumed_pod_cidrs() -> &'static PodCidrs {
    static ASSUMED: std::sync::OnceLock<PodCidrs> = std::sync::OnceLock::new();
    ASSUMED.get_or_init(PodCidrs::assumed)
}

pub(crate) fn endpoint<'a>(
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
            pod_cidrs: assumed_pod_cidrs(),
        },
        state,
    )
}

/// The layer rules that apply to an endpoint for a direction (every layer
/// policy of the index, whatever the CNI).
pub(crate) fn layer_side<'a>(
    cluster: &'a Cluster,
    end: &Endpoint<'_>,
    direction: Direction,
) -> LayerSide<'a> {
    let layers: Vec<&LayerPolicy> = cluster
        .layers()
        .filter(|l| l.may_apply_in(end.namespace, end.namespace_labels))
        .collect();
    LayerSide::for_pod(
        &layers,
        end.namespace,
        end.namespace_labels,
        end.pod,
        direction,
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
    let layers = (
        layer_side(cluster, &source, Direction::Egress),
        layer_side(cluster, &destination, Direction::Ingress),
    );
    reach::connection(
        &source,
        &egress,
        &Remote::Pod(destination),
        &ingress,
        &LayerEnds {
            egress: &layers.0,
            ingress: &layers.1,
        },
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
    let layers = layer_side(cluster, &source, Direction::Egress);
    let address = Remote::Address(ip.parse().expect("valid IP"));
    let ends = LayerEnds {
        egress: &layers,
        ingress: &LayerSide::NONE,
    };
    reach::connection(&source, &egress, &address, &[], &ends, protocol, port)
}

pub(crate) const TCP: Protocol = Protocol::Tcp;
pub(crate) const UDP: Protocol = Protocol::Udp;

/// The egress side of `a/web` to `address` on TCP/443.
pub(crate) fn egress_to(c: &Cluster, address: &str) -> reach::SideVerdict {
    let (source, state) = endpoint(c, "a/web");
    let egress = layer_side(c, &source, Direction::Egress);
    reach::explain_connection(
        &Remote::Pod(source),
        &reach::selecting(state, source.pod, Direction::Egress),
        &Remote::Address(address.parse().unwrap()),
        &[],
        &LayerEnds {
            egress: &egress,
            ingress: &LayerSide::NONE,
        },
        TCP,
        443,
    )
    .egress
}
