//! Verdicts for one namespace, from the index. An [`Evaluator`] computes the
//! cluster-wide context once (CNI, DNS pods), then evaluates any namespace
//! on its own, so a single change costs one namespace's work.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use kube_core::SelectorExt;

use crate::checks::{self, Findings, LayerReport};
use crate::cluster::{Cluster, NamespaceState};
use crate::cni::{self, CniStatus};
use crate::compliance;
use crate::exposure;
use crate::intervals::Intervals;
use crate::ipset::{Family, block_addresses};
use crate::layers::{self, Enforcement, LayerDefault, LayerPolicy, LayerSide, OpenEgress};
use crate::mesh::Mesh;
use crate::model::{
    ContainerPort, Direction, Labels, NAMESPACE_NAME_LABEL, Peer, Pod, Policy, PortMatch, PortSpec,
    Protocol, Rule,
};
use crate::pod_cidrs::PodCidrs;
use crate::posture::{AcceptedRisk, NamespacePosture, PodCounts, ids};
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};
use crate::settings::Settings;

pub(crate) const DNS_PORT: u16 = 53;

pub struct Evaluator<'a> {
    cluster: &'a Cluster,
    settings: &'a Settings,
    cni: CniStatus,
    dns: Dns<'a>,
    /// Layer policies the CNI enforces (or, for the tiered APIs, is expected to).
    layers: Vec<&'a LayerPolicy>,
    system: checks::SystemPods<'a>,
    mesh: Option<Mesh<'a>>,
    pod_cidrs: PodCidrs,
}

/// Where every namespace must be able to send DNS queries.
struct Dns<'a> {
    namespace: String,
    namespace_labels: Labels,
    targets: Vec<DnsTarget<'a>>,
    /// Whether the targets' ingress rules use ipBlocks (then source pod IPs matter).
    ingress_has_ip_blocks: bool,
    /// How the targets were found, for every namespace's evidence.
    description: String,
}

enum DnsTarget<'a> {
    /// A DNS pod with the ingress policies and layer rules that apply to it.
    Pod(Pod, Vec<&'a Policy>, Box<LayerSide<'a>>),
    /// A NodeLocal DNSCache address, served from the host network.
    Address(IpAddr),
}

#[derive(Clone, Copy)]
enum DnsSource {
    Found,
    /// No DNS pod was found: a standard CoreDNS pod stands in.
    Assumed,
    NodeLocal,
}

/// A standard kubeadm CoreDNS pod, for clusters (or manifests) without one.
fn standard_coredns_pod() -> Pod {
    let mut pod = Pod::unlabelled("coredns (assumed)");
    pod.labels.insert("k8s-app".into(), "kube-dns".into());
    pod.ports = vec![
        ContainerPort {
            name: Some("dns".into()),
            port: DNS_PORT,
            protocol: Protocol::Udp,
            host_port: None,
        },
        ContainerPort {
            name: Some("dns-tcp".into()),
            port: DNS_PORT,
            protocol: Protocol::Tcp,
            host_port: None,
        },
    ];
    pod
}

