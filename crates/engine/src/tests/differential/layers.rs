//! The policy layers, brute force: random clusters of NetworkPolicies plus
//! AdminNetworkPolicies and ClusterNetworkPolicies (Admin and Baseline tier)
//! and either Calico GlobalNetworkPolicies or Cilium clusterwide policies,
//! decided by a reference written from the APIs' documentation alone and
//! compared with the engine on every connection.
//!
//! The reference, in the order the documentation gives:
//! - Admin tier (network-policy-api): the policies whose subject selects the
//!   pod, lowest priority first, each one's rules in order; the first
//!   matching rule decides (Allow/Accept, Deny), Pass goes on to the
//!   NetworkPolicy tier.
//! - NetworkPolicy tier, by CNI: with Calico, its policies and the
//!   NetworkPolicies (order 1000) by order, the first matching rule of a
//!   policy selecting the pod decides, Pass goes on to the Baseline tier,
//!   and a pod some policy selected is denied what none decided. With
//!   Cilium, a matching deny rule wins over every allow; otherwise any allow
//!   rule or NetworkPolicy rule admits; a pod selected by either is denied
//!   the rest. Without either, NetworkPolicy alone.
//! - Baseline tier: as the Admin tier, for what no earlier tier decided.
//! - Otherwise allowed.
//!
//! Priorities are unique within a tier here: the API leaves ties undefined
//! (the engine answers them "undetermined", tested elsewhere). Every pod has
//! an address, so `networks` peers are decided by address alone.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Pod;
use kube_core::{Selector, SelectorExt};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};

use super::generate::{self, ClusterShape, Objects};
use super::pod_ips::{refines, without_ips};
use super::reference::{IpBlocks, Party, Probe, Reference, Side};
use super::{config, connections, describe, index};
use crate::cluster::Cluster;
use crate::layers::{LayerPolicy, LayerSide, layer_kind};
use crate::model::{Direction, Labels, Protocol};
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};
use crate::tests::assumed_pod_cidrs;

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

// ---------------------------------------------------------------- shapes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cni {
    None,
    Calico,
    Cilium,
}

#[derive(Clone, Debug)]
enum Tiered {
    /// AdminNetworkPolicy (`v1alpha1`): Admin tier, Allow/Deny/Pass.
    Admin,
    /// ClusterNetworkPolicy (`v1alpha2`) of a tier: Accept/Deny/Pass.
    Cluster { baseline: bool },
}

#[derive(Clone, Debug)]
struct TieredShape {
    api: Tiered,
    priority: u16,
    /// `None`: every namespace; else a label both namespaces and pods may carry.
    subject_labels: Option<(&'static str, &'static str)>,
    subject_pods: bool,
    ingress: Vec<TieredRule>,
    egress: Vec<TieredRule>,
}

