//! Each kind through `Cluster::apply` / `delete` / `reset`: what a change
//! reaches follows from the object's old and new versions (docs/operator.md,
//! "Inputs and what a change re-evaluates"), and a relist forgets what it no
//! longer lists.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube_core::DynamicObject;
use serde_json::{Value, json};

use crate::changes::*;
use crate::{Affected, Cluster, Settings};

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

fn names(list: &[&str]) -> Affected {
    Affected::Namespaces(list.iter().map(|n| n.to_string()).collect())
}

fn keys(list: &[(&str, &str)]) -> BTreeSet<ObjectKey> {
    list.iter()
        .map(|(namespace, name)| (namespace.to_string(), name.to_string()))
        .collect()
}

fn namespace(name: &str, team: &str) -> Namespace {
    object(json!({"metadata": {"name": name, "labels": {"team": team}}}))
}

fn pod(namespace: &str, name: &str, labels: Value) -> Pod {
    object(json!({"metadata": {"name": name, "namespace": namespace, "labels": labels}}))
}

/// Namespaces `a` (blue), `b` (blue) and `c` (red); `c` admits blue namespaces.
fn tenants() -> Cluster {
    let settings = Settings::default();
    let mut cluster = Cluster::default();
    for (name, team) in [("a", "blue"), ("b", "blue"), ("c", "red")] {
        cluster.apply(&Namespaces, &settings, &namespace(name, team));
    }
    let from_blue = object(json!({
        "metadata": {"name": "from-blue", "namespace": "c"},
        "spec": {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}]}
    }));
    cluster.apply(&NetworkPolicies, &settings, &from_blue);
    cluster
}

#[test]
fn a_pod_reaches_its_namespace_and_those_whose_peers_select_it() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let web = pod("a", "web", json!({"app": "web"}));
    assert_eq!(cluster.apply(&Pods, &settings, &web), names(&["a", "c"]));
    // The same facts again (a kubelet status rewrite): nothing to re-evaluate.
    assert_eq!(cluster.apply(&Pods, &settings, &web), Affected::Nothing);
    let key = ("a".to_string(), "web".to_string());
    assert_eq!(cluster.delete(&Pods, &settings, &key), names(&["a", "c"]));
    assert!(Pods.held(&cluster).is_empty());
}

/// A policy governs only its own namespace's pods, and a namespace's
/// verdicts read its own policies, the DNS namespace's and the system
/// namespaces' (facts/dns.rs, checks/system.rs), never those of the
/// namespaces its peers select: a change there reaches its namespace alone.
#[test]
fn a_policy_change_reaches_its_own_namespace_not_the_namespaces_its_peers_select() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let from_red = object(json!({
        "metadata": {"name": "from-red", "namespace": "c"},
        "spec": {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "red"}}}]}]}
    }));
    assert_eq!(
        cluster.apply(&NetworkPolicies, &settings, &from_red),
        names(&["c"])
    );
    let key = ("c".to_string(), "from-red".to_string());
    assert_eq!(
        cluster.delete(&NetworkPolicies, &settings, &key),
        names(&["c"])
    );
}

#[test]
fn a_relabelled_namespace_reaches_itself_and_namespaces_selecting_namespaces() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let relabelled = namespace("b", "red");
    assert_eq!(
        cluster.apply(&Namespaces, &settings, &relabelled),
        names(&["b", "c"])
    );
    let key = (String::new(), "b".to_string());
    assert_eq!(
        cluster.delete(&Namespaces, &settings, &key),
        names(&["b", "c"])
    );
    assert_eq!(Namespaces.held(&cluster), keys(&[("", "a"), ("", "c")]));
}

#[test]
fn services_and_ingresses_reach_their_own_namespace_while_held() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let service = object(json!({
        "metadata": {"name": "web", "namespace": "a"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}}
    }));
    assert_eq!(cluster.apply(&Services, &settings, &service), names(&["a"]));
    let ingress = object(json!({
        "metadata": {"name": "shop", "namespace": "b"},
        "spec": {"rules": [{"host": "shop.example.com"}]}
    }));
    assert_eq!(
        cluster.apply(&Ingresses, &settings, &ingress),
        names(&["b"])
    );
    let unknown = ("a".to_string(), "unknown".to_string());
    assert_eq!(
        cluster.delete(&Services, &settings, &unknown),
        Affected::Nothing,
        "forgetting what was never held changes nothing"
    );
    let shop = ("b".to_string(), "shop".to_string());
    assert_eq!(cluster.delete(&Ingresses, &settings, &shop), names(&["b"]));
}

#[test]
fn a_node_reaches_everyone_only_when_the_set_of_pod_cidrs_changes() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let node = |name: &str| {
        object(json!({"metadata": {"name": name}, "spec": {"podCIDR": "10.244.0.0/24"}}))
    };
    assert_eq!(cluster.apply(&Nodes, &settings, &node("n1")), Affected::All);
    // A second node with the same CIDR leaves the set as it is.
    assert_eq!(
        cluster.apply(&Nodes, &settings, &node("n2")),
        Affected::Nothing
    );
    assert_eq!(Nodes.held(&cluster), keys(&[("", "n1"), ("", "n2")]));
    let n1 = (String::new(), "n1".to_string());
    assert_eq!(cluster.delete(&Nodes, &settings, &n1), Affected::Nothing);
}