impl<'a> Dns<'a> {
    fn find(cluster: &'a Cluster, settings: &Settings, layers: &[&'a LayerPolicy]) -> Self {
        let name = settings.dns_namespace.clone();
        let state = cluster.namespace(&name);
        let namespace_labels = state
            .map(|s| s.labels.clone())
            .unwrap_or_else(|| Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.clone())]));
        let in_namespace = || state.into_iter().flat_map(|s| s.pods.values());
        // With NodeLocal DNSCache pods talk to a host-network agent on a
        // link-local address, which only an ipBlock can allow.
        if in_namespace().any(|p| settings.node_local_dns_selector.matches(&p.labels)) {
            let targets = settings
                .node_local_dns_addresses
                .iter()
                .map(|ip| DnsTarget::Address(*ip))
                .collect();
            return Dns::new(name, namespace_labels, targets, DnsSource::NodeLocal);
        }
        let mut pods: Vec<Pod> = in_namespace()
            .filter(|p| !p.host_network && settings.dns_selector.matches(&p.labels))
            .cloned()
            .collect();
        let source = if pods.is_empty() {
            pods.push(standard_coredns_pod());
            DnsSource::Assumed
        } else {
            DnsSource::Found
        };
        let targets = pods
            .into_iter()
            .map(|pod| {
                let ingress = state
                    .map(|s| reach::selecting(s, &pod, Direction::Ingress))
                    .unwrap_or_default();
                let layers =
                    LayerSide::for_pod(layers, &name, &namespace_labels, &pod, Direction::Ingress);
                DnsTarget::Pod(pod, ingress, Box::new(layers))
            })
            .collect();
        Dns::new(name, namespace_labels, targets, source)
    }

    fn new(
        namespace: String,
        namespace_labels: Labels,
        targets: Vec<DnsTarget<'a>>,
        source: DnsSource,
    ) -> Self {
        let ingress_has_ip_blocks = targets.iter().any(|t| match t {
            DnsTarget::Pod(_, ingress, layers) => {
                has_ip_block(ingress, Direction::Ingress) || layers.has_cidrs()
            }
            DnsTarget::Address(_) => false,
        });
        let description = describe(&namespace, &targets, source);
        Dns {
            namespace,
            namespace_labels,
            targets,
            ingress_has_ip_blocks,
            description,
        }
    }

    /// Whether some DNS pod's IP is not known.
    fn ips_unknown(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t, DnsTarget::Pod(pod, ..) if pod.ips.is_empty()))
    }

    /// The best answer over all targets for `source` sending to port 53.
    fn reach(
        &self,
        source: &Endpoint<'_>,
        source_egress: &[&Policy],
        source_layers: &LayerSide<'_>,
        protocol: Protocol,
    ) -> Reach {
        self.targets
            .iter()
            .map(|target| match target {
                DnsTarget::Pod(pod, ingress, layers) => {
                    let destination = Remote::Pod(Endpoint {
                        namespace: &self.namespace,
                        namespace_labels: &self.namespace_labels,
                        pod,
                        pod_cidrs: source.pod_cidrs,
                    });
                    let ends = LayerEnds {
                        egress: source_layers,
                        ingress: layers,
                    };
                    reach::connection(
                        source,
                        source_egress,
                        &destination,
                        ingress,
                        &ends,
                        protocol,
                        DNS_PORT,
                    )
                }
                DnsTarget::Address(ip) => reach::connection(
                    source,
                    source_egress,
                    &Remote::Address(*ip),
                    &[],
                    &LayerEnds {
                        egress: source_layers,
                        ingress: &LayerSide::NONE,
                    },
                    protocol,
                    DNS_PORT,
                ),
            })
            .max()
            .unwrap_or(Reach::Denied)
    }
}

/// How the DNS targets were found, as every namespace's DNS evidence says.
fn describe(namespace: &str, targets: &[DnsTarget<'_>], source: DnsSource) -> String {
    match source {
        DnsSource::Assumed => format!(
            "no DNS pod found in {}: evaluated against a standard CoreDNS pod (k8s-app=kube-dns, ports dns 53/UDP and dns-tcp 53/TCP)",
            namespace
        ),
        DnsSource::NodeLocal => {
            let addresses: Vec<String> = targets
                .iter()
                .filter_map(|t| match t {
                    DnsTarget::Address(ip) => Some(ip.to_string()),
                    DnsTarget::Pod(..) => None,
                })
                .collect();
            format!(
                "NodeLocal DNSCache found in {}: pods must reach {} through an ipBlock",
                namespace,
                addresses.join(" or ")
            )
        }
        DnsSource::Found => {
            let names: Vec<&str> = targets
                .iter()
                .filter_map(|t| match t {
                    DnsTarget::Pod(p, ..) => Some(p.name.as_str()),
                    DnsTarget::Address(_) => None,
                })
                .collect();
            format!("DNS pods {}/{{{}}}", namespace, names.join(","))
        }
    }
}

fn has_ip_block(policies: &[&Policy], direction: Direction) -> bool {
    policies.iter().any(|p| {
        p.rules(direction)
            .unwrap_or_default()
            .iter()
            .any(|r| r.peers.iter().any(|peer| matches!(peer, Peer::IpBlock(_))))
    })
}

/// The policies and layer rules applying to one distinct label set.
struct Selection<'a> {
    ingress: Vec<&'a Policy>,
    egress: Vec<&'a Policy>,
    layer_ingress: LayerSide<'a>,
    layer_egress: LayerSide<'a>,
}

