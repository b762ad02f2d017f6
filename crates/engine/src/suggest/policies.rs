//! The NetworkPolicy objects a suggestion writes: the allows that keep
//! admitted flows, and DNS egress and ingress.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::SelectorExt;

use super::{Needs, Suggested};
use crate::cluster::Cluster;
use crate::model::{Direction, Labels, NAMESPACE_NAME_LABEL, Protocol};
use crate::settings::Settings;

pub(super) fn selector(labels: Labels) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

pub(super) fn name_selector(namespace: &str) -> LabelSelector {
    selector(Labels::from([(
        NAMESPACE_NAME_LABEL.to_string(),
        namespace.to_string(),
    )]))
}

pub(super) fn port(protocol: Protocol, number: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_string()),
        port: Some(IntOrString::Int(number.into())),
        end_port: None,
    }
}

pub(super) fn dns_ports() -> Vec<NetworkPolicyPort> {
    vec![port(Protocol::Udp, 53), port(Protocol::Tcp, 53)]
}

pub(super) fn network_policy(
    namespace: &str,
    name: &str,
    spec: NetworkPolicySpec,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(Labels::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "netposture-suggest".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(spec),
    }
}

/// A peer for `pod_labels` in `peer_namespace`, written in a policy of `namespace`.
pub(super) fn pod_peer(
    namespace: &str,
    peer_namespace: &str,
    pod_labels: &Labels,
) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: (peer_namespace != namespace).then(|| name_selector(peer_namespace)),
        pod_selector: Some(selector(pod_labels.clone())),
        ip_block: None,
    }
}

pub(super) fn keep_policies(namespace: &str, direction: Direction, needs: Needs) -> Vec<Suggested> {
    needs
        .into_iter()
        .enumerate()
        .map(|(index, (local, peers))| {
            let rules: Vec<(NetworkPolicyPeer, Vec<NetworkPolicyPort>)> = peers
                .iter()
                .map(|((peer_namespace, labels), ports)| {
                    (
                        pod_peer(namespace, peer_namespace, labels),
                        ports.iter().map(|(pr, p)| port(*pr, *p)).collect(),
                    )
                })
                .collect();
            let peer_names: Vec<String> = peers
                .keys()
                .map(|(ns, labels)| format!("{ns}/{}", describe(labels)))
                .collect();
            let mut spec = NetworkPolicySpec {
                pod_selector: Some(selector(local.clone())),
                ..Default::default()
            };
            let (name, why) = match direction {
                Direction::Egress => {
                    spec.policy_types = Some(vec!["Egress".into()]);
                    spec.egress = Some(
                        rules
                            .into_iter()
                            .map(|(peer, ports)| NetworkPolicyEgressRule {
                                to: Some(vec![peer]),
                                ports: Some(ports),
                            })
                            .collect(),
                    );
                    (
                        format!("netposture-keep-egress-{}", index + 1),
                        format!(
                            "keeps egress of pods {} to {}, which their policies admit today",
                            describe(&local),
                            peer_names.join(", ")
                        ),
                    )
                }
                Direction::Ingress => {
                    spec.policy_types = Some(vec!["Ingress".into()]);
                    spec.ingress = Some(
                        rules
                            .into_iter()
                            .map(|(peer, ports)| NetworkPolicyIngressRule {
                                from: Some(vec![peer]),
                                ports: Some(ports),
                            })
                            .collect(),
                    );
                    (
                        format!("netposture-keep-ingress-{}", index + 1),
                        format!(
                            "keeps ingress to pods {} from {}, whose egress policies admit it today",
                            describe(&local),
                            peer_names.join(", ")
                        ),
                    )
                }
            };
            Suggested {
                policy: network_policy(namespace, &name, spec),
                why,
            }
        })
        .collect()
}

pub(super) fn describe(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// DNS egress to the DNS pods as `settings` finds them (and to NodeLocal
/// DNSCache's addresses when it runs).
pub(super) fn dns_egress(cluster: &Cluster, settings: &Settings, namespace: &str) -> Suggested {
    let dns_namespace = &settings.dns_namespace;
    let mut to = vec![NetworkPolicyPeer {
        namespace_selector: Some(name_selector(dns_namespace)),
        pod_selector: Some(settings.dns_selector.clone().into()),
        ip_block: None,
    }];
    let node_local = cluster.namespace(dns_namespace).is_some_and(|state| {
        state
            .pods
            .values()
            .any(|p| settings.node_local_dns_selector.matches(&p.labels))
    });
    let mut why = format!(
        "lets every pod resolve names: UDP and TCP 53 to the DNS pods ({}) in {dns_namespace}",
        settings.dns_selector
    );
    if node_local {
        let addresses: Vec<String> = settings
            .node_local_dns_addresses
            .iter()
            .map(|ip| {
                let prefix = if ip.is_ipv4() { 32 } else { 128 };
                format!("{ip}/{prefix}")
            })
            .collect();
        why.push_str(&format!(
            ", and to NodeLocal DNSCache at {}",
            addresses.join(", ")
        ));
        to.extend(addresses.into_iter().map(|cidr| NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr, except: None }),
            ..Default::default()
        }));
    }
    Suggested {
        policy: network_policy(
            namespace,
            "netposture-allow-dns",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Egress".into()]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(to),
                    ports: Some(dns_ports()),
                }]),
                ..Default::default()
            },
        ),
        why,
    }
}

/// For the DNS namespace: admit this namespace's DNS queries.
pub(super) fn dns_ingress(settings: &Settings, namespace: &str) -> Suggested {
    Suggested {
        policy: network_policy(
            &settings.dns_namespace,
            &format!("netposture-allow-dns-from-{namespace}"),
            NetworkPolicySpec {
                pod_selector: Some(settings.dns_selector.clone().into()),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(name_selector(namespace)),
                        ..Default::default()
                    }]),
                    ports: Some(dns_ports()),
                }]),
                ..Default::default()
            },
        ),
        why: format!(
            "belongs to {}, not {namespace}: the DNS pods' own ingress policies block {namespace}'s queries; apply it there (its owners decide)",
            settings.dns_namespace
        ),
    }
}