#[test]
fn layer_policies_and_peer_authentications_come_as_dynamic_objects() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let cnp = crate::layers::layer_kind("cilium.io", "CiliumNetworkPolicy").expect("a layer kind");
    let policy: DynamicObject = object(json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "deny", "namespace": "a"},
        "spec": {"endpointSelector": {}, "ingress": [{}]}
    }));
    assert_eq!(cluster.apply(&cnp, &settings, &policy), names(&["a"]));
    assert_eq!(cnp.held(&cluster), keys(&[("a", "deny")]));
    let peer_authentication: DynamicObject = object(json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "STRICT"}}
    }));
    assert_eq!(
        cluster.apply(&PeerAuthentications, &settings, &peer_authentication),
        Affected::All,
        "the mesh-wide policy decides every namespace"
    );
    let key = ("a".to_string(), "deny".to_string());
    assert_eq!(cluster.delete(&cnp, &settings, &key), names(&["a"]));
    assert!(cnp.held(&cluster).is_empty());
}

#[test]
fn a_relist_forgets_objects_deleted_while_unwatched_including_rejected_ones() {
    let settings = Settings::default();
    let mut cluster = tenants();
    for (namespace, name, labels) in [
        ("a", "kept", json!({})),
        ("a", "gone", json!({})),
        // Rejected (bad label value): held as a finding, and must go too.
        ("b", "bad", json!({"x": "not valid!"})),
    ] {
        cluster.apply(&Pods, &settings, &pod(namespace, name, labels));
    }
    assert_eq!(
        Pods.held(&cluster),
        keys(&[("a", "gone"), ("a", "kept"), ("b", "bad")])
    );
    assert_eq!(Pods.count(&cluster), 3);
    let relisted = cluster.reset(&Pods, &settings, &keys(&[("a", "kept")]));
    assert_eq!(
        relisted.removed,
        Vec::from_iter(keys(&[("a", "gone"), ("b", "bad")]))
    );
    assert_eq!(relisted.affected, names(&["a", "b", "c"]));
    assert_eq!(Pods.held(&cluster), keys(&[("a", "kept")]));
    // Other kinds keep what they hold.
    assert_eq!(NetworkPolicies.held(&cluster), keys(&[("c", "from-blue")]));
}

#[test]
fn a_relist_of_services_and_ingresses_forgets_rejected_ones_too() {
    let settings = Settings::default();
    let mut cluster = tenants();
    let services: [Service; 3] = [
        object(
            json!({"metadata": {"name": "lb", "namespace": "a"}, "spec": {"type": "LoadBalancer", "selector": {"app": "web"}}}),
        ),
        // A cluster-internal Service is held too: it can be an Ingress backend.
        object(
            json!({"metadata": {"name": "internal", "namespace": "a"}, "spec": {"selector": {"app": "web"}}}),
        ),
        object(json!({"metadata": {"name": "bad", "namespace": "b"}, "spec": {"type": "Nope"}})),
    ];
    for service in &services {
        cluster.apply(&Services, &settings, service);
    }
    assert_eq!(
        Services.held(&cluster),
        keys(&[("a", "internal"), ("a", "lb"), ("b", "bad")])
    );
    let relisted = cluster.reset(
        &Services,
        &settings,
        &keys(&[("a", "lb"), ("a", "internal")]),
    );
    assert_eq!(relisted.removed, Vec::from_iter(keys(&[("b", "bad")])));
    assert_eq!(relisted.affected, names(&["b"]));

    let bad_ingress = object(
        json!({"metadata": {"name": "bad", "namespace": "b"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {}}}}}),
    );
    cluster.apply(&Ingresses, &settings, &bad_ingress);
    assert_eq!(Ingresses.held(&cluster), keys(&[("b", "bad")]));
    let relisted = cluster.reset(&Ingresses, &settings, &BTreeSet::new());
    assert_eq!(relisted.removed.len(), 1);
    assert!(Ingresses.held(&cluster).is_empty());
}

#[test]
fn indexing_a_listed_object_gives_the_index_applying_it_gives() {
    let settings = Settings::default();
    let pods = [
        pod("a", "web", json!({"app": "web"})),
        pod("c", "db", json!({"app": "db"})),
        pod("a", "web", json!({"app": "web", "version": "2"})),
        object(json!({"metadata": {"name": "bad", "namespace": "b"},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 0}]}]}})),
    ];
    let (mut applied, mut indexed) = (tenants(), tenants());
    for pod in &pods {
        applied.apply(&Pods, &settings, pod);
        indexed.index(&Pods, &settings, pod);
    }
    indexed.index(&Namespaces, &settings, &namespace("d", "red"));
    applied.apply(&Namespaces, &settings, &namespace("d", "red"));
    assert_eq!(format!("{indexed:?}"), format!("{applied:?}"));
    assert!(
        indexed
            .namespace("b")
            .is_some_and(|b| !b.rejected.is_empty())
    );
}
