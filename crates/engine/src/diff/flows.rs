//! Connections one side allows and the other does not. Pods differ between
//! base and head (new workloads, renamed pods, generated name suffixes), so
//! they are matched by namespace and label set, the way policies see them:
//! labels that controllers stamp per pod or per revision
//! ([`PER_POD_LABELS`]) are dropped first, so a Deployment's pods are one
//! label set. Connections come from the connectivity map
//! ([`crate::connectivity::for_each_pair`]), NetworkPolicy alone: policy
//! layers are left out, as they are there.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::Cluster;
use crate::connectivity::{self, PortRanges};
use crate::model::{Direction, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::reach::{self, Endpoint, LayerEnds, Remote, SideReason, SideVerdict};

/// Label keys whose values differ from pod to pod or from revision to
/// revision of one workload.
pub const PER_POD_LABELS: [&str; 7] = [
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
];

/// One group of connections opened or closed: from pods of one label set to
/// pods of another, on one protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowChange {
    pub source_namespace: String,
    /// `key=value`, sorted, without [`PER_POD_LABELS`].
    pub source_labels: Vec<String>,
    pub destination_namespace: String,
    pub destination_labels: Vec<String>,
    pub protocol: Protocol,
    /// Inclusive port ranges that changed.
    pub ports: PortRanges,
    /// What decides the connection in head, side by side:
    /// `egress: networkpolicy/NAME egress[0]`, `ingress: not isolated`,
    /// `ingress: denied by networkpolicy/deny-all`. Empty when head lacks
    /// the pods.
    pub decided_by: Vec<String>,
}

/// A namespace's flows, as source or destination, capped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowChanges {
    pub opened: Vec<FlowChange>,
    pub closed: Vec<FlowChange>,
    /// How many groups the cap left out of `opened` and `closed`.
    #[serde(skip_serializing_if = "is_zero")]
    pub opened_omitted: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub closed_omitted: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl FlowChanges {
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty()
            && self.closed.is_empty()
            && self.opened_omitted == 0
            && self.closed_omitted == 0
    }
}

type LabelSet = Vec<String>;
/// (source namespace, source labels, destination namespace, destination labels, protocol).
type FlowKey = (String, LabelSet, String, LabelSet, Protocol);

/// One side: the ports each flow allows, and a pod of each label set.
struct Side<'a> {
    cluster: &'a Cluster,
    pod_cidrs: &'a PodCidrs,
    flows: BTreeMap<FlowKey, BTreeSet<(u16, u16)>>,
}

impl<'a> Side<'a> {
    fn new(cluster: &'a Cluster, pod_cidrs: &'a PodCidrs) -> Self {
        let mut flows: BTreeMap<FlowKey, BTreeSet<(u16, u16)>> = BTreeMap::new();
        connectivity::for_each_pair(cluster, pod_cidrs, |pair| {
            let key = (
                pair.source.namespace.to_string(),
                label_set(&pair.source),
                pair.destination.namespace.to_string(),
                label_set(&pair.destination),
                pair.protocol,
            );
            let ports = flows.entry(key).or_default();
            ports.extend(pair.allowed.iter().chain(pair.cni_dependent));
        });
        Side {
            cluster,
            pod_cidrs,
            flows,
        }
    }

    fn ports(&self, key: &FlowKey) -> PortRanges {
        self.flows
            .get(key)
            .map(|ranges| merge(ranges.iter().copied()))
            .unwrap_or_default()
    }

    /// A pod of `namespace` with `labels`, not `other` when another exists.
    fn member(
        &self,
        namespace: &str,
        labels: &LabelSet,
        other: Option<&str>,
    ) -> Option<Endpoint<'a>> {
        let (name, state) = self.cluster.namespaces().find(|(n, _)| *n == namespace)?;
        let mut members = state.pods.values().filter(|pod| {
            let end = Endpoint {
                namespace: name,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs: self.pod_cidrs,
            };
            label_set(&end) == *labels
        });
        let first = members.next()?;
        let pod = if Some(first.name.as_str()) == other {
            members.next().unwrap_or(first)
        } else {
            first
        };
        Some(Endpoint {
            namespace: name,
            namespace_labels: &state.labels,
            pod,
            pod_cidrs: self.pod_cidrs,
        })
    }

    /// What decides `key` on `port` here, each side named.
    fn decided_by(&self, key: &FlowKey, port: u16) -> Vec<String> {
        let (source_ns, source_labels, destination_ns, destination_labels, protocol) = key;
        let Some(source) = self.member(source_ns, source_labels, None) else {
            return Vec::new();
        };
        let other = (source_ns == destination_ns).then_some(source.pod.name.as_str());
        let Some(destination) = self.member(destination_ns, destination_labels, other) else {
            return Vec::new();
        };
        let state = |ns: &str| self.cluster.namespace(ns);
        let (Some(source_state), Some(destination_state)) =
            (state(source_ns), state(destination_ns))
        else {
            return Vec::new();
        };
        let verdict = reach::explain_connection(
            &Remote::Pod(source),
            &reach::selecting(source_state, source.pod, Direction::Egress),
            &Remote::Pod(destination),
            &reach::selecting(destination_state, destination.pod, Direction::Ingress),
            &LayerEnds::NONE,
            *protocol,
            port,
        );
        vec![
            format!("egress: {}", describe(&verdict.egress, Direction::Egress)),
            format!(
                "ingress: {}",
                describe(&verdict.ingress, Direction::Ingress)
            ),
        ]
    }
}

