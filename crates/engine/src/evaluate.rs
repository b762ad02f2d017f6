//! Verdicts for one namespace, from the index. An [`Evaluator`] computes the
//! cluster-wide context once (CNI, DNS pods), then evaluates any namespace
//! on its own, so a single change costs one namespace's work.

use crate::checks::{self, Findings, LayerReport};
use crate::cluster::{Cluster, NamespaceState};
use crate::cni::{self, CniStatus};
use crate::cni_agents;
use crate::compliance;
use crate::exposure;
use crate::facts::{Dns, Mesh, default_deny, pod_facts};
use crate::layers::{Enforcement, LayerPolicy};
use crate::model::Direction;
use crate::pod_cidrs::PodCidrs;
use crate::posture::{AcceptedRisk, NamespacePosture, ids};
use crate::reach::{Endpoint, LayerSide, Reach};
use crate::settings::Settings;

/// Below this many namespaces a thread costs more than it saves.
const NAMESPACES_PER_THREAD: usize = 64;

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

impl<'a> Evaluator<'a> {
    pub fn new(cluster: &'a Cluster, settings: &'a Settings) -> Self {
        let cni = settings.cni_override.clone().unwrap_or_else(|| {
            cni_agents::combine(
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
    /// Every namespace's posture, in name order. Namespaces are independent,
    /// so big clusters are split across the machine's cores.
    pub fn all(&self) -> Vec<(String, NamespacePosture)> {
        let namespaces: Vec<(&String, &NamespaceState)> = self.cluster.namespaces().collect();
        let evaluate_part = |part: &[(&String, &NamespaceState)]| -> Vec<_> {
            part.iter()
                .map(|(name, state)| ((*name).clone(), self.evaluate(name, state)))
                .collect()
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(namespaces.len() / NAMESPACES_PER_THREAD);
        if threads <= 1 {
            return evaluate_part(&namespaces);
        }
        let part_size = namespaces.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = namespaces
                .chunks(part_size)
                .map(|part| scope.spawn(move || evaluate_part(part)))
                .collect();
            parts
                .into_iter()
                .flat_map(|part| {
                    part.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
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
        let pods = pod_facts(&self.dns, &self.pod_cidrs, name, state, &layers);
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
}