impl<'a> Selection<'a> {
    fn of(state: &'a NamespaceState, name: &str, layers: &[&'a LayerPolicy], pod: &Pod) -> Self {
        let layer = |direction| LayerSide::for_pod(layers, name, &state.labels, pod, direction);
        Selection {
            ingress: reach::selecting(state, pod, Direction::Ingress),
            egress: reach::selecting(state, pod, Direction::Egress),
            layer_ingress: layer(Direction::Ingress),
            layer_egress: layer(Direction::Egress),
        }
    }

    /// Isolated by a NetworkPolicy, or denied by default by a policy layer.
    fn isolated(&self, direction: Direction) -> bool {
        let (policies, layers) = match direction {
            Direction::Ingress => (&self.ingress, &self.layer_ingress),
            Direction::Egress => (&self.egress, &self.layer_egress),
        };
        !policies.is_empty() || layers::default_of(layers, false).denies()
    }
}

/// Facts about the pods a namespace evaluates: real pods, or a new unlabelled pod.
pub(crate) struct PodFacts {
    pub counts: PodCounts,
    pub unprotected: Vec<String>,
    pub not_isolated: Vec<String>,
    pub host_network: Vec<String>,
    /// Pod name and why it may reach the whole public internet.
    pub egress_open: Vec<(String, String)>,
    /// Pod name and why it may, unless a rule netposture cannot evaluate denies.
    pub egress_undetermined: Vec<(String, String)>,
    /// Pod names by their DNS answer over UDP and TCP.
    pub dns_udp: Vec<(String, Reach)>,
    pub dns_tcp: Vec<(String, Reach)>,
    /// Whether a pod evaluated here, or a DNS pod, has no known IP.
    pub ips_unknown: bool,
}

/// Whether the namespace has a default deny for a direction, and what says so.
pub(crate) struct DefaultDeny {
    /// Whole-namespace policies listing the direction.
    pub providers: Vec<String>,
    /// Whole-namespace policies whose rules together allow every peer on every port.
    pub cancelled_by: Vec<String>,
    /// Set when a policy layer decides instead of NetworkPolicy: whether
    /// it denies by default, and which layer policies say so.
    pub layer: Option<(bool, Vec<String>)>,
}

impl DefaultDeny {
    pub fn holds(&self) -> bool {
        match &self.layer {
            Some((deny, _)) => *deny,
            None => !self.providers.is_empty() && self.cancelled_by.is_empty(),
        }
    }
}

impl<'a> Evaluator<'a> {
    pub fn new(cluster: &'a Cluster, settings: &'a Settings) -> Self {
        let cni = settings.cni_override.clone().unwrap_or_else(|| {
            cni::combine(
                cluster
                    .cni_pods()
                    .map(|(pod, signal)| (pod.as_str(), signal)),
            )
        });
        let layers: Vec<&LayerPolicy> = cluster
            .layers()
            .filter(|l| l.rejected.is_none() && l.enforcement(&cni) != Enforcement::NotEnforced)
            .collect();
        Evaluator {
            cluster,
            settings,
            dns: Dns::find(cluster, settings, &layers),
            cni,
            system: checks::SystemPods::find(cluster, settings, &layers),
            layers,
            mesh: Mesh::find(cluster, settings),
            pod_cidrs: PodCidrs::of(cluster, settings),
        }
    }