/// How one side decided, in a few words.
fn describe(side: &SideVerdict, direction: Direction) -> String {
    match &side.reason {
        SideReason::NotIsolated => "not isolated".into(),
        SideReason::HostNetwork => "hostNetwork pod".into(),
        SideReason::SamePod => "same pod".into(),
        SideReason::NotApplicable => "no pod".into(),
        SideReason::Rule { policy, rule } => {
            format!("networkpolicy/{policy} {direction}[{rule}]")
        }
        SideReason::NoRuleAdmits { policies, .. } => {
            let named: Vec<String> = policies
                .iter()
                .map(|p| format!("networkpolicy/{p}"))
                .collect();
            format!("denied by {}", named.join(", "))
        }
        other => other
            .undetermined_by()
            .unwrap_or_else(|| format!("{:?}", side.reach)),
    }
}

/// A pod's labels without [`PER_POD_LABELS`], as sorted `key=value`.
fn label_set(end: &Endpoint<'_>) -> LabelSet {
    end.pod
        .labels
        .iter()
        .filter(|(key, _)| !PER_POD_LABELS.contains(&key.as_str()))
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// Sorted ranges, overlapping or adjacent ones merged.
fn merge(ranges: impl Iterator<Item = (u16, u16)>) -> PortRanges {
    let mut sorted: Vec<(u16, u16)> = ranges.collect();
    sorted.sort_unstable();
    let mut merged: PortRanges = Vec::new();
    for (start, end) in sorted {
        match merged.last_mut() {
            Some((_, last)) if u32::from(*last) + 1 >= u32::from(start) => {
                *last = (*last).max(end);
            }
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The ports of `a` that are not in `b` (both sorted and disjoint).
fn subtract(a: &PortRanges, b: &PortRanges) -> PortRanges {
    let mut left = Vec::new();
    for &(start, end) in a {
        let mut from = u32::from(start);
        let end = u32::from(end);
        for &(b_start, b_end) in b {
            let (b_start, b_end) = (u32::from(b_start), u32::from(b_end));
            if b_end < from || b_start > end {
                continue;
            }
            if b_start > from {
                left.push((from as u16, (b_start - 1) as u16));
            }
            from = b_end + 1;
        }
        if from <= end {
            left.push((from as u16, end as u16));
        }
    }
    left
}

/// Per namespace, the groups of connections head opens and closes, with
/// the namespace as source or destination; at most `cap` of each kind, the
/// rest counted. Namespaces without a change are absent.
pub fn flow_changes(
    base: (&Cluster, &PodCidrs),
    head: (&Cluster, &PodCidrs),
    cap: usize,
) -> BTreeMap<String, FlowChanges> {
    let base = Side::new(base.0, base.1);
    let head = Side::new(head.0, head.1);
    let keys: BTreeSet<&FlowKey> = base.flows.keys().chain(head.flows.keys()).collect();
    let mut changes: BTreeMap<String, FlowChanges> = BTreeMap::new();
    for key in keys {
        let (before, after) = (base.ports(key), head.ports(key));
        for (opened, ports) in [
            (true, subtract(&after, &before)),
            (false, subtract(&before, &after)),
        ] {
            let Some(&(first, _)) = ports.first() else {
                continue;
            };
            let change = FlowChange {
                source_namespace: key.0.clone(),
                source_labels: key.1.clone(),
                destination_namespace: key.2.clone(),
                destination_labels: key.3.clone(),
                protocol: key.4,
                ports,
                decided_by: head.decided_by(key, first),
            };
            let namespaces: BTreeSet<&String> = [&key.0, &key.2].into_iter().collect();
            for namespace in namespaces {
                let entry = changes.entry(namespace.clone()).or_default();
                let (list, omitted) = if opened {
                    (&mut entry.opened, &mut entry.opened_omitted)
                } else {
                    (&mut entry.closed, &mut entry.closed_omitted)
                };
                if list.len() < cap {
                    list.push(change.clone());
                } else {
                    *omitted += 1;
                }
            }
        }
    }
    changes
}
