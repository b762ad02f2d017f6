//! Where every namespace must be able to send DNS queries (the cluster's DNS
//! pods, a stand-in CoreDNS pod, or NodeLocal DNSCache addresses), and
//! whether a pod reaches them.

use std::net::IpAddr;

use kube_core::SelectorExt;

use crate::cluster::Cluster;
use crate::layers::LayerPolicy;
use crate::model::{
    ContainerPort, Direction, Labels, NAMESPACE_NAME_LABEL, Peer, Pod, Policy, Protocol,
};
use crate::reach::{self, Endpoint, LayerEnds, LayerSide, Reach, Remote};
use crate::settings::Settings;

pub(crate) const DNS_PORT: u16 = 53;

/// Where every namespace must be able to send DNS queries.
pub(crate) struct Dns<'a> {
    namespace: String,
    namespace_labels: Labels,
    targets: Vec<DnsTarget<'a>>,
    /// Whether the targets' ingress rules use ipBlocks (then source pod IPs matter).
    pub ingress_has_ip_blocks: bool,
    /// How the targets were found, for every namespace's evidence.
    pub description: String,
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
    pub fn find(cluster: &'a Cluster, settings: &Settings, layers: &[&'a LayerPolicy]) -> Self {
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
    pub fn ips_unknown(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t, DnsTarget::Pod(pod, ..) if pod.ips.is_empty()))
    }

    /// The best answer over all targets for `source` sending to port 53.
    pub fn reach(
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

pub(super) fn has_ip_block(policies: &[&Policy], direction: Direction) -> bool {
    policies.iter().any(|p| {
        p.rules(direction)
            .unwrap_or_default()
            .iter()
            .any(|r| r.peers.iter().any(|peer| matches!(peer, Peer::IpBlock(_))))
    })
}
