//! The whole connectivity map: for every ordered pair of distinct pods and
//! each protocol, the destination ports allowed, as other analyzers print
//! it. Pods are grouped into [`PodClasses`]; for each pair of classes, each
//! port segment in which no policy port, range bound or container port
//! changes the answer is decided once, by [`reach::connection`].
//! The map is Kubernetes NetworkPolicy's alone, as the analyzers it is
//! compared with see it: policy layers are left out.

use std::collections::{BTreeSet, HashMap};

use crate::Cluster;
use crate::classes::{PodClass, PodClasses};
use crate::model::{Direction, Policy, PortSpec, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};

/// Inclusive port ranges, sorted and disjoint.
pub type PortRanges = Vec<(u16, u16)>;

/// Per protocol of [`Protocol::ALL`]: the ports allowed, and those allowed
/// only through an ipBlock that holds (or may hold) a pod IP ([`Reach::CniDependent`]).
pub type Answer = [(PortRanges, PortRanges); 3];

/// One ordered pair of distinct pods and a protocol with some port not denied.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
    pub source: Endpoint<'a>,
    pub destination: Endpoint<'a>,
    pub protocol: Protocol,
    pub allowed: &'a PortRanges,
    pub cni_dependent: &'a PortRanges,
}

/// Decides class pairs. A pair's answer can change only at a port bound of
/// the source's egress policies or the destination's ingress policies, or,
/// when one of them names a port, at a container port of the destination:
/// each segment between those bounds is decided once.
pub struct Decider<'a> {
    classes: &'a PodClasses<'a>,
    egress: Vec<Bounds>,
    ingress: Vec<Bounds>,
    /// Per class: the first port and one past the end of each container port.
    container_ports: Vec<Vec<u16>>,
}

/// Where the port rules of some policies can change their answer.
struct Bounds {
    starts: Vec<u16>,
    /// Some rule names a port, which resolves on the destination.
    named: bool,
}

impl Bounds {
    fn of(policies: &[&Policy], direction: Direction) -> Self {
        let mut starts = BTreeSet::new();
        let mut named = false;
        let rules = policies
            .iter()
            .flat_map(|policy| policy.rules(direction).unwrap_or_default());
        for port in rules.flat_map(|rule| &rule.ports) {
            match port.port {
                PortSpec::Range(start, end) => add_segment(&mut starts, start, end),
                PortSpec::Named(_) => named = true,
                PortSpec::Any => {}
            }
        }
        Bounds {
            starts: starts.into_iter().collect(),
            named,
        }
    }
}

impl<'a> Decider<'a> {
    pub fn new(classes: &'a PodClasses<'a>) -> Self {
        let bounds = |direction| -> Vec<Bounds> {
            let policies = |class: &'a PodClass<'a>| match direction {
                Direction::Egress => &class.egress,
                Direction::Ingress => &class.ingress,
            };
            classes
                .classes
                .iter()
                .map(|class| Bounds::of(policies(class), direction))
                .collect()
        };
        let container_ports = classes
            .classes
            .iter()
            .map(|class| {
                let mut starts = BTreeSet::new();
                for port in class
                    .members
                    .first()
                    .map_or(&[][..], |pod| pod.ports.as_slice())
                {
                    add_segment(&mut starts, port.port, port.port);
                }
                starts.into_iter().collect()
            })
            .collect();
        Decider {
            classes,
            egress: bounds(Direction::Egress),
            ingress: bounds(Direction::Ingress),
            container_ports,
        }
    }

    /// The first port of each segment over which the pair's answer is constant.
    fn starts(&self, source: usize, destination: usize) -> Vec<u16> {
        let (egress, ingress) = (&self.egress[source], &self.ingress[destination]);
        let mut starts = vec![1];
        starts.extend(&egress.starts);
        starts.extend(&ingress.starts);
        if egress.named || ingress.named {
            starts.extend(&self.container_ports[destination]);
        }
        starts.sort_unstable();
        starts.dedup();
        starts
    }

