//! The API objects a cluster shape becomes (Namespaces, Pods,
//! NetworkPolicies, as YAML for the index), and the ports and addresses at
//! the edges of its rules, where answers change.

use super::*;

/// The objects of a cluster, as the API server would store them.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
}

impl Objects {
    /// Multi-document YAML, Namespaces first, as the fixtures in tests/ are written.
    pub fn yaml(&self) -> String {
        fn document(object: &impl Serialize) -> String {
            serde_norway::to_string(object).expect("objects serialize")
        }
        let documents: Vec<String> = self
            .namespaces
            .iter()
            .map(document)
            .chain(self.pods.iter().map(document))
            .chain(self.policies.iter().map(document))
            .collect();
        documents.join("---\n")
    }

    /// Reads multi-document YAML of Namespaces, Pods and NetworkPolicies.
    pub fn from_yaml(yaml: &str) -> Self {
        use serde::Deserialize;
        let mut objects = Objects::default();
        for document in serde_norway::Deserializer::from_str(yaml) {
            let value = Value::deserialize(document).expect("fixture is valid YAML");
            match value["kind"].as_str() {
                Some("Namespace") => objects.namespaces.push(decode(value)),
                Some("Pod") => objects.pods.push(decode(value)),
                Some("NetworkPolicy") => objects.policies.push(decode(value)),
                other => panic!("fixture kind {other:?} is not handled"),
            }
        }
        objects
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("generated objects match their schema")
}

pub(crate) fn labels_json(labels: &[(&str, &str)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

pub(super) fn selector_json(shape: &SelectorShape) -> Value {
    let mut selector = Map::new();
    if !shape.labels.is_empty() {
        selector.insert("matchLabels".into(), labels_json(&shape.labels));
    }
    if !shape.expressions.is_empty() {
        let expressions = shape
            .expressions
            .iter()
            .map(|e| {
                let mut requirement = json!({"key": e.key, "operator": e.operator});
                if !e.values.is_empty() {
                    requirement["values"] = json!(e.values);
                }
                requirement
            })
            .collect();
        selector.insert("matchExpressions".into(), Value::Array(expressions));
    }
    Value::Object(selector)
}

pub(super) fn peer_json(shape: &PeerShape) -> Value {
    match shape {
        PeerShape::Pods(pods) => json!({"podSelector": selector_json(pods)}),
        PeerShape::Namespaces(namespaces) => {
            json!({"namespaceSelector": selector_json(namespaces)})
        }
        PeerShape::Both { namespaces, pods } => json!({
            "namespaceSelector": selector_json(namespaces),
            "podSelector": selector_json(pods),
        }),
        PeerShape::Block(cidr, []) => json!({"ipBlock": {"cidr": cidr}}),
        PeerShape::Block(cidr, except) => json!({"ipBlock": {"cidr": cidr, "except": except}}),
    }
}

pub(super) fn port_json(shape: &PortShape) -> Value {
    let mut port = Map::new();
    if let Some(protocol) = shape.protocol {
        port.insert("protocol".into(), json!(protocol));
    }
    match shape.port {
        PortValue::Absent => {}
        PortValue::Number(number) => {
            port.insert("port".into(), json!(number));
        }
        PortValue::Range(start, end) => {
            port.insert("port".into(), json!(start));
            port.insert("endPort".into(), json!(end));
        }
        PortValue::Named(name) => {
            port.insert("port".into(), json!(name));
        }
    }
    Value::Object(port)
}

pub(super) fn rules_json(rules: &[RuleShape], peers_field: &str) -> Value {
    let rules = rules
        .iter()
        .map(|rule| {
            let mut written = Map::new();
            if let Some(peers) = &rule.peers {
                written.insert(peers_field.into(), peers.iter().map(peer_json).collect());
            }
            if let Some(ports) = &rule.ports {
                written.insert("ports".into(), ports.iter().map(port_json).collect());
            }
            Value::Object(written)
        })
        .collect();
    Value::Array(rules)
}

impl ClusterShape {
    pub fn objects(&self) -> Objects {
        let mut objects = Objects::default();
        // Numbers every pod of the cluster, so that addresses are unique.
        let mut serial = 0usize;
        for (namespace, shape) in NAMESPACE_NAMES.iter().zip(&self.namespaces) {
            let mut labels = labels_json(&shape.labels);
            if shape.name_label {
                labels["kubernetes.io/metadata.name"] = json!(namespace);
            }
            if shape.declared {
                objects.namespaces.push(decode(json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": labels},
                })));
            }
            for (index, pod) in shape.pods.iter().enumerate() {
                serial += 1;
                objects.pods.push(pod_object(namespace, index, serial, pod));
            }
            for (index, policy) in shape.policies.iter().enumerate() {
                objects
                    .policies
                    .push(policy_object(namespace, index, policy));
            }
        }
        objects
    }
}

pub(super) fn pod_object(namespace: &str, index: usize, serial: usize, shape: &PodShape) -> Pod {
    let mut main = Vec::new();
    let mut sidecar = Vec::new();
    for &p in &shape.ports {
        let (name, number, protocol) = CONTAINER_PORTS[p];
        let mut port = json!({"containerPort": number});
        if let Some(name) = name {
            port["name"] = json!(name);
        }
        // Leaving TCP out half of the time exercises the defaulting.
        if protocol != "TCP" || serial.is_multiple_of(2) {
            port["protocol"] = json!(protocol);
        }
        if name == Some("metrics") && protocol == "UDP" {
            sidecar.push(port);
        } else {
            main.push(port);
        }
    }
    let mut spec = json!({"containers": [{"name": "main", "image": "app", "ports": main}]});
    if !sidecar.is_empty() {
        let sidecar = json!({"name": "sidecar", "image": "exporter", "ports": sidecar});
        if shape.native_sidecar {
            let mut sidecar = sidecar;
            sidecar["restartPolicy"] = json!("Always");
            spec["initContainers"] = json!([sidecar]);
        } else {
            spec["containers"]
                .as_array_mut()
                .expect("containers is a list")
                .push(sidecar);
        }
    }
    // A hostNetwork pod always has an address: its node's.
    let ip = if shape.host_network {
        spec["hostNetwork"] = json!(true);
        Some(format!("192.168.0.{serial}"))
    } else {
        match shape.address {
            Address::None => None,
            Address::V4 => Some(format!("10.0.{}.{}", serial % 3, serial)),
            Address::V6 => Some(format!("fd00::{serial:x}")),
        }
    };
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{index}"), "namespace": namespace, "labels": labels_json(&shape.labels)},
        "spec": spec,
    });
    if let Some(ip) = ip {
        pod["status"] = json!({"podIP": ip, "podIPs": [{"ip": ip}]});
    }
    decode(pod)
}

