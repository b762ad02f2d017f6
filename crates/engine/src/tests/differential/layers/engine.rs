//! The engine's answer for the layered test, asked as the Evaluator asks.

use super::*;

/// The engine's answer, asked as the Evaluator asks: the policies and layer
/// rules that apply to each end, then `reach::connection`.
pub(super) struct LayeredEngine<'c> {
    pub(super) pods: Vec<Endpoint<'c>>,
    pub(super) policies: Vec<[Vec<&'c crate::model::Policy>; 2]>,
    pub(super) sides: Vec<[LayerSide<'c>; 2]>,
}

pub(super) fn slot(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'c> LayeredEngine<'c> {
    pub(super) fn new(cluster: &'c Cluster, objects: &Objects) -> Self {
        let layers: Vec<&LayerPolicy> = cluster.layers().collect();
        let mut engine = LayeredEngine {
            pods: Vec::new(),
            policies: Vec::new(),
            sides: Vec::new(),
        };
        for pod in &objects.pods {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
            let (namespace, state) = cluster
                .namespaces()
                .find(|(n, _)| n.as_str() == namespace)
                .expect("the index holds every namespace");
            let pod = &state.pods[pod.metadata.name.as_deref().unwrap_or_default()];
            let end = Endpoint {
                namespace,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs: assumed_pod_cidrs(),
            };
            let applying: Vec<&LayerPolicy> = layers
                .iter()
                .copied()
                .filter(|l| l.may_apply_in(namespace, &state.labels))
                .collect();
            let both = [Direction::Ingress, Direction::Egress];
            engine
                .policies
                .push(both.map(|d| reach::selecting(state, pod, d)));
            engine.sides.push(
                both.map(|d| LayerSide::for_pod(&applying, namespace, &state.labels, pod, d)),
            );
            engine.pods.push(end);
        }
        engine
    }

    pub(super) fn reach(&self, from: Party, to: Party, probe: Probe) -> Reach {
        let protocol = Protocol::parse(probe.protocol).expect("probes use valid protocols");
        let remote = |party: Party| match party {
            Party::Pod(i) => Remote::Pod(self.pods[i]),
            Party::Address(a) => Remote::Address(a),
        };
        let none = LayerSide::NONE;
        let (egress_policies, egress_side) = match from {
            Party::Pod(i) => (
                &self.policies[i][slot(Direction::Egress)][..],
                &self.sides[i][1],
            ),
            Party::Address(_) => (&[][..], &none),
        };
        let (ingress_policies, ingress_side) = match to {
            Party::Pod(i) => (
                &self.policies[i][slot(Direction::Ingress)][..],
                &self.sides[i][0],
            ),
            Party::Address(_) => (&[][..], &none),
        };
        let ends = LayerEnds {
            egress: egress_side,
            ingress: ingress_side,
        };
        match from {
            Party::Pod(i) => reach::connection(
                &self.pods[i],
                egress_policies,
                &remote(to),
                ingress_policies,
                &ends,
                protocol,
                probe.port,
            ),
            Party::Address(_) => {
                reach::explain_connection(
                    &remote(from),
                    egress_policies,
                    &remote(to),
                    ingress_policies,
                    &ends,
                    protocol,
                    probe.port,
                )
                .reach
            }
        }
    }
}
