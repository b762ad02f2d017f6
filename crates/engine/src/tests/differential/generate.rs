//! Random clusters for the differential tests, as proptest strategies so that
//! a failure shrinks to a small cluster. Sizes stay small enough that every
//! pair of endpoints can be checked; labels, ports and addresses come from
//! small vocabularies so that selectors, named ports and ipBlocks hit often.
//! Every object generated is one the API server accepts: rejection is tested
//! elsewhere, and a rejected object would be invisible to the reference.

mod objects;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
pub(crate) use objects::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub const NAMESPACE_NAMES: [&str; 4] = ["ns-a", "ns-b", "ns-c", "ns-d"];

pub(super) const POD_LABELS: &[(&str, &str)] = &[
    ("app", "web"),
    ("app", "api"),
    ("app", "db"),
    ("tier", "front"),
    ("tier", "back"),
    ("env", "prod"),
    ("env", "dev"),
];

pub(super) const NAMESPACE_LABELS: &[(&str, &str)] = &[
    ("team", "blue"),
    ("team", "red"),
    ("env", "prod"),
    ("env", "dev"),
    ("zone", "east"),
];

/// Namespace selectors also name namespaces by the label the API server sets,
/// which the generated Namespace objects carry only sometimes (rule 12).
const NAMESPACE_SELECTOR_LABELS: &[(&str, &str)] = &[
    ("team", "blue"),
    ("team", "red"),
    ("env", "prod"),
    ("env", "dev"),
    ("zone", "east"),
    ("kubernetes.io/metadata.name", "ns-a"),
    ("kubernetes.io/metadata.name", "ns-b"),
];

const OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

/// Container ports a pod may declare: `(name, port, protocol)`. `metrics`
/// exists for TCP and for UDP (in different containers, as the API server
/// requires names to be unique per container) so protocol must decide.
pub const CONTAINER_PORTS: [(Option<&str>, u16, &str); 8] = [
    (Some("http"), 8080, "TCP"),
    (Some("dns"), 53, "UDP"),
    (Some("dns-tcp"), 53, "TCP"),
    (Some("metrics"), 9090, "TCP"),
    (Some("metrics"), 9091, "UDP"),
    (Some("grpc"), 50051, "TCP"),
    (None, 80, "TCP"),
    (Some("diameter"), 3868, "SCTP"),
];

const PORT_NUMBERS: [u16; 8] = [53, 80, 443, 3868, 8080, 9090, 9091, 50051];
const PORT_RANGES: [(u16, u16); 5] = [
    (1, 1024),
    (8000, 8080),
    (9090, 9091),
    (53, 53),
    (50000, 60000),
];
/// `admin` is declared by no pod: a rule naming it allows nothing (rule 15).
const PORT_NAMES: [&str; 7] = [
    "http", "dns", "dns-tcp", "metrics", "grpc", "diameter", "admin",
];

/// `(cidr, except)`, each valid: the excepts are strict subsets of the cidr.
/// Pod addresses are 10.0.{0,1,2}.x, fd00::x and (hostNetwork) 192.168.0.x.
const IP_BLOCKS: &[(&str, &[&str])] = &[
    ("10.0.0.0/16", &[]),
    ("10.0.0.0/16", &["10.0.1.0/24"]),
    ("10.0.1.0/24", &[]),
    ("10.0.0.0/8", &["10.0.0.0/24", "10.0.2.0/24"]),
    // Host bits set: the API server accepts it and means the /24.
    ("10.0.2.7/24", &["10.0.2.128/25"]),
    ("10.0.0.3/32", &[]),
    ("0.0.0.0/0", &[]),
    ("0.0.0.0/0", &["10.0.0.0/8"]),
    ("0.0.0.0/0", &["10.0.0.0/8", "8.8.8.0/24"]),
    ("8.8.8.0/24", &[]),
    ("192.168.0.0/16", &[]),
    ("::/0", &[]),
    ("::/0", &["fd00::/8"]),
    ("2001:db8::/32", &["2001:db8::/64"]),
    ("fd00::/64", &[]),
];

#[derive(Clone, Debug)]
pub struct ClusterShape {
    pub namespaces: Vec<NamespaceShape>,
}

