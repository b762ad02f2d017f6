//! The API objects a layered shape becomes: tiered policies, Calico
//! GlobalNetworkPolicies and Cilium clusterwide policies.

use super::*;

/// The cluster's objects, with every pod given an address, and the layer
/// policies as their API objects.
pub(super) struct Layered {
    pub(super) objects: Objects,
    pub(super) cni: Cni,
    pub(super) layers: Vec<Value>,
}

pub(super) fn label_selector(label: Option<(&str, &str)>) -> Value {
    match label {
        None => json!({}),
        Some((key, value)) => json!({"matchLabels": {key: value}}),
    }
}

pub(super) fn tiered_port(v2: bool, protocol: Option<&str>, port: &PortShape) -> Value {
    let protocol = protocol.unwrap_or("TCP");
    match (v2, port) {
        (false, PortShape::Named(name)) => json!({"namedPort": name}),
        (false, PortShape::Number(n)) => json!({"portNumber": {"protocol": protocol, "port": n}}),
        (false, PortShape::Range(s, e)) => {
            json!({"portRange": {"protocol": protocol, "start": s, "end": e}})
        }
        (true, PortShape::Named(name)) => json!({"destinationNamedPort": name}),
        (true, PortShape::Number(n)) => {
            json!({protocol.to_ascii_lowercase(): {"destinationPort": {"number": n}}})
        }
        (true, PortShape::Range(s, e)) => {
            json!({protocol.to_ascii_lowercase(): {"destinationPort": {"range": {"start": s, "end": e}}}})
        }
    }
}

pub(super) fn tiered_object(index: usize, shape: &TieredShape) -> Value {
    let (kind, api_version, v2, actions) = match shape.api {
        Tiered::Admin => (
            "AdminNetworkPolicy",
            "v1alpha1",
            false,
            ["Allow", "Deny", "Pass"],
        ),
        Tiered::Cluster { .. } => (
            "ClusterNetworkPolicy",
            "v1alpha2",
            true,
            ["Accept", "Deny", "Pass"],
        ),
    };
    let subject = if shape.subject_pods {
        json!({"pods": {"namespaceSelector": {}, "podSelector": label_selector(shape.subject_labels)}})
    } else {
        json!({"namespaces": label_selector(shape.subject_labels)})
    };
    let rules = |rules: &[TieredRule], peers_key: &str| -> Value {
        rules
            .iter()
            .map(|rule| {
                let peers: Vec<Value> = rule
                    .peers
                    .iter()
                    .map(|peer| match peer {
                        TieredPeer::Namespaces(l) => json!({"namespaces": label_selector(*l)}),
                        TieredPeer::Pods(l) => json!({"pods": {"namespaceSelector": {}, "podSelector": label_selector(*l)}}),
                        TieredPeer::Networks(cidr) => json!({"networks": [cidr]}),
                    })
                    .collect();
                let mut written = json!({"action": actions[rule.action], peers_key: peers});
                if !rule.ports.is_empty() {
                    let ports: Vec<Value> = rule
                        .ports
                        .iter()
                        .map(|(protocol, port)| tiered_port(v2, *protocol, port))
                        .collect();
                    written[if v2 { "protocols" } else { "ports" }] = json!(ports);
                }
                written
            })
            .collect()
    };
    let mut spec = json!({"priority": shape.priority, "subject": subject});
    if let Tiered::Cluster { baseline } = shape.api {
        spec["tier"] = json!(if baseline { "Baseline" } else { "Admin" });
    }
    if !shape.ingress.is_empty() {
        spec["ingress"] = rules(&shape.ingress, "from");
    }
    if !shape.egress.is_empty() {
        spec["egress"] = rules(&shape.egress, "to");
    }
    json!({
        "apiVersion": format!("policy.networking.k8s.io/{api_version}"),
        "kind": kind,
        "metadata": {"name": format!("tiered-{index}")},
        "spec": spec,
    })
}

pub(super) fn calico_port(port: &PortShape) -> Value {
    match port {
        PortShape::Number(n) => json!(n),
        PortShape::Range(s, e) => json!(format!("{s}:{e}")),
        PortShape::Named(name) => json!(name),
    }
}

