//! Random shapes of layer policies (tiered, Calico, Cilium) and the
//! strategies that draw them.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cni {
    None,
    Calico,
    Cilium,
}

#[derive(Clone, Debug)]
pub(super) enum Tiered {
    /// AdminNetworkPolicy (`v1alpha1`): Admin tier, Allow/Deny/Pass.
    Admin,
    /// ClusterNetworkPolicy (`v1alpha2`) of a tier: Accept/Deny/Pass.
    Cluster { baseline: bool },
}

#[derive(Clone, Debug)]
pub(super) struct TieredShape {
    pub(super) api: Tiered,
    pub(super) priority: u16,
    /// `None`: every namespace; else a label both namespaces and pods may carry.
    pub(super) subject_labels: Option<(&'static str, &'static str)>,
    pub(super) subject_pods: bool,
    pub(super) ingress: Vec<TieredRule>,
    pub(super) egress: Vec<TieredRule>,
}

#[derive(Clone, Debug)]
pub(super) struct TieredRule {
    pub(super) action: usize,
    pub(super) peers: Vec<TieredPeer>,
    pub(super) ports: Vec<(Option<&'static str>, PortShape)>,
}

#[derive(Clone, Debug)]
pub(super) enum TieredPeer {
    Namespaces(Option<(&'static str, &'static str)>),
    Pods(Option<(&'static str, &'static str)>),
    Networks(&'static str),
}

#[derive(Clone, Debug)]
pub(super) enum PortShape {
    Number(u16),
    Range(u16, u16),
    Named(&'static str),
}

#[derive(Clone, Debug)]
pub(super) struct CalicoShape {
    pub(super) order: Option<u16>,
    pub(super) selector: &'static str,
    pub(super) namespace_selector: &'static str,
    pub(super) types: Option<Vec<Direction>>,
    pub(super) ingress: Vec<CalicoRule>,
    pub(super) egress: Vec<CalicoRule>,
}

#[derive(Clone, Debug)]
pub(super) struct CalicoRule {
    pub(super) action: &'static str,
    pub(super) protocol: Option<&'static str>,
    pub(super) peer: CalicoPeer,
    pub(super) ports: Vec<PortShape>,
}

#[derive(Clone, Debug)]
pub(super) enum CalicoPeer {
    Any,
    Selector(&'static str),
    Nets(&'static str),
}

#[derive(Clone, Debug)]
pub(super) struct CiliumShape {
    pub(super) endpoint: Option<(&'static str, &'static str)>,
    /// `[ingress, ingressDeny, egress, egressDeny]`.
    pub(super) sections: [Option<Vec<CiliumRule>>; 4],
}

#[derive(Clone, Debug)]
pub(super) struct CiliumRule {
    pub(super) peer: CiliumPeer,
    /// `(protocol, port)`: `None` every port.
    pub(super) port: Option<(&'static str, u16)>,
}

#[derive(Clone, Debug)]
pub(super) enum CiliumPeer {
    Endpoints(Option<(&'static str, &'static str)>),
    Cidr(&'static str),
    Entity(&'static str),
}

#[derive(Clone, Debug)]
pub struct LayeredShape {
    pub(super) cluster: ClusterShape,
    pub(super) cni: Cni,
    pub(super) tiered: Vec<TieredShape>,
    pub(super) calico: Vec<CalicoShape>,
    pub(super) cilium: Vec<CiliumShape>,
}

pub(super) const LABELS: &[(&str, &str)] = &[("app", "web"), ("env", "prod"), ("team", "blue")];
pub(super) const CIDRS: &[&str] = &[
    "10.0.0.0/16",
    "10.0.1.0/24",
    "0.0.0.0/0",
    "8.8.8.0/24",
    "::/0",
];
pub(super) const PRIORITIES: &[u16] = &[0, 3, 10, 20, 50, 999, 1000];
pub(super) const NUMBERS: &[u16] = &[53, 80, 8080, 9090];
pub(super) const RANGES: &[(u16, u16)] = &[(1, 1024), (8000, 8080)];
pub(super) const NAMES: &[&str] = &["http", "dns", "metrics"];

pub(super) fn maybe_label() -> impl Strategy<Value = Option<(&'static str, &'static str)>> {
    prop_oneof![1 => Just(None), 2 => select(LABELS).prop_map(Some)]
}

pub(super) fn port_shape() -> impl Strategy<Value = PortShape> {
    prop_oneof![
        select(NUMBERS).prop_map(PortShape::Number),
        select(RANGES).prop_map(|(s, e)| PortShape::Range(s, e)),
        select(NAMES).prop_map(PortShape::Named),
    ]
}

pub(super) fn tiered_rule(egress: bool, actions: usize) -> impl Strategy<Value = TieredRule> {
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

pub(super) fn tiered() -> impl Strategy<Value = TieredShape> {
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

pub(super) const CALICO_SELECTORS: &[&str] =
    &["all()", "app == 'web'", "has(env)", "team != 'blue'"];
pub(super) const CALICO_NAMESPACES: &[&str] = &["all()", "team == 'blue'", "env == 'prod'"];

pub(super) fn calico_rule() -> impl Strategy<Value = CalicoRule> {
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

pub(super) fn calico() -> impl Strategy<Value = CalicoShape> {
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

pub(super) fn cilium_rule() -> impl Strategy<Value = CiliumRule> {
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

pub(super) fn cilium() -> impl Strategy<Value = CiliumShape> {
    let section = prop_oneof![2 => Just(None), 3 => vec(cilium_rule(), 1..=2).prop_map(Some)];
    (
        maybe_label(),
        [section.clone(), section.clone(), section.clone(), section],
    )
        .prop_map(|(endpoint, sections)| CiliumShape { endpoint, sections })
}

pub(super) fn layered() -> impl Strategy<Value = LayeredShape> {
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
