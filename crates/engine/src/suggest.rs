//! The policies that close a namespace's gaps: a default deny both ways,
//! DNS egress to the cluster's real DNS pods, and allows that keep every
//! in-cluster flow another policy explicitly admitted.
//!
//! Kept flows, precisely: when the new default deny isolates a pod that was
//! not isolated in a direction, each connection (source pod, destination
//! pod, declared destination port) that was Allowed before AND was admitted
//! by a rule on the other side (that side was isolated) stays Allowed.
//! Flows no policy on either side asked for are the ones a default deny is
//! meant to close.
//!
//! Suggestions are NetworkPolicies and are judged on NetworkPolicy alone:
//! what cluster-wide layers add or take away is left to their owners.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::SelectorExt;

use crate::Evaluator;
use crate::cluster::{Cluster, NamespaceState};
use crate::facts::default_deny;
use crate::layers::LayerSide;
use crate::model::{Direction, Labels, NAMESPACE_NAME_LABEL, Pod, Policy, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::posture::{CheckStatus, ids};
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};
use crate::settings::Settings;

/// Labels that change with every rollout or name one replica: selecting by
/// them would stop matching the next replica.
const PER_REPLICA_LABELS: [&str; 4] = [
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
];

/// One suggested policy and why, for the comment above it.
#[derive(Clone, Debug)]
pub struct Suggested {
    pub policy: NetworkPolicy,
    pub why: String,
}

#[derive(Clone, Debug, Default)]
pub struct Suggestion {
    pub policies: Vec<Suggested>,
    /// What the policies cannot fix by themselves.
    pub notes: Vec<String>,
}

/// Pods of one namespace with equal labels and ports: every policy treats
/// them alike (ipBlocks never make a pod Allowed, only CNI-dependent).
struct Group<'a> {
    namespace: &'a str,
    namespace_labels: &'a Labels,
    pods: Vec<&'a Pod>,
    ingress: Vec<&'a Policy>,
    egress: Vec<&'a Policy>,
    pod_cidrs: &'a PodCidrs,
}

impl<'a> Group<'a> {
    fn endpoint(&self, pod: &'a Pod) -> Endpoint<'a> {
        Endpoint {
            namespace: self.namespace,
            namespace_labels: self.namespace_labels,
            pod,
            pod_cidrs: self.pod_cidrs,
        }
    }

    /// A pod of this group other than `not`, if any. Identity, not name:
    /// pods of other namespaces may carry the same name.
    fn other_than(&self, not: &Pod) -> Option<&'a Pod> {
        self.pods.iter().copied().find(|p| !std::ptr::eq(*p, not))
    }
}

fn groups<'a>(
    namespace: &'a str,
    state: &'a NamespaceState,
    pod_cidrs: &'a PodCidrs,
) -> Vec<Group<'a>> {
    let mut by_key: BTreeMap<(&Labels, String), Group<'a>> = BTreeMap::new();
    for pod in state.pods.values().filter(|p| !p.host_network) {
        let key = (&pod.labels, format!("{:?}", pod.ports));
        by_key
            .entry(key)
            .or_insert_with(|| Group {
                namespace,
                namespace_labels: &state.labels,
                pods: Vec::new(),
                ingress: reach::selecting(state, pod, Direction::Ingress),
                egress: reach::selecting(state, pod, Direction::Egress),
                pod_cidrs,
            })
            .pods
            .push(pod);
    }
    by_key.into_values().collect()
}

fn stable_labels(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(key, _)| !PER_REPLICA_LABELS.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn selector(labels: Labels) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

fn name_selector(namespace: &str) -> LabelSelector {
    selector(Labels::from([(
        NAMESPACE_NAME_LABEL.to_string(),
        namespace.to_string(),
    )]))
}

fn port(protocol: Protocol, number: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_string()),
        port: Some(IntOrString::Int(number.into())),
        end_port: None,
    }
}

fn dns_ports() -> Vec<NetworkPolicyPort> {
    vec![port(Protocol::Udp, 53), port(Protocol::Tcp, 53)]
}

fn network_policy(namespace: &str, name: &str, spec: NetworkPolicySpec) -> NetworkPolicy {
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
fn pod_peer(namespace: &str, peer_namespace: &str, pod_labels: &Labels) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: (peer_namespace != namespace).then(|| name_selector(peer_namespace)),
        pod_selector: Some(selector(pod_labels.clone())),
        ip_block: None,
    }
}

/// Flows to keep, by the local pods' selector labels, then the peer
/// (namespace, labels), then ports.
type Needs = BTreeMap<Labels, BTreeMap<(String, Labels), BTreeSet<(Protocol, u16)>>>;

