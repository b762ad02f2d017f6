//! The compact model the engine evaluates: only what NetworkPolicy semantics
//! need, already defaulted and validated. Built from k8s-openapi objects by
//! [`crate::convert`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use kube_core::{Expression, Selector};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cni::CniSignal;

pub type Labels = BTreeMap<String, String>;

/// Label every namespace carries (set by the API server since 1.21, immutable).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
    /// The node port this container port is bound to (`hostPort`), if any.
    pub host_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub name: String,
    pub labels: Labels,
    pub host_network: bool,
    pub ips: Vec<IpAddr>,
    pub ports: Vec<ContainerPort>,
    /// Set when this pod looks like a CNI agent; drives CNI detection.
    pub cni: Option<CniSignal>,
    /// A Kubernetes dashboard pod (by its labels or image).
    pub dashboard: bool,
    /// Whether the pod has (or will get) an Istio sidecar.
    pub sidecar: Sidecar,
}

/// A pod's Istio sidecar, as far as its spec, labels and annotations tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sidecar {
    /// Nothing on the pod decides; the namespace's injection label does.
    #[default]
    Unspecified,
    /// `sidecar.istio.io/inject: "true"` on the pod.
    Requested,
    /// `sidecar.istio.io/inject: "false"` on the pod.
    Refused,
    /// An `istio-proxy` container is present: injection already happened.
    Present,
}

impl Pod {
    /// The pod a namespace would get next: no labels, no ports, no IP.
    pub fn unlabelled(name: &str) -> Self {
        Pod {
            name: name.to_string(),
            labels: Labels::new(),
            host_network: false,
            ips: Vec::new(),
            ports: Vec::new(),
            cni: None,
            dashboard: false,
            sidecar: Sidecar::Unspecified,
        }
    }

    /// Every container port with this name and protocol. Containers of one
    /// pod may each declare the name (the API server only warns); the data
    /// planes admit every such port for a policy naming it (Calico puts
    /// each one in the rule's named-port set).
    pub fn named_ports<'p>(
        &'p self,
        name: &'p str,
        protocol: Protocol,
    ) -> impl Iterator<Item = u16> + 'p {
        self.ports
            .iter()
            .filter(move |p| p.protocol == protocol && p.name.as_deref() == Some(name))
            .map(|p| p.port)
    }

    /// The port a Service's named `targetPort` delivers to: the first
    /// container's port with the name, as the endpoints controller picks it.
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.named_ports(name, protocol).next()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub pod_selector: Selector,
    /// `Some` exactly when Ingress is in the effective (defaulted) policyTypes.
    pub ingress: Option<Vec<Rule>>,
    /// `Some` exactly when Egress is in the effective (defaulted) policyTypes.
    pub egress: Option<Vec<Rule>>,
}

impl Policy {
    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    /// Selects every pod of its namespace, including pods that do not exist yet.
    pub fn selects_whole_namespace(&self) -> bool {
        self.pod_selector.selects_all()
    }
}

/// One `ingress[]`/`egress[]` element.
#[derive(Clone, Debug, Default)]
pub struct Rule {
    /// Empty means every peer (a missing or empty `from`/`to`).
    pub peers: Vec<Peer>,
    /// Empty means every port of every protocol.
    pub ports: Vec<PortMatch>,
}