pub(super) fn calico_object(index: usize, shape: &CalicoShape) -> Value {
    let rules = |rules: &[CalicoRule], peer_key: &str| -> Value {
        rules
            .iter()
            .map(|rule| {
                let mut written = json!({"action": rule.action});
                if let Some(protocol) = rule.protocol {
                    written["protocol"] = json!(protocol);
                }
                match rule.peer {
                    CalicoPeer::Any => {}
                    CalicoPeer::Selector(selector) => {
                        written[peer_key] = json!({"selector": selector});
                    }
                    CalicoPeer::Nets(cidr) => written[peer_key] = json!({"nets": [cidr]}),
                }
                if !rule.ports.is_empty() {
                    let ports: Vec<Value> = rule.ports.iter().map(calico_port).collect();
                    written["destination"]["ports"] = json!(ports);
                }
                written
            })
            .collect()
    };
    let mut spec = json!({
        "selector": shape.selector,
        "namespaceSelector": shape.namespace_selector,
        "ingress": rules(&shape.ingress, "source"),
        "egress": rules(&shape.egress, "destination"),
    });
    if let Some(order) = shape.order {
        spec["order"] = json!(order);
    }
    if let Some(types) = &shape.types {
        let types: Vec<String> = types
            .iter()
            .map(|d| match d {
                Direction::Ingress => "Ingress".to_string(),
                Direction::Egress => "Egress".to_string(),
            })
            .collect();
        spec["types"] = json!(types);
    }
    json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": format!("calico-{index}")},
        "spec": spec,
    })
}

pub(super) const CILIUM_SECTIONS: [(&str, Direction, bool); 4] = [
    ("ingress", Direction::Ingress, false),
    ("ingressDeny", Direction::Ingress, true),
    ("egress", Direction::Egress, false),
    ("egressDeny", Direction::Egress, true),
];

pub(super) fn cilium_object(index: usize, shape: &CiliumShape) -> Value {
    let mut spec = json!({"endpointSelector": label_selector(shape.endpoint)});
    for ((key, direction, _), rules) in CILIUM_SECTIONS.iter().zip(&shape.sections) {
        let Some(rules) = rules else { continue };
        let prefix = match direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        let rules: Vec<Value> = rules
            .iter()
            .map(|rule| {
                let mut written = match rule.peer {
                    CiliumPeer::Endpoints(l) => {
                        json!({format!("{prefix}Endpoints"): [label_selector(l)]})
                    }
                    CiliumPeer::Cidr(cidr) => json!({format!("{prefix}CIDR"): [cidr]}),
                    CiliumPeer::Entity(entity) => json!({format!("{prefix}Entities"): [entity]}),
                };
                if let Some((protocol, port)) = rule.port {
                    written["toPorts"] =
                        json!([{"ports": [{"port": port.to_string(), "protocol": protocol}]}]);
                }
                written
            })
            .collect();
        spec[*key] = json!(rules);
    }
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": format!("cilium-{index}")},
        "spec": spec,
    })
}

impl LayeredShape {
    pub(super) fn layered(&self) -> Layered {
        let mut objects = self.cluster.objects();
        for (serial, pod) in objects.pods.iter_mut().enumerate() {
            let status = pod.status.get_or_insert_with(Default::default);
            if status.pod_ip.is_none() {
                let ip = format!("10.0.9.{}", serial + 1);
                status.pod_ip = Some(ip.clone());
                status.pod_ips = Some(vec![k8s_openapi::api::core::v1::PodIP { ip }]);
            }
        }
        // One policy per priority and tier: ties are undefined by the API.
        let mut taken = Vec::new();
        let mut layers = Vec::new();
        for (index, shape) in self.tiered.iter().enumerate() {
            let baseline = matches!(shape.api, Tiered::Cluster { baseline: true });
            if taken.contains(&(baseline, shape.priority)) {
                continue;
            }
            taken.push((baseline, shape.priority));
            layers.push(tiered_object(index, shape));
        }
        layers.extend(
            self.calico
                .iter()
                .enumerate()
                .map(|(i, s)| calico_object(i, s)),
        );
        layers.extend(
            self.cilium
                .iter()
                .enumerate()
                .map(|(i, s)| cilium_object(i, s)),
        );
        Layered {
            objects,
            cni: self.cni,
            layers,
        }
    }
}

impl Layered {
    pub(super) fn yaml(&self) -> String {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| serde_norway::to_string(l).expect("layers serialize"))
            .collect();
        format!("{}---\n{}", self.objects.yaml(), layers.join("---\n"))
    }
}