pub(super) fn policy_object(namespace: &str, index: usize, shape: &PolicyShape) -> NetworkPolicy {
    let mut spec = Map::new();
    if let Some(selector) = &shape.pod_selector {
        spec.insert("podSelector".into(), selector_json(selector));
    }
    if let Some(types) = &shape.policy_types {
        spec.insert("policyTypes".into(), json!(types));
    }
    if let Some(ingress) = &shape.ingress {
        spec.insert("ingress".into(), rules_json(ingress, "from"));
    }
    if let Some(egress) = &shape.egress {
        spec.insert("egress".into(), rules_json(egress, "to"));
    }
    decode(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": format!("policy-{index}"), "namespace": namespace},
        "spec": spec,
    }))
}

/// The pod a namespace gets next: no labels, no ports, no address yet.
pub fn unlabelled_pod(namespace: &str, name: &str) -> Pod {
    decode(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "main", "image": "app"}]},
    }))
}

/// Ports on which any union of the generated port entries changes: every
/// number the generator writes, with its neighbours, and both ends of the
/// range. Checking these decides "every port" exactly for generated policies.
pub fn boundary_ports() -> Vec<u16> {
    let written = PORT_NUMBERS
        .iter()
        .copied()
        .chain(PORT_RANGES.iter().flat_map(|(start, end)| [*start, *end]))
        .chain([32767, 32768])
        .chain(CONTAINER_PORTS.iter().map(|(_, number, _)| *number));
    let mut ports: Vec<u16> = written
        .flat_map(|p| [p.saturating_sub(1).max(1), p, p.saturating_add(1)])
        .chain([1, 65535])
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Addresses on which any union of the generated ipBlocks changes: the
/// first and last address of every cidr and except, and the addresses just
/// outside them. Checking these decides "every address" exactly.
pub fn boundary_addresses() -> Vec<std::net::IpAddr> {
    use ipnet::IpNet;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let nets = IP_BLOCKS
        .iter()
        .flat_map(|(cidr, except)| std::iter::once(cidr).chain(except.iter()))
        .map(|net| net.parse::<IpNet>().expect("valid CIDR"));
    let mut addresses = Vec::new();
    for net in nets {
        match net {
            IpNet::V4(v4) => {
                let (first, last) = (u32::from(v4.network()), u32::from(v4.broadcast()));
                let around = [
                    first.checked_sub(1),
                    Some(first),
                    Some(last),
                    last.checked_add(1),
                ];
                addresses.extend(
                    around
                        .into_iter()
                        .flatten()
                        .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                );
            }
            IpNet::V6(v6) => {
                let (first, last) = (u128::from(v6.network()), u128::from(v6.broadcast()));
                let around = [
                    first.checked_sub(1),
                    Some(first),
                    Some(last),
                    last.checked_add(1),
                ];
                addresses.extend(
                    around
                        .into_iter()
                        .flatten()
                        .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                );
            }
        }
    }
    // Both families' ends, in case no block reaches them.
    addresses.extend([
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    ]);
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}