    pub fn cni(&self) -> &CniStatus {
        &self.cni
    }

    /// Where pod IPs lie, for pods whose IP is not known.
    pub fn pod_cidrs(&self) -> &PodCidrs {
        &self.pod_cidrs
    }

    /// The layer rules the cluster enforces on `end` for `direction` (none
    /// for a layer kind the CNI does not implement).
    pub fn layer_side(&self, end: &Endpoint<'_>, direction: Direction) -> LayerSide<'a> {
        let layers: Vec<&LayerPolicy> = self
            .layers
            .iter()
            .copied()
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

    /// Every namespace the index knows, in name order.
    pub fn all(&self) -> Vec<(String, NamespacePosture)> {
        self.cluster
            .namespaces()
            .map(|(name, state)| (name.clone(), self.evaluate(name, state)))
            .collect()
    }

    pub fn namespace(&self, name: &str) -> Option<NamespacePosture> {
        self.cluster
            .namespace(name)
            .map(|state| self.evaluate(name, state))
    }

    fn evaluate(&self, name: &str, state: &NamespaceState) -> NamespacePosture {
        let layers: Vec<&LayerPolicy> = self
            .layers
            .iter()
            .copied()
            .filter(|l| l.may_apply_in(name, &state.labels))
            .collect();
        let deny = |direction| {
            let side = LayerSide::for_namespace(&layers, name, &state.labels, direction);
            default_deny(state, direction, &side)
        };
        let deny_ingress = deny(Direction::Ingress);
        let deny_egress = deny(Direction::Egress);
        let pods = self.pod_facts(name, state, &layers);
        let exposed = exposure::exposed_pods(state);
        let routes = exposure::ingress_routes(state);
        let findings = Findings {
            namespace: name,
            state,
            settings: self.settings,
            cni: &self.cni,
            dns_description: self.dns.description.clone(),
            deny_ingress: &deny_ingress,
            deny_egress: &deny_egress,
            pods: &pods,
            exposed: &exposed,
            layers: LayerReport::new(
                self.cluster
                    .layers()
                    .filter(|l| l.may_apply_in(name, &state.labels)),
                &self.cni,
            ),
            cluster: self.cluster,
            system: &self.system,
            routes: &routes,
            mesh: self.mesh.as_ref(),
            pod_cidrs: &self.pod_cidrs,
        };
        let mut checks = findings.checks();
        for check in &mut checks {
            check.controls = compliance::labels_of(&check.id);
        }
        let dns_allowed = pods.dns_udp.iter().all(|(_, r)| *r == Reach::Allowed);
        let choices = &state.choices;
        let met_or_accepted = |met: bool, check: &str| met || choices.accepts(check);
        let covered = met_or_accepted(deny_ingress.holds(), ids::DEFAULT_DENY_INGRESS)
            && met_or_accepted(deny_egress.holds(), ids::DEFAULT_DENY_EGRESS)
            && met_or_accepted(dns_allowed, ids::DNS_ALLOWED)
            && met_or_accepted(self.cni.capable == cni::Capability::True, ids::CNI_ENFORCES)
            && met_or_accepted(pods.counts.host_network == 0, ids::HOST_NETWORK_PODS);
        let cap = self.settings.unprotected_pods_cap;
        let omitted = pods.unprotected.len().saturating_sub(cap);
        NamespacePosture {
            covered,
            default_deny_ingress: deny_ingress.holds(),
            default_deny_egress: deny_egress.holds(),
            egress_open: !pods.egress_open.is_empty(),
            dns_allowed,
            cni: self.cni.clone(),
            pods: pods.counts,
            unprotected_pods: pods.unprotected.iter().take(cap).cloned().collect(),
            unprotected_pods_omitted: omitted as u32,
            score: checks::score(&checks, &self.settings.weights),
            checks,
            accepted_risks: choices
                .accepted
                .iter()
                .map(|(check, risk)| AcceptedRisk {
                    risk: risk.to_string(),
                    check: check.to_string(),
                    reason: choices.reason_or_default().to_string(),
                })
                .collect(),
        }
    }

    fn pod_facts(
        &self,
        name: &str,
        state: &'a NamespaceState,
        layers: &[&'a LayerPolicy],
    ) -> PodFacts {
        let mut counts = PodCounts::default();
        let mut selections: Vec<Selection> = Vec::new();
        let mut by_labels: HashMap<&Labels, usize> = HashMap::new();
        let mut regular: Vec<(&Pod, usize)> = Vec::new();
        let mut host_network = Vec::new();
        let mut not_isolated = Vec::new();

        for pod in state.pods.values() {
            counts.total += 1;
            if pod.host_network {
                counts.host_network += 1;
                host_network.push(pod.name.clone());
                continue;
            }
            let index = *by_labels.entry(&pod.labels).or_insert_with(|| {
                selections.push(Selection::of(state, name, layers, pod));
                selections.len() - 1
            });
            let selection = &selections[index];
            let ingress = selection.isolated(Direction::Ingress);
            let egress = selection.isolated(Direction::Egress);
            counts.ingress_isolated += u32::from(ingress);
            counts.egress_isolated += u32::from(egress);
            if !ingress || !egress {
                not_isolated.push(pod.name.clone());
            }
            regular.push((pod, index));
        }

        // With no pod, judge the pod the namespace would get next.
        let new_pod = Pod::unlabelled("(new pod)");
        if regular.is_empty() {
            selections.push(Selection::of(state, name, layers, &new_pod));
            regular.push((&new_pod, selections.len() - 1));
        }

        let mut open_by_selection: HashMap<usize, Option<OpenEgress>> = HashMap::new();
        let mut dns_by_selection: HashMap<usize, (Reach, Reach)> = HashMap::new();
        // Pod IPs matter for DNS only when an ipBlock could match them.
        let ip_sensitive = self.dns_depends_on_ips(&selections);
        let mut facts = PodFacts {
            counts,
            unprotected: Vec::new(),
            not_isolated,
            host_network,
            egress_open: Vec::new(),
            egress_undetermined: Vec::new(),
            dns_udp: Vec::new(),
            dns_tcp: Vec::new(),
            ips_unknown: self.dns.ips_unknown(),
        };
        for (pod, index) in regular {
            let selection = &selections[index];
            let open = open_by_selection.entry(index).or_insert_with(|| {
                if selection.layer_egress.is_empty() {
                    open_egress(&selection.egress).map(OpenEgress::Open)
                } else {
                    layers::open_egress(&selection.egress, &selection.layer_egress)
                }
            });
            match open {
                Some(OpenEgress::Open(why)) => {
                    facts.egress_open.push((pod.name.clone(), why.clone()))
                }
                Some(OpenEgress::Undetermined(why)) => facts
                    .egress_undetermined
                    .push((pod.name.clone(), why.clone())),
                None => {}
            }
            facts.ips_unknown |= pod.ips.is_empty();
            let source = Endpoint {
                namespace: name,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs: &self.pod_cidrs,
            };
            let dns = |source: &Endpoint<'_>| {
                let reach = |protocol| {
                    let egress = &selection.layer_egress;
                    self.dns.reach(source, &selection.egress, egress, protocol)
                };
                (reach(Protocol::Udp), reach(Protocol::Tcp))
            };
            let (udp, tcp) = if ip_sensitive && !pod.ips.is_empty() {
                dns(&source)
            } else {
                *dns_by_selection
                    .entry(index)
                    .or_insert_with(|| dns(&source))
            };
            facts.dns_udp.push((pod.name.clone(), udp));
            facts.dns_tcp.push((pod.name.clone(), tcp));
        }
        let mut unprotected: BTreeSet<String> = facts.not_isolated.iter().cloned().collect();
        unprotected.extend(facts.host_network.iter().cloned());
        facts.unprotected = unprotected.into_iter().collect();
        facts
    }

    fn dns_depends_on_ips(&self, selections: &[Selection]) -> bool {
        self.dns.ingress_has_ip_blocks
            || selections
                .iter()
                .any(|s| has_ip_block(&s.egress, Direction::Egress) || s.layer_egress.has_cidrs())
    }
}

/// The namespace's default deny for `direction`; `layers` are the layer
/// rules that apply to every pod of it.
pub(crate) fn default_deny(
    state: &NamespaceState,
    direction: Direction,
    layers: &LayerSide<'_>,
) -> DefaultDeny {
    let mut providers = Vec::new();
    let mut rules: Vec<(&str, &Rule)> = Vec::new();
    for policy in state
        .policies
        .values()
        .filter(|p| p.selects_whole_namespace())
    {
        let Some(policy_rules) = policy.rules(direction) else {
            continue;
        };
        providers.push(policy.name.clone());
        rules.extend(policy_rules.iter().map(|r| (policy.name.as_str(), r)));
    }
    let layer = match layers::default_of(layers, !providers.is_empty()) {
        LayerDefault::Layer { deny, by } => Some((deny, by)),
        LayerDefault::NetworkPolicy | LayerDefault::Open => None,
    };
    DefaultDeny {
        providers,
        cancelled_by: reopened_by(&rules).unwrap_or_default(),
        layer,
    }
}

/// The policies whose whole-namespace `rules`, together, admit every peer
/// (every pod of every namespace and every address of both families) on
/// every port of every protocol, or `None` when they leave something denied.
/// Rules are a union, so an allow-all split by protocol, port or peer across
/// rules or policies re-opens the namespace as surely as one `{}` rule.
fn reopened_by(rules: &[(&str, &Rule)]) -> Option<Vec<String>> {
    let mut contributors = BTreeSet::new();
    for protocol in Protocol::ALL {
        // Between two consecutive bounds the set of admitting rules is
        // constant; port 1 starts the first stretch even if no rule does.
        let bounds: BTreeSet<u32> = rules
            .iter()
            .flat_map(|(_, r)| external_port_ranges(&r.ports, protocol))
            .flat_map(|(start, end)| [start, end + 1])
            .chain([1])
            .filter(|port| *port <= 65535)
            .collect();
        for port in bounds {
            // Named ports never admit an address, so they cannot re-open every peer.
            let admitting: Vec<&(&str, &Rule)> = rules
                .iter()
                .filter(|(_, r)| r.admits_port(protocol, port as u16, None))
                .collect();
            let every_pod = admitting
                .iter()
                .any(|(_, r)| r.peers.is_empty() || r.peers.iter().any(selects_every_pod));
            let every_address = Family::BOTH.iter().all(|family| {
                let mut addresses = Intervals::default();
                for (_, rule) in &admitting {
                    addresses.union_with(&rule_addresses(rule, *family));
                }
                addresses.covers(&family.everything())
            });
            if !(every_pod && every_address) {
                return None;
            }
            contributors.extend(admitting.iter().map(|(name, _)| name.to_string()));
        }
    }
    Some(contributors.into_iter().collect())
}

/// A selector peer matching every pod of every namespace, present or future.
fn selects_every_pod(peer: &Peer) -> bool {
    match peer {
        Peer::Selector {
            namespaces: Some(namespaces),
            pods,
        } => namespaces.selects_all() && pods.as_ref().is_none_or(|p| p.selects_all()),
        _ => false,
    }
}

/// Addresses outside the cluster a rule admits: everything with no peers, else its ipBlocks.
pub(crate) fn rule_addresses(rule: &Rule, family: Family) -> Intervals {
    if rule.peers.is_empty() {
        return family.everything();
    }
    let mut addresses = Intervals::default();
    for peer in &rule.peers {
        if let Peer::IpBlock(block) = peer {
            addresses.union_with(&block_addresses(family, block));
        }
    }
    addresses
}

/// Whether a rule admits any address outside the cluster: it has no peers, or an ipBlock.
pub(crate) fn admits_addresses(rule: &Rule) -> bool {
    rule.peers.is_empty() || rule.peers.iter().any(|p| matches!(p, Peer::IpBlock(_)))
}

/// The first address family whose whole public space `rules` admit together
/// (a rule without peers admits every address).
pub(crate) fn public_family_covered<'r>(
    rules: impl Iterator<Item = &'r Rule> + Clone,
) -> Option<Family> {
    Family::BOTH.into_iter().find(|family| {
        let mut reachable = Intervals::default();
        for rule in rules.clone() {
            reachable.union_with(&rule_addresses(rule, *family));
        }
        reachable.covers(family.public())
    })
}

/// Port ranges of `protocol` a rule's ports admit toward addresses outside
/// the cluster (empty: every port); named ports never match there.
pub(crate) fn external_port_ranges(ports: &[PortMatch], protocol: Protocol) -> Vec<(u32, u32)> {
    if ports.is_empty() {
        return vec![(1, 65535)];
    }
    ports
        .iter()
        .filter(|m| m.protocol == protocol)
        .filter_map(|m| match m.port {
            PortSpec::Any => Some((1, 65535)),
            PortSpec::Range(start, end) => Some((start.into(), end.into())),
            PortSpec::Named(_) => None,
        })
        .collect()
}

/// Why a pod selected by exactly `policies` for egress may reach every public
/// address of a family on some port, or `None` when it may not.
pub(crate) fn open_egress(policies: &[&Policy]) -> Option<String> {
    if policies.is_empty() {
        return Some("no egress policy selects it".into());
    }
    let rules: Vec<(&str, &Rule)> = policies
        .iter()
        .flat_map(|p| p.egress.iter().flatten().map(move |r| (p.name.as_str(), r)))
        .filter(|(_, r)| admits_addresses(r))
        .collect();
    // A port open without endPort first: servers before 1.21 drop it.
    open_port(&rules, false).or_else(|| {
        open_port(&rules, true).map(|open| {
            format!("{open}, only through endPort, which API servers before 1.21 drop: there it is not open")
        })
    })
}

/// The first port on which `rules` admit every public address of a family,
/// as a reason; port ranges count only from their first port unless
/// `with_end_port`.
fn open_port(rules: &[(&str, &Rule)], with_end_port: bool) -> Option<String> {
    for protocol in Protocol::ALL {
        // Between two consecutive bounds the set of admitting rules is constant.
        let bounds: BTreeSet<u32> = rules
            .iter()
            .flat_map(|(_, r)| external_port_ranges(&r.ports, protocol))
            .flat_map(|(start, end)| [start, end + 1])
            .filter(|port| *port <= 65535)
            .collect();
        for port in bounds {
            let port = port as u16;
            let admitting: Vec<&(&str, &Rule)> = rules
                .iter()
                .filter(|(_, r)| {
                    r.admits_port(protocol, port, None)
                        && (with_end_port
                            || r.only_through_end_port(protocol, port, None).is_none())
                })
                .collect();
            if let Some(family) = public_family_covered(admitting.iter().map(|(_, r)| *r)) {
                let names: BTreeSet<&str> = admitting.iter().map(|(n, _)| *n).collect();
                return Some(format!(
                    "networkpolicy/{} allow every public {} address on {protocol}/{port}",
                    names
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", networkpolicy/"),
                    family.name()
                ));
            }
        }
    }
    None
}