    /// What a member of class `source` may open on a member of class
    /// `destination`, another one when they are the same class; `None` when
    /// there is no such pair (a class of one pod, with itself).
    pub fn decide(&self, source: usize, destination: usize) -> Option<Answer> {
        let starts = self.starts(source, destination);
        let (from, to) = (
            &self.classes.classes[source],
            &self.classes.classes[destination],
        );
        let from_end = from.endpoint(0)?;
        let to_end = to.endpoint(usize::from(source == destination))?;
        // Most pairs of a cluster that denies by default end here, unscanned.
        if shuts_out(
            &from.egress,
            from.namespace,
            Direction::Egress,
            &Remote::Pod(to_end),
        ) || shuts_out(
            &to.ingress,
            to.namespace,
            Direction::Ingress,
            &Remote::Pod(from_end),
        ) {
            return Some(Answer::default());
        }
        Some(Protocol::ALL.map(|protocol| {
            let mut allowed = PortRanges::new();
            let mut cni_dependent = PortRanges::new();
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).map_or(u16::MAX, |next| next - 1);
                let answer = reach::connection(
                    &from_end,
                    &from.egress,
                    &Remote::Pod(to_end),
                    &to.ingress,
                    &LayerEnds::NONE,
                    protocol,
                    start,
                );
                match answer {
                    Reach::Allowed => extend(&mut allowed, start, end),
                    Reach::CniDependent => extend(&mut cni_dependent, start, end),
                    // Without layers every rule is evaluated: nothing is undetermined.
                    Reach::Denied | Reach::Undetermined => {}
                }
            }
            (allowed, cni_dependent)
        }))
    }
}

/// Whether `policies`, selecting the local pod for `direction` in
/// `namespace`, deny `remote` every port: there are some, and each of their
/// rules names peers of which none matches `remote`.
fn shuts_out(
    policies: &[&Policy],
    namespace: &str,
    direction: Direction,
    remote: &Remote<'_>,
) -> bool {
    let mut rules = policies
        .iter()
        .flat_map(|policy| policy.rules(direction).unwrap_or_default());
    !policies.is_empty()
        && rules.all(|rule| {
            !rule.peers.is_empty()
                && rule
                    .peers
                    .iter()
                    .all(|peer| reach::peer_matches(peer, namespace, remote) == Reach::Denied)
        })
}

/// Calls `emit` for every ordered pair of distinct pods and protocol with
/// at least one port not denied, in namespace and pod name order of the
/// source, then of the destination.
///
/// Each pair of [`PodClasses`] is decided once. Memory stays bounded by the
/// classes, not the pairs: answers are interned (clusters have few distinct
/// ones) and only the rows of the source namespace's classes are kept.
///
/// `pod_cidrs` are where a pod whose IP is not known may have it.
pub fn for_each_pair(cluster: &Cluster, pod_cidrs: &PodCidrs, mut emit: impl FnMut(Pair<'_>)) {
    let classes = PodClasses::new(cluster, pod_cidrs);
    let decider = Decider::new(&classes);
    let mut answers: Vec<Answer> = Vec::new();
    let mut answer_ids: HashMap<Answer, u32> = HashMap::new();
    let mut rows: HashMap<usize, Vec<Option<u32>>> = HashMap::new();
    let mut row_namespace = "";
    for &(source, s) in &classes.pods {
        if source.namespace != row_namespace {
            rows.clear();
            row_namespace = source.namespace;
        }
        let row = rows.entry(s).or_insert_with(|| {
            (0..classes.classes.len())
                .map(|d| {
                    let answer = decider.decide(s, d)?;
                    let next = answers.len() as u32;
                    let id = *answer_ids.entry(answer).or_insert_with_key(|answer| {
                        answers.push(answer.clone());
                        next
                    });
                    Some(id)
                })
                .collect()
        });
        for &(destination, d) in &classes.pods {
            if s == d && source.pod.name == destination.pod.name {
                continue;
            }
            let Some(id) = row[d] else {
                continue;
            };
            for (protocol, (allowed, cni_dependent)) in
                Protocol::ALL.into_iter().zip(&answers[id as usize])
            {
                if !allowed.is_empty() || !cni_dependent.is_empty() {
                    emit(Pair {
                        source,
                        destination,
                        protocol,
                        allowed,
                        cni_dependent,
                    });
                }
            }
        }
    }
}

/// Records where `start..=end` begins and where the ports after it do.
fn add_segment(starts: &mut BTreeSet<u16>, start: u16, end: u16) {
    starts.insert(start.max(1));
    if let Some(next) = end.checked_add(1) {
        starts.insert(next);
    }
}

/// Appends `start..=end`, merged with the last range when adjacent.
fn extend(ranges: &mut PortRanges, start: u16, end: u16) {
    match ranges.last_mut() {
        Some((_, last_end)) if last_end.checked_add(1) == Some(start) => *last_end = end,
        _ => ranges.push((start, end)),
    }
}