/// The flows of `local` (pods of the namespace newly isolated for
/// `direction`) that the other side explicitly admitted and that are
/// Allowed today.
fn kept_flows(local: &Group<'_>, all: &[Group<'_>], direction: Direction, needs: &mut Needs) {
    for remote in all {
        // The remote side must have been isolated and have admitted the flow.
        let remote_policies = match direction {
            Direction::Egress => &remote.ingress,
            Direction::Ingress => &remote.egress,
        };
        if remote_policies.is_empty() {
            continue;
        }
        for local_pod in &local.pods {
            let Some(remote_pod) = remote.other_than(local_pod) else {
                continue;
            };
            let (source, source_egress, destination, destination_ingress, ports) = match direction {
                Direction::Egress => (
                    local.endpoint(local_pod),
                    &local.egress,
                    remote.endpoint(remote_pod),
                    &remote.ingress,
                    &remote_pod.ports,
                ),
                Direction::Ingress => (
                    remote.endpoint(remote_pod),
                    &remote.egress,
                    local.endpoint(local_pod),
                    &local.ingress,
                    &local_pod.ports,
                ),
            };
            for container_port in ports {
                let reach = reach::connection(
                    &source,
                    source_egress,
                    &Remote::Pod(destination),
                    destination_ingress,
                    &LayerEnds::NONE,
                    container_port.protocol,
                    container_port.port,
                );
                if reach == Reach::Allowed {
                    needs
                        .entry(stable_labels(&local_pod.labels))
                        .or_default()
                        .entry((
                            remote.namespace.to_string(),
                            stable_labels(&remote_pod.labels),
                        ))
                        .or_default()
                        .insert((container_port.protocol, container_port.port));
                }
            }
            // Pods of a group answer alike; one pair per group pair suffices
            // unless the remote group is this group (then its other pod was used).
            break;
        }
    }
}

fn keep_policies(namespace: &str, direction: Direction, needs: Needs) -> Vec<Suggested> {
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

fn describe(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// DNS egress to the DNS pods as `settings` finds them (and to NodeLocal
/// DNSCache's addresses when it runs).
fn dns_egress(cluster: &Cluster, settings: &Settings, namespace: &str) -> Suggested {
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
fn dns_ingress(settings: &Settings, namespace: &str) -> Suggested {
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

fn with(cluster: &Cluster, policies: &[Suggested]) -> Cluster {
    let mut applied = cluster.clone();
    for suggested in policies {
        applied.apply_policy(&suggested.policy);
    }
    applied
}

/// The minimal policies that close `namespace`'s gaps; `None` for a namespace the index does not hold.
pub fn suggest(cluster: &Cluster, settings: &Settings, namespace: &str) -> Option<Suggestion> {
    let state = cluster.namespace(namespace)?;
    let mut suggestion = Suggestion::default();
    let mut missing = Vec::new();
    for (direction, kind) in [
        (Direction::Ingress, "Ingress"),
        (Direction::Egress, "Egress"),
    ] {
        let deny = default_deny(state, direction, &LayerSide::NONE);
        if deny.holds() {
            continue;
        }
        if !deny.cancelled_by.is_empty() {
            suggestion.notes.push(format!(
                "the {direction} default deny is cancelled by networkpolicy/{}, whose rules together allow everything: narrow them, no added policy can",
                deny.cancelled_by.join(", networkpolicy/")
            ));
        }
        missing.push(kind.to_string());
    }
    if !missing.is_empty() {
        suggestion.policies.push(Suggested {
            policy: network_policy(
                namespace,
                "netposture-default-deny",
                NetworkPolicySpec {
                    pod_selector: Some(LabelSelector::default()),
                    policy_types: Some(missing.clone()),
                    ..Default::default()
                },
            ),
            why: format!(
                "default deny for {}: every pod, including future ones, is isolated",
                missing.join(" and ")
            ),
        });
    }

    let dns_ok = |cluster: &Cluster| {
        let posture = Evaluator::new(cluster, settings).namespace(namespace);
        posture.is_some_and(|p| {
            p.dns_allowed
                && p.check(ids::DNS_TCP_ALLOWED)
                    .is_some_and(|c| c.status != CheckStatus::Warn)
        })
    };
    if !dns_ok(&with(cluster, &suggestion.policies)) {
        suggestion
            .policies
            .push(dns_egress(cluster, settings, namespace));
    }

    // Flows to keep, judged on the cluster as it is now.
    let pod_cidrs = PodCidrs::of(cluster, settings);
    let all: Vec<Group> = cluster
        .namespaces()
        .flat_map(|(name, state)| groups(name, state, &pod_cidrs))
        .collect();
    for direction in [Direction::Egress, Direction::Ingress] {
        if !missing
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&direction.to_string()))
        {
            continue;
        }
        let mut needs = Needs::new();
        for local in all.iter().filter(|g| g.namespace == namespace) {
            let isolated = match direction {
                Direction::Egress => !local.egress.is_empty(),
                Direction::Ingress => !local.ingress.is_empty(),
            };
            if !isolated {
                kept_flows(local, &all, direction, &mut needs);
            }
        }
        suggestion
            .policies
            .extend(keep_policies(namespace, direction, needs));
    }

    if namespace != settings.dns_namespace && !dns_ok(&with(cluster, &suggestion.policies)) {
        let ingress = dns_ingress(settings, namespace);
        suggestion.notes.push(format!(
            "DNS stays blocked on the DNS side: networkpolicy/{} is suggested for {}",
            ingress.policy.metadata.name.as_deref().unwrap_or_default(),
            settings.dns_namespace
        ));
        suggestion.policies.push(ingress);
    }
    Some(suggestion)
}