#[derive(Clone, Debug)]
pub struct NamespaceShape {
    labels: Vec<(&'static str, &'static str)>,
    /// Whether a Namespace object exists: offline manifests may have none,
    /// and then only the name label can select the namespace.
    declared: bool,
    /// Whether the object carries `kubernetes.io/metadata.name` itself.
    name_label: bool,
    pods: Vec<PodShape>,
    policies: Vec<PolicyShape>,
}

#[derive(Clone, Copy, Debug)]
enum Address {
    None,
    V4,
    V6,
}

#[derive(Clone, Debug)]
struct PodShape {
    labels: Vec<(&'static str, &'static str)>,
    address: Address,
    host_network: bool,
    /// Indices into [`CONTAINER_PORTS`].
    ports: Vec<usize>,
    /// Whether the second container is a native sidecar (an init container
    /// that keeps running), whose ports are served like any container's.
    native_sidecar: bool,
}

#[derive(Clone, Debug)]
struct Expression {
    key: &'static str,
    operator: &'static str,
    values: Vec<&'static str>,
}

#[derive(Clone, Debug)]
struct SelectorShape {
    labels: Vec<(&'static str, &'static str)>,
    expressions: Vec<Expression>,
}

#[derive(Clone, Debug)]
enum PeerShape {
    Pods(SelectorShape),
    Namespaces(SelectorShape),
    Both {
        namespaces: SelectorShape,
        pods: SelectorShape,
    },
    Block(&'static str, &'static [&'static str]),
}

#[derive(Clone, Debug)]
enum PortValue {
    Absent,
    Number(u16),
    Range(u16, u16),
    Named(&'static str),
}

#[derive(Clone, Debug)]
struct PortShape {
    /// `None` leaves the field out (the API server defaults it to TCP).
    protocol: Option<&'static str>,
    port: PortValue,
}

#[derive(Clone, Debug)]
struct RuleShape {
    /// `None` leaves `from`/`to` out; `Some(vec![])` writes an empty list.
    peers: Option<Vec<PeerShape>>,
    ports: Option<Vec<PortShape>>,
}

#[derive(Clone, Debug)]
struct PolicyShape {
    /// `None` leaves `podSelector` out.
    pod_selector: Option<SelectorShape>,
    policy_types: Option<Vec<&'static str>>,
    ingress: Option<Vec<RuleShape>>,
    egress: Option<Vec<RuleShape>>,
}

fn selector(vocabulary: &'static [(&'static str, &'static str)]) -> BoxedStrategy<SelectorShape> {
    let expression = (
        select(vocabulary),
        select(&OPERATORS[..]),
        select(vocabulary),
    )
        .prop_map(|((key, value), operator, (_, other))| Expression {
            key,
            operator,
            values: match operator {
                "In" | "NotIn" if value == other => vec![value],
                "In" | "NotIn" => vec![value, other],
                _ => Vec::new(),
            },
        });
    let labels = vec(select(vocabulary), 1..=2);
    let expressions = vec(expression, 1..=2);
    prop_oneof![
        3 => Just(SelectorShape { labels: Vec::new(), expressions: Vec::new() }),
        3 => labels.clone().prop_map(|labels| SelectorShape { labels, expressions: Vec::new() }),
        3 => expressions.clone().prop_map(|expressions| SelectorShape { labels: Vec::new(), expressions }),
        1 => (labels, expressions).prop_map(|(labels, expressions)| SelectorShape { labels, expressions }),
    ]
    .boxed()
}

fn peer() -> impl Strategy<Value = PeerShape> {
    prop_oneof![
        3 => selector(POD_LABELS).prop_map(PeerShape::Pods),
        2 => selector(NAMESPACE_SELECTOR_LABELS).prop_map(PeerShape::Namespaces),
        2 => (selector(NAMESPACE_SELECTOR_LABELS), selector(POD_LABELS))
            .prop_map(|(namespaces, pods)| PeerShape::Both { namespaces, pods }),
        3 => select(IP_BLOCKS).prop_map(|(cidr, except)| PeerShape::Block(cidr, except)),
    ]
}

fn port() -> impl Strategy<Value = PortShape> {
    let protocol = select(&[None, Some("TCP"), Some("UDP"), Some("SCTP")][..]);
    let value = prop_oneof![
        1 => Just(PortValue::Absent),
        3 => select(&PORT_NUMBERS[..]).prop_map(PortValue::Number),
        2 => select(&PORT_RANGES[..]).prop_map(|(start, end)| PortValue::Range(start, end)),
        3 => select(&PORT_NAMES[..]).prop_map(PortValue::Named),
    ];
    (protocol, value).prop_map(|(protocol, port)| PortShape { protocol, port })
}

fn rule() -> impl Strategy<Value = RuleShape> {
    let peers = prop_oneof![
        2 => Just(None),
        1 => Just(Some(Vec::new())),
        5 => vec(peer(), 1..=2).prop_map(Some),
    ];
    let ports = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Vec::new())),
        5 => vec(port(), 1..=2).prop_map(Some),
    ];
    (peers, ports).prop_map(|(peers, ports)| RuleShape { peers, ports })
}