#[derive(Clone, Debug)]
struct TieredRule {
    action: usize,
    peers: Vec<TieredPeer>,
    ports: Vec<(Option<&'static str>, PortShape)>,
}

#[derive(Clone, Debug)]
enum TieredPeer {
    Namespaces(Option<(&'static str, &'static str)>),
    Pods(Option<(&'static str, &'static str)>),
    Networks(&'static str),
}

#[derive(Clone, Debug)]
enum PortShape {
    Number(u16),
    Range(u16, u16),
    Named(&'static str),
}

#[derive(Clone, Debug)]
struct CalicoShape {
    order: Option<u16>,
    selector: &'static str,
    namespace_selector: &'static str,
    types: Option<Vec<Direction>>,
    ingress: Vec<CalicoRule>,
    egress: Vec<CalicoRule>,
}

#[derive(Clone, Debug)]
struct CalicoRule {
    action: &'static str,
    protocol: Option<&'static str>,
    peer: CalicoPeer,
    ports: Vec<PortShape>,
}

#[derive(Clone, Debug)]
enum CalicoPeer {
    Any,
    Selector(&'static str),
    Nets(&'static str),
}

#[derive(Clone, Debug)]
struct CiliumShape {
    endpoint: Option<(&'static str, &'static str)>,
    /// `[ingress, ingressDeny, egress, egressDeny]`.
    sections: [Option<Vec<CiliumRule>>; 4],
}

#[derive(Clone, Debug)]
struct CiliumRule {
    peer: CiliumPeer,
    /// `(protocol, port)`: `None` every port.
    port: Option<(&'static str, u16)>,
}

#[derive(Clone, Debug)]
enum CiliumPeer {
    Endpoints(Option<(&'static str, &'static str)>),
    Cidr(&'static str),
    Entity(&'static str),
}

#[derive(Clone, Debug)]
pub struct LayeredShape {
    cluster: ClusterShape,
    cni: Cni,
    tiered: Vec<TieredShape>,
    calico: Vec<CalicoShape>,
    cilium: Vec<CiliumShape>,
}

const LABELS: &[(&str, &str)] = &[("app", "web"), ("env", "prod"), ("team", "blue")];
const CIDRS: &[&str] = &[
    "10.0.0.0/16",
    "10.0.1.0/24",
    "0.0.0.0/0",
    "8.8.8.0/24",
    "::/0",
];
const PRIORITIES: &[u16] = &[0, 3, 10, 20, 50, 999, 1000];
const NUMBERS: &[u16] = &[53, 80, 8080, 9090];
const RANGES: &[(u16, u16)] = &[(1, 1024), (8000, 8080)];
const NAMES: &[&str] = &["http", "dns", "metrics"];

fn maybe_label() -> impl Strategy<Value = Option<(&'static str, &'static str)>> {
    prop_oneof![1 => Just(None), 2 => select(LABELS).prop_map(Some)]
}

fn port_shape() -> impl Strategy<Value = PortShape> {
    prop_oneof![
        select(NUMBERS).prop_map(PortShape::Number),
        select(RANGES).prop_map(|(s, e)| PortShape::Range(s, e)),
        select(NAMES).prop_map(PortShape::Named),
    ]
}

fn tiered_rule(egress: bool, actions: usize) -> impl Strategy<Value = TieredRule> {
    let peer = prop_oneof![
        maybe_label().prop_map(TieredPeer::Namespaces),
        maybe_label().prop_map(TieredPeer::Pods),
        select(CIDRS).prop_map(TieredPeer::Networks),
    ]
    .prop_filter("ingress peers are pods only", move |p| {
        egress || !matches!(p, TieredPeer::Networks(_))
    });
    let protocol = select(&[None, Some("TCP"), Some("UDP")][..]);
    (
        0..actions,
        vec(peer, 1..=2),
        vec((protocol, port_shape()), 0..=2),
    )
        .prop_map(|(action, peers, ports)| TieredRule {
            action,
            peers,
            ports,
        })
        // The CRDs' CEL rule: no named port beside networks peers.
        .prop_filter("named ports only with pod peers", |r| {
            !(r.peers.iter().any(|p| matches!(p, TieredPeer::Networks(_)))
                && r.ports
                    .iter()
                    .any(|(_, p)| matches!(p, PortShape::Named(_))))
        })
}

fn tiered() -> impl Strategy<Value = TieredShape> {
    let api = prop_oneof![
        Just(Tiered::Admin),
        any::<bool>().prop_map(|baseline| Tiered::Cluster { baseline }),
    ];
    (
        api,
        select(PRIORITIES),
        maybe_label(),
        any::<bool>(),
        vec(tiered_rule(false, 3), 0..=2),
        vec(tiered_rule(true, 3), 0..=2),
    )
        .prop_map(
            |(api, priority, subject_labels, subject_pods, ingress, egress)| TieredShape {
                api,
                priority,
                subject_labels,
                subject_pods,
                ingress,
                egress,
            },
        )
}

const CALICO_SELECTORS: &[&str] = &["all()", "app == 'web'", "has(env)", "team != 'blue'"];
const CALICO_NAMESPACES: &[&str] = &["all()", "team == 'blue'", "env == 'prod'"];

fn calico_rule() -> impl Strategy<Value = CalicoRule> {
    let peer = prop_oneof![
        Just(CalicoPeer::Any),
        select(CALICO_SELECTORS).prop_map(CalicoPeer::Selector),
        select(CIDRS).prop_map(CalicoPeer::Nets),
    ];
    (
        select(&["Allow", "Deny", "Pass"][..]),
        select(&[None, Some("TCP"), Some("UDP")][..]),
        peer,
        vec(port_shape(), 0..=2),
    )
        .prop_map(|(action, protocol, peer, ports)| CalicoRule {
            action,
            protocol,
            // Calico takes ports only with a protocol.
            ports: if protocol.is_some() {
                ports
            } else {
                Vec::new()
            },
            peer,
        })
}

fn calico() -> impl Strategy<Value = CalicoShape> {
    let types = prop_oneof![
        Just(None),
        Just(Some(vec![Direction::Ingress])),
        Just(Some(vec![Direction::Egress])),
        Just(Some(vec![Direction::Ingress, Direction::Egress])),
    ];
    (
        // NetworkPolicies sit at 1000: no Calico policy shares it.
        select(&[None, Some(5), Some(500), Some(1500)][..]),
        select(CALICO_SELECTORS),
        select(CALICO_NAMESPACES),
        types,
        vec(calico_rule(), 0..=2),
        vec(calico_rule(), 0..=2),
    )
        .prop_map(
            |(order, selector, namespace_selector, types, ingress, egress)| CalicoShape {
                order,
                selector,
                namespace_selector,
                types,
                ingress,
                egress,
            },
        )
}

fn cilium_rule() -> impl Strategy<Value = CiliumRule> {
    let peer = prop_oneof![
        maybe_label().prop_map(CiliumPeer::Endpoints),
        select(&["10.0.0.0/16", "8.8.8.0/24", "0.0.0.0/0"][..]).prop_map(CiliumPeer::Cidr),
        select(&["world", "cluster", "all"][..]).prop_map(CiliumPeer::Entity),
    ];
    let port = prop_oneof![
        Just(None),
        (select(&["TCP", "UDP", "ANY"][..]), select(NUMBERS)).prop_map(Some),
    ];
    (peer, port).prop_map(|(peer, port)| CiliumRule { peer, port })
}

fn cilium() -> impl Strategy<Value = CiliumShape> {
    let section = prop_oneof![2 => Just(None), 3 => vec(cilium_rule(), 1..=2).prop_map(Some)];
    (
        maybe_label(),
        [section.clone(), section.clone(), section.clone(), section],
    )
        .prop_map(|(endpoint, sections)| CiliumShape { endpoint, sections })
}

fn layered() -> impl Strategy<Value = LayeredShape> {
    let cni = select(&[Cni::None, Cni::Calico, Cni::Cilium][..]);
    (
        generate::cluster(),
        cni,
        vec(tiered(), 0..=4),
        vec(calico(), 0..=3),
        vec(cilium(), 0..=3),
    )
        .prop_map(|(cluster, cni, tiered, calico, cilium)| LayeredShape {
            cluster,
            cni,
            tiered,
            calico: if cni == Cni::Calico {
                calico
            } else {
                Vec::new()
            },
            cilium: if cni == Cni::Cilium {
                cilium
            } else {
                Vec::new()
            },
        })
}

// ---------------------------------------------------------------- objects

/// The cluster's objects, with every pod given an address, and the layer
/// policies as their API objects.
struct Layered {
    objects: Objects,
    cni: Cni,
    layers: Vec<Value>,
}

fn label_selector(label: Option<(&str, &str)>) -> Value {
    match label {
        None => json!({}),
        Some((key, value)) => json!({"matchLabels": {key: value}}),
    }
}

fn tiered_port(v2: bool, protocol: Option<&str>, port: &PortShape) -> Value {
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

fn tiered_object(index: usize, shape: &TieredShape) -> Value {
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

fn calico_port(port: &PortShape) -> Value {
    match port {
        PortShape::Number(n) => json!(n),
        PortShape::Range(s, e) => json!(format!("{s}:{e}")),
        PortShape::Named(name) => json!(name),
    }
}

fn calico_object(index: usize, shape: &CalicoShape) -> Value {
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

const CILIUM_SECTIONS: [(&str, Direction, bool); 4] = [
    ("ingress", Direction::Ingress, false),
    ("ingressDeny", Direction::Ingress, true),
    ("egress", Direction::Egress, false),
    ("egressDeny", Direction::Egress, true),
];

fn cilium_object(index: usize, shape: &CiliumShape) -> Value {
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
    fn layered(&self) -> Layered {
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
    fn yaml(&self) -> String {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| serde_norway::to_string(l).expect("layers serialize"))
            .collect();
        format!("{}---\n{}", self.objects.yaml(), layers.join("---\n"))
    }
}

// ---------------------------------------------------------------- reference

struct Workload {
    namespace: String,
    labels: Labels,
    host_network: bool,
    addresses: Vec<IpAddr>,
    /// `(name, number, protocol)`.
    ports: Vec<(String, u16, String)>,
}

/// What a rule of any layer matches, read from its object.
#[derive(Debug)]
enum Matcher {
    /// Pods whose namespace labels and own labels match both selectors
    /// (never hostNetwork pods).
    Pods {
        namespaces: Option<Selector>,
        pods: Selector,
    },
    /// Calico selector text over pod labels, in any namespace.
    Calico(&'static str),
    /// Addresses, and pods holding one, in the CIDR.
    Network(IpNet),
    /// Addresses outside every pod only (Cilium CIDRs).
    Outside(Option<IpNet>),
    /// Every pod, hostNetwork ones too (Cilium's `cluster`).
    AnyPod,
    Anything,
}

struct RuleOf {
    /// 0 allow, 1 deny, 2 pass.
    action: usize,
    /// Empty: every peer.
    peers: Vec<Matcher>,
    /// `(protocol or None for any, port)`; empty: every port.
    ports: Vec<(Option<&'static str>, PortShape)>,
}

struct TieredPolicy {
    priority: u16,
    subject_namespaces: Option<Selector>,
    subject_pods: Selector,
    ingress: Vec<RuleOf>,
    egress: Vec<RuleOf>,
}

/// The layered reference: NetworkPolicy from [`Reference`], the layers here.
struct LayeredReference<'o> {
    network_policy: Reference,
    cni: Cni,
    namespaces: BTreeMap<String, Labels>,
    pods: Vec<Workload>,
    admin: Vec<TieredPolicy>,
    baseline: Vec<TieredPolicy>,
    calico: Vec<(&'o CalicoShape, String)>,
    cilium: &'o [CiliumShape],
}

fn selector(label: Option<(&str, &str)>) -> Selector {
    label
        .map(|(k, v)| Selector::from_iter([(k.to_string(), v.to_string())]))
        .unwrap_or_default()
}

/// Calico's selector language, for the expressions generated.
fn calico_matches(expression: &str, labels: &Labels) -> bool {
    if expression == "all()" {
        return true;
    }
    if let Some(key) = expression
        .strip_prefix("has(")
        .and_then(|e| e.strip_suffix(')'))
    {
        return labels.contains_key(key);
    }
    let (key, value, equal) = if let Some((k, v)) = expression.split_once(" != ") {
        (k, v, false)
    } else {
        let (k, v) = expression
            .split_once(" == ")
            .expect("generated selectors compare");
        (k, v, true)
    };
    let value = value.trim_matches('\'');
    (labels.get(key).map(String::as_str) == Some(value)) == equal
}

fn tiered_rules(rules: &[TieredRule]) -> Vec<RuleOf> {
    rules
        .iter()
        .map(|rule| RuleOf {
            action: rule.action,
            peers: rule
                .peers
                .iter()
                .map(|peer| match peer {
                    TieredPeer::Namespaces(l) => Matcher::Pods {
                        namespaces: Some(selector(*l)),
                        pods: Selector::default(),
                    },
                    TieredPeer::Pods(l) => Matcher::Pods {
                        namespaces: Some(Selector::default()),
                        pods: selector(*l),
                    },
                    TieredPeer::Networks(cidr) => Matcher::Network(cidr.parse().unwrap()),
                })
                .collect(),
            ports: rule
                .ports
                .iter()
                .map(|(protocol, port)| (Some(protocol.unwrap_or("TCP")), port.clone()))
                // Named ports hold for any protocol the container port has.
                .map(|(protocol, port)| match port {
                    PortShape::Named(_) => (None, port),
                    _ => (protocol, port),
                })
                .collect(),
        })
        .collect()
}

fn calico_rules(rules: &[CalicoRule]) -> Vec<RuleOf> {
    rules
        .iter()
        .map(|rule| RuleOf {
            action: ["Allow", "Deny", "Pass"]
                .iter()
                .position(|a| *a == rule.action)
                .unwrap(),
            peers: match rule.peer {
                CalicoPeer::Any => Vec::new(),
                CalicoPeer::Selector(s) => vec![Matcher::Calico(s)],
                CalicoPeer::Nets(cidr) => vec![Matcher::Network(cidr.parse().unwrap())],
            },
            ports: match (rule.protocol, rule.ports.as_slice()) {
                (Some(protocol), []) => vec![(Some(protocol), PortShape::Range(1, 65535))],
                (protocol, ports) => ports.iter().map(|p| (protocol, p.clone())).collect(),
            },
        })
        .collect()
}

fn cilium_rule_of(rule: &CiliumRule, deny: bool) -> RuleOf {
    RuleOf {
        action: usize::from(deny),
        peers: vec![match rule.peer {
            CiliumPeer::Endpoints(l) => Matcher::Pods {
                namespaces: None,
                pods: selector(l),
            },
            CiliumPeer::Cidr(cidr) => Matcher::Outside(Some(cidr.parse().unwrap())),
            CiliumPeer::Entity("world") => Matcher::Outside(None),
            CiliumPeer::Entity("cluster") => Matcher::AnyPod,
            CiliumPeer::Entity(_) => Matcher::Anything,
        }],
        ports: match rule.port {
            None => Vec::new(),
            Some(("ANY", port)) => vec![(None, PortShape::Number(port))],
            Some((protocol, port)) => vec![(Some(protocol), PortShape::Number(port))],
        },
    }
}

impl<'o> LayeredReference<'o> {
    fn new(layered: &Layered, shape: &'o LayeredShape) -> Self {
        let objects = &layered.objects;
        let network_policy = Reference::new(&objects.namespaces, &objects.pods, &objects.policies);
        let mut namespaces: BTreeMap<String, Labels> = BTreeMap::new();
        for namespace in &objects.namespaces {
            let name = namespace.metadata.name.clone().unwrap();
            let mut labels = namespace.metadata.labels.clone().unwrap_or_default();
            labels.insert(NAME_LABEL.into(), name.clone());
            namespaces.insert(name, labels);
        }
        let pods: Vec<Workload> = objects.pods.iter().map(workload).collect();
        for pod in &pods {
            namespaces
                .entry(pod.namespace.clone())
                .or_insert_with(|| Labels::from([(NAME_LABEL.into(), pod.namespace.clone())]));
        }
        let mut admin = Vec::new();
        let mut baseline = Vec::new();
        for written in &layered.layers {
            let Some(index) = written["metadata"]["name"]
                .as_str()
                .and_then(|n| n.strip_prefix("tiered-"))
            else {
                continue;
            };
            let shape = &shape.tiered[index.parse::<usize>().unwrap()];
            let policy = TieredPolicy {
                priority: shape.priority,
                subject_namespaces: (!shape.subject_pods).then(|| selector(shape.subject_labels)),
                subject_pods: if shape.subject_pods {
                    selector(shape.subject_labels)
                } else {
                    Selector::default()
                },
                ingress: tiered_rules(&shape.ingress),
                egress: tiered_rules(&shape.egress),
            };
            match shape.api {
                Tiered::Cluster { baseline: true } => baseline.push(policy),
                _ => admin.push(policy),
            }
        }
        // Lower priority first.
        admin.sort_by_key(|p| p.priority);
        baseline.sort_by_key(|p| p.priority);
        // Calico: by order (none last), then by name.
        let mut calico: Vec<(&CalicoShape, String)> = shape
            .calico
            .iter()
            .enumerate()
            .map(|(i, s)| (s, format!("calico-{i}")))
            .collect();
        calico.sort_by(|(a, an), (b, bn)| {
            (a.order.is_none(), a.order, an).cmp(&(b.order.is_none(), b.order, bn))
        });
        LayeredReference {
            network_policy,
            cni: layered.cni,
            namespaces,
            pods,
            admin,
            baseline,
            calico,
            cilium: &shape.cilium,
        }
    }

    fn allows(&self, from: Party, to: Party, probe: Probe, blocks: IpBlocks) -> bool {
        if let (Party::Pod(a), Party::Pod(b)) = (from, to)
            && a == b
        {
            return true;
        }
        self.side(from, Direction::Egress, to, probe, blocks)
            && self.side(to, Direction::Ingress, from, probe, blocks)
    }

    fn remote_matches(&self, peer: &Matcher, remote: Party) -> bool {
        match (peer, remote) {
            (Matcher::Anything, _) => true,
            (Matcher::Network(net), Party::Address(a)) => net.contains(&a),
            (Matcher::Network(net), Party::Pod(i)) => {
                self.pods[i].addresses.iter().any(|a| net.contains(a))
            }
            (Matcher::Outside(net), Party::Address(a)) => net.is_none_or(|n| n.contains(&a)),
            (Matcher::AnyPod, Party::Pod(_)) => true,
            (Matcher::Pods { namespaces, pods }, Party::Pod(i)) => {
                let pod = &self.pods[i];
                !pod.host_network
                    && namespaces
                        .as_ref()
                        .is_none_or(|n| n.matches(&self.namespaces[&pod.namespace]))
                    && pods.matches(&pod.labels)
            }
            (Matcher::Calico(expression), Party::Pod(i)) => {
                !self.pods[i].host_network && calico_matches(expression, &self.pods[i].labels)
            }
            _ => false,
        }
    }

    fn port_matches(
        &self,
        (protocol, port): &(Option<&str>, PortShape),
        probe: Probe,
        destination: Party,
    ) -> bool {
        if protocol.is_some_and(|p| p != probe.protocol) {
            return false;
        }
        match port {
            PortShape::Number(n) => *n == probe.port,
            PortShape::Range(s, e) => (*s..=*e).contains(&probe.port),
            PortShape::Named(name) => match destination {
                Party::Pod(i) => self.pods[i].ports.iter().any(|(n, number, protocol)| {
                    n == name && *number == probe.port && protocol == probe.protocol
                }),
                Party::Address(_) => false,
            },
        }
    }

    fn rule_matches(&self, rule: &RuleOf, side: Side, probe: Probe) -> bool {
        let destination = match side.direction {
            Direction::Ingress => side.local,
            Direction::Egress => side.remote,
        };
        (rule.peers.is_empty()
            || rule
                .peers
                .iter()
                .any(|p| self.remote_matches(p, side.remote)))
            && (rule.ports.is_empty()
                || rule
                    .ports
                    .iter()
                    .any(|p| self.port_matches(p, probe, destination)))
    }

    /// The first matching rule's action in a tier: `Some(true)` allow,
    /// `Some(false)` deny, `None` pass or nothing matched.
    fn tier(
        &self,
        policies: &[TieredPolicy],
        pod: usize,
        side: Side,
        probe: Probe,
    ) -> Option<bool> {
        let workload = &self.pods[pod];
        for policy in policies {
            let selected = policy
                .subject_namespaces
                .as_ref()
                .is_none_or(|n| n.matches(&self.namespaces[&workload.namespace]))
                && policy.subject_pods.matches(&workload.labels);
            if !selected {
                continue;
            }
            let rules = match side.direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            if let Some(rule) = rules.iter().find(|r| self.rule_matches(r, side, probe)) {
                return [Some(true), Some(false), None][rule.action];
            }
        }
        None
    }

    fn side(
        &self,
        local: Party,
        direction: Direction,
        remote: Party,
        probe: Probe,
        blocks: IpBlocks,
    ) -> bool {
        let Party::Pod(pod) = local else { return true };
        if self.pods[pod].host_network {
            return true;
        }
        let side = Side {
            local,
            direction,
            remote,
        };
        if let Some(decided) = self.tier(&self.admin, pod, side, probe) {
            return decided;
        }
        let isolated = self.network_policy.isolates(local, direction);
        let admitted = self.network_policy.side_allows(side, probe, blocks);
        let main = match self.cni {
            Cni::None => isolated.then_some(admitted),
            Cni::Calico => self.calico_tier(pod, side, probe, isolated, admitted),
            Cni::Cilium => self.cilium_tier(pod, side, probe, isolated, admitted),
        };
        match main {
            Some(decided) => decided,
            None => self.tier(&self.baseline, pod, side, probe).unwrap_or(true),
        }
    }

    /// Calico's default tier: its policies and the NetworkPolicies (order
    /// 1000) by order; `None` goes on to the Baseline tier.
    fn calico_tier(
        &self,
        pod: usize,
        side: Side,
        probe: Probe,
        isolated: bool,
        admitted: bool,
    ) -> Option<bool> {
        let workload = &self.pods[pod];
        let mut selected = false;
        let mut network_policy_done = false;
        for (policy, _) in &self.calico {
            if !network_policy_done && policy.order.is_none_or(|o| o > 1000) {
                network_policy_done = true;
                if isolated {
                    selected = true;
                    if admitted {
                        return Some(true);
                    }
                }
            }
            let types = policy.types.clone().unwrap_or_else(|| {
                let mut types = vec![Direction::Ingress];
                if !policy.egress.is_empty() {
                    types.push(Direction::Egress);
                }
                types
            });
            let applies = types.contains(&side.direction)
                && calico_matches(policy.selector, &workload.labels)
                && calico_matches(
                    policy.namespace_selector,
                    &self.namespaces[&workload.namespace],
                );
            if !applies {
                continue;
            }
            selected = true;
            let rules = calico_rules(match side.direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            });
            if let Some(rule) = rules.iter().find(|r| self.rule_matches(r, side, probe)) {
                return [Some(true), Some(false), None][rule.action];
            }
        }
        if !network_policy_done && isolated {
            selected = true;
            if admitted {
                return Some(true);
            }
        }
        selected.then_some(false)
    }

    /// Cilium: deny rules first, then any allow; `None` goes on to the
    /// Baseline tier when nothing selects the pod.
    fn cilium_tier(
        &self,
        pod: usize,
        side: Side,
        probe: Probe,
        isolated: bool,
        admitted: bool,
    ) -> Option<bool> {
        let workload = &self.pods[pod];
        let mut selected = isolated;
        let mut allowed = isolated && admitted;
        for policy in self.cilium {
            if !selector(policy.endpoint).matches(&workload.labels) {
                continue;
            }
            for ((_, direction, deny), rules) in CILIUM_SECTIONS.iter().zip(&policy.sections) {
                let Some(rules) = rules.as_ref().filter(|_| *direction == side.direction) else {
                    continue;
                };
                selected = true;
                for rule in rules {
                    if self.rule_matches(&cilium_rule_of(rule, *deny), side, probe) {
                        if *deny {
                            return Some(false);
                        }
                        allowed = true;
                    }
                }
            }
        }
        selected.then_some(allowed)
    }
}

fn workload(pod: &Pod) -> Workload {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    Workload {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        host_network: spec.host_network == Some(true),
        addresses: status
            .pod_ips
            .iter()
            .flatten()
            .map(|p| p.ip.parse().unwrap())
            .collect(),
        ports: spec
            .containers
            .iter()
            .chain(sidecars)
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                Some((
                    p.name.clone()?,
                    u16::try_from(p.container_port).ok()?,
                    p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ))
            })
            .collect(),
    }
}

// ---------------------------------------------------------------- engine

/// The engine's answer, asked as the Evaluator asks: the policies and layer
/// rules that apply to each end, then `reach::connection`.
struct LayeredEngine<'c> {
    pods: Vec<Endpoint<'c>>,
    policies: Vec<[Vec<&'c crate::model::Policy>; 2]>,
    sides: Vec<[LayerSide<'c>; 2]>,
}

fn slot(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'c> LayeredEngine<'c> {
    fn new(cluster: &'c Cluster, objects: &Objects) -> Self {
        let layers: Vec<&LayerPolicy> = cluster.layers().collect();
        let mut engine = LayeredEngine {
            pods: Vec::new(),
            policies: Vec::new(),
            sides: Vec::new(),
        };
        for pod in &objects.pods {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
            let (namespace, state) = cluster
                .namespaces()
                .find(|(n, _)| n.as_str() == namespace)
                .expect("the index holds every namespace");
            let pod = &state.pods[pod.metadata.name.as_deref().unwrap_or_default()];
            let end = Endpoint {
                namespace,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs: assumed_pod_cidrs(),
            };
            let applying: Vec<&LayerPolicy> = layers
                .iter()
                .copied()
                .filter(|l| l.may_apply_in(namespace, &state.labels))
                .collect();
            let both = [Direction::Ingress, Direction::Egress];
            engine
                .policies
                .push(both.map(|d| reach::selecting(state, pod, d)));
            engine.sides.push(
                both.map(|d| LayerSide::for_pod(&applying, namespace, &state.labels, pod, d)),
            );
            engine.pods.push(end);
        }
        engine
    }

    fn reach(&self, from: Party, to: Party, probe: Probe) -> Reach {
        let protocol = Protocol::parse(probe.protocol).expect("probes use valid protocols");
        let remote = |party: Party| match party {
            Party::Pod(i) => Remote::Pod(self.pods[i]),
            Party::Address(a) => Remote::Address(a),
        };
        let none = LayerSide::NONE;
        let (egress_policies, egress_side) = match from {
            Party::Pod(i) => (
                &self.policies[i][slot(Direction::Egress)][..],
                &self.sides[i][1],
            ),
            Party::Address(_) => (&[][..], &none),
        };
        let (ingress_policies, ingress_side) = match to {
            Party::Pod(i) => (
                &self.policies[i][slot(Direction::Ingress)][..],
                &self.sides[i][0],
            ),
            Party::Address(_) => (&[][..], &none),
        };
        let ends = LayerEnds {
            egress: egress_side,
            ingress: ingress_side,
        };
        match from {
            Party::Pod(i) => reach::connection(
                &self.pods[i],
                egress_policies,
                &remote(to),
                ingress_policies,
                &ends,
                protocol,
                probe.port,
            ),
            Party::Address(_) => {
                reach::explain_connection(
                    &remote(from),
                    egress_policies,
                    &remote(to),
                    ingress_policies,
                    &ends,
                    protocol,
                    probe.port,
                )
                .reach
            }
        }
    }
}

// ---------------------------------------------------------------- the test

fn layered_index(layered: &Layered) -> Cluster {
    let mut cluster = index(&layered.objects);
    for object in &layered.layers {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = layer_kind(group, object["kind"].as_str().unwrap_or_default())
            .expect("generated layers are of layer kinds");
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let policy = LayerPolicy::from_object(kind, None, name, object);
        assert!(
            policy.rejected.is_none() && policy.notes.is_empty(),
            "the generator wrote a policy the engine cannot take whole: {name}: {:?} {:?}",
            policy.rejected,
            policy.notes
        );
        cluster.apply_layer_policy(policy);
    }
    cluster
}

/// Rule 10's invariant on layered clusters: where the layered verdicts of
/// `layered` without pod IPs say more than, or the opposite of, those with
/// them (every generated address is inside the assumed pod CIDRs).
/// `checked` counts the connections compared.
fn pod_ip_contradictions(layered: &Layered, checked: &mut usize) -> Vec<String> {
    let stripped = Layered {
        objects: without_ips(&layered.objects),
        cni: layered.cni,
        layers: layered.layers.clone(),
    };
    let (with_ips, without) = (layered_index(layered), layered_index(&stripped));
    let engine_with = LayeredEngine::new(&with_ips, &layered.objects);
    let engine_without = LayeredEngine::new(&without, &stripped.objects);
    let mut found = Vec::new();
    for (from, to, probe) in connections(layered.objects.pods.len()) {
        let with = engine_with.reach(from, to, probe);
        let without = engine_without.reach(from, to, probe);
        *checked += 1;
        if !refines(without, with) {
            found.push(format!(
                "{} -> {} {}/{}: {without:?} without pod IPs, {with:?} with them",
                describe(&layered.objects, from),
                describe(&layered.objects, to),
                probe.protocol,
                probe.port
            ));
        }
    }
    found
}

#[test]
fn layered_verdicts_without_pod_ips_are_never_more_definite_than_with_them() {
    let mut runner = TestRunner::new(config(200));
    let checked = std::cell::Cell::new(0);
    let result = runner.run(&layered(), |shape| {
        let mut count = checked.get();
        let found = pod_ip_contradictions(&shape.layered(), &mut count);
        checked.set(count);
        match found.as_slice() {
            [] => Ok(()),
            found => Err(TestCaseError::fail(format!(
                "{} contradiction(s), the first ones:\n{}",
                found.len(),
                found[..found.len().min(8)].join("\n")
            ))),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, shape)) => panic!(
            "{reason}\n--- minimal cluster ---\n{}",
            shape.layered().yaml()
        ),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
    assert!(
        checked.get() > 0,
        "the generated clusters had no connection to compare"
    );
}

/// How many answers of each kind the engine gave: `[Denied, CniDependent, Allowed]`.
type Tally = [usize; 3];

fn compare(shape: &LayeredShape, tally: &mut Tally) -> Vec<String> {
    let layered = shape.layered();
    let cluster = layered_index(&layered);
    let engine = LayeredEngine::new(&cluster, &layered.objects);
    let reference = LayeredReference::new(&layered, shape);
    let mut found = Vec::new();
    for (from, to, probe) in connections(layered.objects.pods.len()) {
        let answer = engine.reach(from, to, probe);
        match answer {
            Reach::Denied => tally[0] += 1,
            Reach::CniDependent => tally[1] += 1,
            Reach::Allowed => tally[2] += 1,
            Reach::Undetermined => {}
        }
        let calico = reference.allows(from, to, probe, IpBlocks::MatchPodAddresses);
        let cilium = reference.allows(from, to, probe, IpBlocks::IgnorePodAddresses);
        let wanted = match (calico, cilium) {
            (true, true) => Reach::Allowed,
            (false, false) => Reach::Denied,
            _ => Reach::CniDependent,
        };
        if answer != wanted {
            found.push(format!(
                "{} -> {} {}/{}: engine {answer:?}, reference {wanted:?}",
                describe(&layered.objects, from),
                describe(&layered.objects, to),
                probe.protocol,
                probe.port
            ));
        }
    }
    found
}

#[test]
fn engine_and_layered_reference_agree_on_every_connection() {
    let mut runner = TestRunner::new(config(300));
    let tally = std::cell::Cell::new(Tally::default());
    let result = runner.run(&layered(), |shape| {
        let mut counts = tally.get();
        let found = compare(&shape, &mut counts);
        tally.set(counts);
        match found.as_slice() {
            [] => Ok(()),
            found => Err(TestCaseError::fail(format!(
                "{} disagreement(s), the first ones:\n{}",
                found.len(),
                found[..found.len().min(8)].join("\n")
            ))),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, shape)) => panic!(
            "{reason}\n--- minimal cluster ---\n{}",
            shape.layered().yaml()
        ),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
    let [denied, cni_dependent, allowed] = tally.get();
    let total = denied + cni_dependent + allowed;
    eprintln!(
        "layered connections checked: {total} (denied {denied}, CNI-dependent {cni_dependent}, allowed {allowed})"
    );
    assert!(total > 0, "no connection was checked (PROPTEST_CASES=0?)");
    // The generator must produce every answer often enough to test it.
    for (count, answer) in [
        (denied, "denied"),
        (allowed, "allowed"),
        (cni_dependent, "CNI-dependent"),
    ] {
        assert!(
            count * 1000 >= total,
            "only {count} of {total} connections were {answer}: the generator no longer exercises it"
        );
    }
}
