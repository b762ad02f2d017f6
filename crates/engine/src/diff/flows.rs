//! Connections one side allows and the other does not. Pods differ between
//! base and head (new workloads, renamed pods, generated name suffixes), so
//! they are matched by namespace and label set, the way policies see them:
//! labels that controllers stamp per pod or per revision
//! ([`PER_POD_LABELS`]) are dropped first, so a Deployment's pods are one
//! label set. Connections come from the connectivity map
//! ([`crate::connectivity::for_each_pair`]), NetworkPolicy alone: policy
//! layers are left out, as they are there.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::Cluster;
use crate::connectivity::{self, PortRanges};
use crate::model::{Direction, Labels, Pod, Protocol};
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
/// pods of another, on the same ports of one or more protocols.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowChange {
    pub source_namespace: String,
    /// `key=value`, sorted, without [`PER_POD_LABELS`].
    pub source_labels: Vec<String>,
    pub destination_namespace: String,
    pub destination_labels: Vec<String>,
    /// In [`Protocol::ALL`] order.
    pub protocols: Vec<Protocol>,
    /// Inclusive port ranges that changed, the same for each protocol.
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

/// One side: the ports each flow allows, and the pods of each label set.
struct Side<'a> {
    cluster: &'a Cluster,
    pod_cidrs: &'a PodCidrs,
    flows: BTreeMap<FlowKey, PortRanges>,
    /// Per namespace and label set, its pods in name order.
    members: HashMap<(String, LabelSet), Vec<&'a Pod>>,
}

impl<'a> Side<'a> {
    fn new(cluster: &'a Cluster, pod_cidrs: &'a PodCidrs) -> Self {
        // Label sets are computed once per pod, and pairs are tallied by
        // set number: the pairs are many, the pods and sets few.
        let mut sets: Vec<(String, LabelSet)> = Vec::new();
        let mut set_numbers: HashMap<(String, LabelSet), u32> = HashMap::new();
        let mut members: HashMap<(String, LabelSet), Vec<&'a Pod>> = HashMap::new();
        // By the pod's address in the index, which every pair refers to.
        let mut set_of_pod: HashMap<*const Pod, u32> = HashMap::new();
        for (namespace, state) in cluster.namespaces() {
            for pod in state.pods.values() {
                let key = (namespace.clone(), label_set(&pod.labels));
                let number = *set_numbers.entry(key.clone()).or_insert_with(|| {
                    sets.push(key.clone());
                    (sets.len() - 1) as u32
                });
                set_of_pod.insert(std::ptr::from_ref(pod), number);
                members.entry(key).or_default().push(pod);
            }
        }
        let mut tallied: HashMap<(u32, u32, Protocol), BTreeSet<(u16, u16)>> = HashMap::new();
        connectivity::for_each_pair(cluster, pod_cidrs, |pair| {
            let set = |pod: &Pod| set_of_pod.get(&std::ptr::from_ref(pod)).copied();
            if let (Some(source), Some(destination)) =
                (set(pair.source.pod), set(pair.destination.pod))
            {
                let ports = tallied
                    .entry((source, destination, pair.protocol))
                    .or_default();
                ports.extend(pair.allowed.iter().chain(pair.cni_dependent));
            }
        });
        let flows = tallied
            .into_iter()
            .map(|((source, destination, protocol), ports)| {
                let (source, destination) = (&sets[source as usize], &sets[destination as usize]);
                let key = (
                    source.0.clone(),
                    source.1.clone(),
                    destination.0.clone(),
                    destination.1.clone(),
                    protocol,
                );
                (key, merge(ports.into_iter()))
            })
            .collect();
        Side {
            cluster,
            pod_cidrs,
            flows,
            members,
        }
    }

    fn ports(&self, key: &FlowKey) -> PortRanges {
        self.flows.get(key).cloned().unwrap_or_default()
    }

    /// A pod of `namespace` with `labels`, not `other` when another exists.
    fn member(
        &self,
        namespace: &str,
        labels: &LabelSet,
        other: Option<&str>,
    ) -> Option<Endpoint<'a>> {
        let (name, state) = self.cluster.namespaces().find(|(n, _)| *n == namespace)?;
        let pods = self.members.get(&(namespace.to_string(), labels.clone()))?;
        let pod = pods
            .iter()
            .find(|pod| Some(pod.name.as_str()) != other)
            .or(pods.first())?;
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

/// Labels without [`PER_POD_LABELS`], as sorted `key=value`.
fn label_set(labels: &Labels) -> LabelSet {
    labels
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
/// rest counted. Protocols with the same ports and deciding rules share a
/// group. Namespaces without a change are absent.
pub fn flow_changes(
    base: (&Cluster, &PodCidrs),
    head: (&Cluster, &PodCidrs),
    cap: usize,
) -> BTreeMap<String, FlowChanges> {
    let base = Side::new(base.0, base.1);
    let head = Side::new(head.0, head.1);
    let keys: BTreeSet<&FlowKey> = base.flows.keys().chain(head.flows.keys()).collect();
    let (mut opened_all, mut closed_all) = (Vec::new(), Vec::new());
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
                protocols: vec![key.4],
                ports,
                decided_by: head.decided_by(key, first),
            };
            let list = if opened {
                &mut opened_all
            } else {
                &mut closed_all
            };
            // Keys of one pair of label sets are adjacent, protocol last.
            match list.last_mut() {
                Some(last) if same_but_protocol(last, &change) => last.protocols.push(key.4),
                _ => list.push(change),
            }
        }
    }
    let mut changes: BTreeMap<String, FlowChanges> = BTreeMap::new();
    for (opened, list) in [(true, opened_all), (false, closed_all)] {
        for change in list {
            let namespaces: BTreeSet<&String> =
                [&change.source_namespace, &change.destination_namespace]
                    .into_iter()
                    .collect();
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

/// Whether two changes differ in their protocol alone.
fn same_but_protocol(a: &FlowChange, b: &FlowChange) -> bool {
    a.source_namespace == b.source_namespace
        && a.source_labels == b.source_labels
        && a.destination_namespace == b.destination_namespace
        && a.destination_labels == b.destination_labels
        && a.ports == b.ports
        && a.decided_by == b.decided_by
}