#[derive(Clone, Debug)]
pub enum Peer {
    /// `namespaces: None` means the policy's own namespace; `pods: None` means every pod.
    Selector {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    IpBlock(IpBlock),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

impl IpBlock {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidr.contains(&ip) && !self.except.iter().any(|e| e.contains(&ip))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMatch {
    pub protocol: Protocol,
    pub port: PortSpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// Every port of the protocol.
    Any,
    /// Inclusive range; a single port is `Range(p, p)`.
    Range(u16, u16),
    /// A container port name, resolved per destination pod.
    Named(String),
}

impl PortMatch {
    /// Whether this entry admits `protocol`/`port` on `destination`; named ports
    /// resolve against the destination pod and never match a pod-less address.
    pub fn admits(&self, protocol: Protocol, port: u16, destination: Option<&Pod>) -> bool {
        if self.protocol != protocol {
            return false;
        }
        match &self.port {
            PortSpec::Any => true,
            PortSpec::Range(start, end) => (*start..=*end).contains(&port),
            PortSpec::Named(name) => {
                destination.is_some_and(|pod| pod.named_ports(name, protocol).any(|p| p == port))
            }
        }
    }
}

impl Rule {
    pub fn admits_port(&self, protocol: Protocol, port: u16, destination: Option<&Pod>) -> bool {
        self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|p| p.admits(protocol, port, destination))
    }

    /// The first port of the `endPort` range through which alone the rule
    /// admits `port` (named `name` on the destination), if so. NetworkPolicy
    /// writes a range only with `endPort`; servers before 1.21 drop the
    /// field and keep the first port only, so a live scan there and
    /// `scan -f` of the manifest answer differently.
    pub fn only_through_end_port(
        &self,
        protocol: Protocol,
        port: u16,
        name: Option<&str>,
    ) -> Option<u16> {
        if self.ports.is_empty() {
            return None;
        }
        let mut starts = self
            .ports
            .iter()
            .filter(|m| m.protocol == protocol)
            .filter(|m| match &m.port {
                PortSpec::Any => true,
                PortSpec::Range(start, end) => (*start..=*end).contains(&port),
                PortSpec::Named(named) => name == Some(named.as_str()),
            })
            .map(|m| match m.port {
                PortSpec::Range(start, end) if end > start && start != port => Some(start),
                _ => None,
            });
        let first = starts.next()??;
        starts.all(|s| s.is_some()).then_some(first)
    }
}

/// How a Service is reachable from outside the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exposure {
    LoadBalancer,
    NodePort,
    /// `spec.externalIPs`, on a Service of any type.
    ExternalIps,
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exposure::LoadBalancer => "LoadBalancer",
            Exposure::NodePort => "NodePort",
            Exposure::ExternalIps => "externalIPs",
        })
    }
}

/// Where a Service port delivers on the pod: a number, or a container port name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Ingress backends may refer to the port by this name.
    pub name: Option<String>,
    pub port: u16,
    /// Defaulted to `port` as the API server does.
    pub target: TargetPort,
    pub protocol: Protocol,
}

impl ServicePort {
    /// The pod port this Service port delivers to; `None` when a named target
    /// port does not resolve on the pod, which then gets no traffic from it.
    pub fn target_on(&self, pod: &Pod) -> Option<u16> {
        match &self.target {
            TargetPort::Number(port) => Some(*port),
            TargetPort::Name(name) => pod.named_port(name, self.protocol),
        }
    }
}

/// A Service: where it sends traffic and whether it is reachable from
/// outside the cluster (LoadBalancer, NodePort or externalIPs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// Sorted; empty for a Service reachable only inside the cluster.
    pub exposure: Vec<Exposure>,
    /// Empty when the Service has no selector: its endpoints are managed by
    /// hand, and it selects no pod.
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
    /// The Service of a Kubernetes dashboard (by its labels or selector).
    pub dashboard: bool,
}

impl Service {
    pub fn is_exposed(&self) -> bool {
        !self.exposure.is_empty()
    }

    /// The port an Ingress backend names, by number or by name.
    pub fn port(&self, reference: &ServicePortRef) -> Option<&ServicePort> {
        self.ports.iter().find(|p| match reference {
            ServicePortRef::Number(number) => p.port == *number,
            ServicePortRef::Name(name) => p.name.as_ref() == Some(name),
        })
    }

    /// Service selectors are plain equality on every listed label.
    pub fn selects(&self, pod: &Pod) -> bool {
        !self.selector.is_empty()
            && self
                .selector
                .iter()
                .all(|(key, value)| pod.labels.get(key) == Some(value))
    }

    /// `LoadBalancer`, `NodePort, externalIPs`, ...
    pub fn exposure_description(&self) -> String {
        let kinds: Vec<String> = self.exposure.iter().map(ToString::to_string).collect();
        kinds.join(", ")
    }
}

/// How an Ingress backend names a Service port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServicePortRef {
    Number(u16),
    Name(String),
}

impl fmt::Display for ServicePortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServicePortRef::Number(number) => write!(f, "{number}"),
            ServicePortRef::Name(name) => f.write_str(name),
        }
    }
}

/// The label keys `selector` tests, in its order.
pub fn selector_keys(selector: &Selector) -> impl Iterator<Item = String> {
    selector
        .clone()
        .into_iter()
        .map(|expression| match expression {
            Expression::In(key, _)
            | Expression::NotIn(key, _)
            | Expression::Equal(key, _)
            | Expression::NotEqual(key, _)
            | Expression::Exists(key)
            | Expression::DoesNotExist(key) => key,
        })
}
