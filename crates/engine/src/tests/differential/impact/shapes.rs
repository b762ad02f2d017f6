//! Random shapes of the objects besides pods and NetworkPolicies that a
//! change may put or delete: Calico policies, PeerAuthentications, tiered
//! layer policies and Ingresses, and how each is applied.

use super::*;

/// A Calico NetworkPolicy `calico` in a generated namespace, selecting all
/// its pods, with one Deny or Allow rule whose peer is the namespaces with
/// a generated label.
#[derive(Clone, Debug)]
pub(crate) struct CalicoShape {
    pub(crate) namespace: Index,
    pub(crate) egress: bool,
    pub(crate) deny: bool,
    pub(crate) peer: Index,
}

pub(crate) fn calico_shape() -> impl Strategy<Value = CalicoShape> {
    (any::<Index>(), any::<bool>(), any::<bool>(), any::<Index>()).prop_map(
        |(namespace, egress, deny, peer)| CalicoShape {
            namespace,
            egress,
            deny,
            peer,
        },
    )
}

pub(crate) fn calico(shape: &CalicoShape) -> (String, serde_json::Value) {
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
pub(crate) fn apply_calico(
    cluster: &mut Cluster,
    settings: &Settings,
    shape: &CalicoShape,
) -> Affected {
    let (_, object) = calico(shape);
    let kind = layer_kind("crd.projectcalico.org", "NetworkPolicy").expect("a layer kind");
    cluster.apply(&kind, settings, &dynamic(object))
}

/// A PeerAuthentication `pa` in a generated namespace or Istio's root one,
/// for the whole namespace or the pods with a generated label, beside
/// another sign of Istio or none.
#[derive(Clone, Debug)]
pub(crate) struct PeerAuthenticationShape {
    pub(crate) namespace: Index,
    pub(crate) selector: Option<Index>,
    pub(crate) mode: Index,
    pub(crate) other: Option<OtherSignal>,
}

/// Another sign of Istio, in place first, so the PeerAuthentication is not the only one.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OtherSignal {
    /// A second PeerAuthentication (`base`, namespace-wide in `ns-a`).
    PeerAuthentication,
    /// An istiod pod in Istio's root namespace.
    ControlPlane,
}

pub(crate) fn other_signal() -> impl Strategy<Value = Option<OtherSignal>> {
    proptest::option::of(prop_oneof![
        Just(OtherSignal::PeerAuthentication),
        Just(OtherSignal::ControlPlane)
    ])
}

pub(crate) const PEER_AUTHENTICATION_NAMESPACES: [&str; 5] =
    ["ns-a", "ns-b", "ns-c", "ns-d", "istio-system"];

pub(crate) const MTLS_MODES: [&str; 3] = ["STRICT", "PERMISSIVE", "DISABLE"];

pub(crate) fn peer_authentication_shape() -> impl Strategy<Value = PeerAuthenticationShape> {
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

pub(crate) fn peer_authentication(shape: &PeerAuthenticationShape) -> serde_json::Value {
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
pub(crate) fn apply_peer_authentication(
    cluster: &mut Cluster,
    settings: &Settings,
    object: &serde_json::Value,
) -> Affected {
    cluster.apply(&PeerAuthentications, settings, &dynamic(object.clone()))
}

/// An object of another project's API as a watch delivers it.
pub(crate) fn dynamic(object: serde_json::Value) -> kube_core::DynamicObject {
    serde_json::from_value(object).expect("a valid object")
}

/// An AdminNetworkPolicy, or the BaselineAdminNetworkPolicy, with a subject
/// selecting namespaces or pods by a generated label and one Deny or Allow
/// rule to (or from) the namespaces with a generated label.
#[derive(Clone, Debug)]
pub(crate) struct LayerShape {
    pub(crate) baseline: bool,
    pub(crate) subject_pods: bool,
    pub(crate) subject: Index,
    pub(crate) egress: bool,
    pub(crate) deny: bool,
    pub(crate) peer: Index,
}

pub(crate) fn layer_shape() -> impl Strategy<Value = LayerShape> {
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
pub(crate) fn layer(shape: &LayerShape) -> (&'static str, serde_json::Value) {
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
pub(crate) fn apply_layer(
    cluster: &mut Cluster,
    settings: &Settings,
    shape: &LayerShape,
) -> Affected {
    let (kind, object) = layer(shape);
    let kind = layer_kind("policy.networking.k8s.io", kind).expect("a layer kind");
    cluster.apply(&kind, settings, &dynamic(object))
}

/// An Ingress in the namespace of a pod of the other cluster, routing one
/// host to a Service `web` selecting that pod's labels; the Service is
/// there (ClusterIP) only when `service` says so.
#[derive(Clone, Debug)]
pub(crate) struct IngressShape {
    pub(crate) pod: Index,
    pub(crate) host: usize,
    pub(crate) tls: bool,
    pub(crate) service: bool,
}

pub(crate) const INGRESS_HOSTS: [&str; 2] = ["shop.example.com", "api.example.com"];

pub(crate) fn ingress_shape() -> impl Strategy<Value = IngressShape> {
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
