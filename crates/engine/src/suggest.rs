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

mod policies;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use policies::{dns_egress, dns_ingress, keep_policies, network_policy};

use crate::Evaluator;
use crate::cluster::{Cluster, NamespaceState};
use crate::facts::default_deny;
use crate::model::{Direction, Labels, Pod, Policy, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::posture::{CheckStatus, ids};
use crate::reach::{self, Endpoint, LayerEnds, LayerSide, Reach, Remote};
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