/// A rule that opens one protocol, half of the ports, every pod or every
/// address of a family: several together may open everything, which no one
/// of them does (the union is what counts, rule 3).
fn broad_rule() -> impl Strategy<Value = RuleShape> {
    let every_pod = PeerShape::Namespaces(SelectorShape {
        labels: Vec::new(),
        expressions: Vec::new(),
    });
    let peers = prop_oneof![
        Just(None),
        Just(Some(vec![every_pod.clone()])),
        Just(Some(vec![
            PeerShape::Block("0.0.0.0/0", &[]),
            PeerShape::Block("::/0", &[])
        ])),
        Just(Some(vec![
            every_pod,
            PeerShape::Block("0.0.0.0/0", &[]),
            PeerShape::Block("::/0", &[])
        ])),
    ];
    let half = prop_oneof![
        Just(PortValue::Absent),
        Just(PortValue::Range(1, 32767)),
        Just(PortValue::Range(32768, 65535)),
    ];
    let port = (select(&[None, Some("UDP"), Some("SCTP")][..]), half)
        .prop_map(|(protocol, port)| PortShape { protocol, port });
    let ports = prop_oneof![Just(None), vec(port, 1..=2).prop_map(Some)];
    (peers, ports).prop_map(|(peers, ports)| RuleShape { peers, ports })
}

fn rules() -> impl Strategy<Value = Option<Vec<RuleShape>>> {
    let rule = prop_oneof![4 => rule(), 1 => broad_rule()];
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Vec::new())),
        4 => vec(rule, 1..=2).prop_map(Some),
    ]
}

fn policy() -> impl Strategy<Value = PolicyShape> {
    let types = prop_oneof![
        4 => Just(None),
        1 => Just(Some(Vec::new())),
        2 => Just(Some(vec!["Ingress"])),
        2 => Just(Some(vec!["Egress"])),
        3 => Just(Some(vec!["Ingress", "Egress"])),
    ];
    let pod_selector = prop_oneof![1 => Just(None), 4 => selector(POD_LABELS).prop_map(Some)];
    (pod_selector, types, rules(), rules()).prop_map(
        |(pod_selector, policy_types, ingress, egress)| PolicyShape {
            pod_selector,
            policy_types,
            ingress,
            egress,
        },
    )
}

fn pod() -> impl Strategy<Value = PodShape> {
    let address =
        prop_oneof![2 => Just(Address::None), 6 => Just(Address::V4), 1 => Just(Address::V6)];
    (
        vec(select(POD_LABELS), 0..=3),
        address,
        proptest::bool::weighted(0.12),
        subsequence((0..CONTAINER_PORTS.len()).collect::<Vec<_>>(), 0..=4),
        any::<bool>(),
    )
        .prop_map(
            |(labels, address, host_network, ports, native_sidecar)| PodShape {
                labels,
                address,
                host_network,
                ports,
                native_sidecar,
            },
        )
}

fn namespace() -> impl Strategy<Value = NamespaceShape> {
    (
        vec(select(NAMESPACE_LABELS), 1..=3),
        proptest::bool::weighted(0.9),
        any::<bool>(),
        vec(pod(), 1..=6),
        vec(policy(), 0..=4),
    )
        .prop_map(
            |(labels, declared, name_label, pods, policies)| NamespaceShape {
                labels,
                declared,
                name_label,
                pods,
                policies,
            },
        )
}

pub fn cluster() -> impl Strategy<Value = ClusterShape> {
    vec(namespace(), 2..=4).prop_map(|namespaces| ClusterShape { namespaces })
}
