//! The layered reference's model: each layer's rules as matchers, read
//! from the API objects as their documentation describes them.

use super::*;

pub(super) struct Workload {
    pub(super) namespace: String,
    pub(super) labels: Labels,
    pub(super) host_network: bool,
    pub(super) addresses: Vec<IpAddr>,
    /// `(name, number, protocol)`.
    pub(super) ports: Vec<(String, u16, String)>,
}

/// What a rule of any layer matches, read from its object.
#[derive(Debug)]
pub(super) enum Matcher {
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

pub(super) struct RuleOf {
    /// 0 allow, 1 deny, 2 pass.
    pub(super) action: usize,
    /// Empty: every peer.
    pub(super) peers: Vec<Matcher>,
    /// `(protocol or None for any, port)`; empty: every port.
    pub(super) ports: Vec<(Option<&'static str>, PortShape)>,
}

pub(super) struct TieredPolicy {
    pub(super) priority: u16,
    pub(super) subject_namespaces: Option<Selector>,
    pub(super) subject_pods: Selector,
    pub(super) ingress: Vec<RuleOf>,
    pub(super) egress: Vec<RuleOf>,
}

/// The layered reference: NetworkPolicy from [`Reference`], the layers here.
pub(super) struct LayeredReference<'o> {
    pub(super) network_policy: Reference,
    pub(super) cni: Cni,
    pub(super) namespaces: BTreeMap<String, Labels>,
    pub(super) pods: Vec<Workload>,
    pub(super) admin: Vec<TieredPolicy>,
    pub(super) baseline: Vec<TieredPolicy>,
    pub(super) calico: Vec<(&'o CalicoShape, String)>,
    pub(super) cilium: &'o [CiliumShape],
}

pub(super) fn selector(label: Option<(&str, &str)>) -> Selector {
    label
        .map(|(k, v)| Selector::from_iter([(k.to_string(), v.to_string())]))
        .unwrap_or_default()
}

/// Calico's selector language, for the expressions generated.
pub(super) fn calico_matches(expression: &str, labels: &Labels) -> bool {
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

pub(super) fn tiered_rules(rules: &[TieredRule]) -> Vec<RuleOf> {
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

pub(super) fn calico_rules(rules: &[CalicoRule]) -> Vec<RuleOf> {
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

pub(super) fn cilium_rule_of(rule: &CiliumRule, deny: bool) -> RuleOf {
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

pub(super) fn workload(pod: &Pod) -> Workload {
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
