//! Whether a namespace's pods can reach cluster components in the system
//! namespaces (kube-system by default) other than DNS, judged with both ends'
//! policies by [`reach::connection`].

use std::collections::{BTreeSet, HashMap};

use super::{Findings, capped, check};
use crate::cluster::Cluster;
use crate::layers::LayerPolicy;
use crate::model::{Direction, Labels, Peer, Pod, Policy, PortSpec, Protocol, Rule};
use crate::posture::{Check, CheckStatus, Severity, ids};
use crate::reach::{self, Endpoint, LayerEnds, LayerSide, Reach, Remote};
use crate::settings::Settings;

/// A system pod a tenant pod reaches, as evidence; not `definite` where an
/// unevaluated layer rule may decide.
#[derive(Clone)]
struct Reached {
    line: String,
    definite: bool,
}

/// A pod of a system namespace that tenants should not reach.
struct Target<'a> {
    namespace: &'a str,
    namespace_labels: &'a Labels,
    pod: &'a Pod,
    ingress: Vec<&'a Policy>,
    layer_ingress: LayerSide<'a>,
}

/// The system pods every namespace is judged against, found once per evaluation.
pub(crate) struct SystemPods<'a> {
    names: &'a [String],
    targets: Vec<Target<'a>>,
    /// The layer policies the cluster enforces, for the sources' egress side.
    layers: Vec<&'a LayerPolicy>,
    /// Whether some target's ingress has an ipBlock: then a source pod's IPs
    /// matter, and pods with equal labels may still answer differently.
    source_ips_matter: bool,
}

impl<'a> SystemPods<'a> {
    /// System pods are few (tens), so each is kept on its own. DNS pods are
    /// meant to be reached; hostNetwork pods are the node's, which
    /// NetworkPolicy does not protect (host-network-pods reports them).
    pub fn find(cluster: &'a Cluster, settings: &'a Settings, layers: &[&'a LayerPolicy]) -> Self {
        let mut targets = Vec::new();
        for name in &settings.system_namespaces {
            let Some(state) = cluster.namespace(name) else {
                continue;
            };
            for pod in state.pods.values() {
                if !settings.is_system_target(name, pod) {
                    continue;
                }
                targets.push(Target {
                    namespace: name,
                    namespace_labels: &state.labels,
                    pod,
                    ingress: reach::selecting(state, pod, Direction::Ingress),
                    layer_ingress: LayerSide::for_pod(
                        layers,
                        name,
                        &state.labels,
                        pod,
                        Direction::Ingress,
                    ),
                });
            }
        }
        let source_ips_matter = targets.iter().any(|t| {
            t.layer_ingress.has_cidrs()
                || t.ingress
                    .iter()
                    .flat_map(|p| p.ingress.iter().flatten())
                    .any(|r| r.peers.iter().any(|peer| matches!(peer, Peer::IpBlock(_))))
        });
        SystemPods {
            names: &settings.system_namespaces,
            targets,
            layers: layers.to_vec(),
            source_ips_matter,
        }
    }
}

/// Ports to try toward `target`. Declared container ports are what the pod
/// serves. A pod declaring none may listen anywhere (containerPort is only
/// informational), so every port counts: the answer only changes where a
/// rule's port range starts or ends, so one port per stretch between those
/// bounds (plus port 1) decides every port exactly.
fn probes(target: &Target<'_>, egress: &[&Policy]) -> Vec<(Protocol, u16)> {
    if !target.pod.ports.is_empty() {
        return target
            .pod
            .ports
            .iter()
            .map(|p| (p.protocol, p.port))
            .collect();
    }
    let rules = egress.iter().flat_map(|p| p.egress.iter().flatten()).chain(
        target
            .ingress
            .iter()
            .flat_map(|p| p.ingress.iter().flatten()),
    );
    let mut bounds: BTreeSet<(Protocol, u32)> = Protocol::ALL.iter().map(|p| (*p, 1)).collect();
    for rule in rules {
        bounds.extend(rule_bounds(rule));
    }
    bounds
        .into_iter()
        .filter(|(_, port)| *port <= 65535)
        .map(|(protocol, port)| (protocol, port as u16))
        .collect()
}

fn rule_bounds(rule: &Rule) -> impl Iterator<Item = (Protocol, u32)> + '_ {
    rule.ports.iter().flat_map(|m| match m.port {
        PortSpec::Range(start, end) => {
            vec![(m.protocol, start.into()), (m.protocol, u32::from(end) + 1)]
        }
        // Every port of the protocol, or a name the target does not declare.
        PortSpec::Any | PortSpec::Named(_) => Vec::new(),
    })
}

impl Findings<'_> {
    pub(super) fn system_namespaces_isolated(&self) -> Check {
        let system = self.system;
        if system.names.iter().any(|n| n == self.namespace) {
            return check(
                ids::SYSTEM_NAMESPACES_ISOLATED,
                CheckStatus::NotApplicable,
                Severity::High,
                "this is a system namespace".into(),
            );
        }
        let none_left = || {
            check(
                ids::SYSTEM_NAMESPACES_ISOLATED,
                CheckStatus::Pass,
                Severity::High,
                format!(
                    "no pod reaches a pod of {} other than DNS",
                    system.names.join(", ")
                ),
            )
        };
        if system.targets.is_empty() {
            return check(
                ids::SYSTEM_NAMESPACES_ISOLATED,
                CheckStatus::NotApplicable,
                Severity::High,
                format!(
                    "no pod of {} besides DNS and hostNetwork pods",
                    system.names.join(", ")
                ),
            );
        }
        let new_pod = Pod::unlabelled("(new pod)");
        let mut sources: Vec<&Pod> = self
            .state
            .pods
            .values()
            .filter(|p| !p.host_network)
            .collect();
        if sources.is_empty() {
            sources.push(&new_pod);
        }
        // Pods with the same labels are selected by the same policies and
        // match the same peers; only an ipBlock on the target's side tells them apart.
        let mut reached_by_labels: HashMap<&Labels, Vec<Reached>> = HashMap::new();
        let mut evidence = Vec::new();
        let mut pods_reaching = 0usize;
        let mut pods_undetermined = 0usize;
        for pod in sources {
            let reached = if system.source_ips_matter {
                self.reached_from(pod)
            } else {
                reached_by_labels
                    .entry(&pod.labels)
                    .or_insert_with(|| self.reached_from(pod))
                    .clone()
            };
            if reached.iter().any(|r| r.definite) {
                pods_reaching += 1;
            } else if !reached.is_empty() {
                pods_undetermined += 1;
            }
            evidence.extend(
                reached
                    .iter()
                    .map(|to| format!("pod/{} -> {}", pod.name, to.line)),
            );
        }
        if evidence.is_empty() {
            return none_left();
        }
        // Only flows an unevaluated rule may decide: no definite Fail.
        let (status, message) = if pods_reaching == 0 {
            (
                CheckStatus::Warn,
                format!(
                    "undetermined: a policy layer rule netposture cannot evaluate may decide whether {pods_undetermined} pod(s) reach pods of {} other than DNS (the rules are in the evidence)",
                    system.names.join(", ")
                ),
            )
        } else {
            (
                CheckStatus::Fail,
                format!(
                    "{pods_reaching} pod(s) can reach pods of {} other than DNS: cluster components are open to this namespace",
                    system.names.join(", ")
                ),
            )
        };
        check(ids::SYSTEM_NAMESPACES_ISOLATED, status, Severity::High, message)
        .with_evidence(capped(evidence))
        .with_remediation(format!(
            "Add a default deny egress in {} that allows only DNS toward system namespaces, and ingress policies in {} that admit only the components' real clients.",
            self.namespace,
            system.names.join(", ")
        ))
    }

    /// `kube-system/metrics-server:443/TCP` for each system pod `pod` reaches,
    /// on the first port that reaches it.
    fn reached_from(&self, pod: &Pod) -> Vec<Reached> {
        let egress = reach::selecting(self.state, pod, Direction::Egress);
        let layer_egress = LayerSide::for_pod(
            &self.system.layers,
            self.namespace,
            &self.state.labels,
            pod,
            Direction::Egress,
        );
        let source = Endpoint {
            namespace: self.namespace,
            namespace_labels: &self.state.labels,
            pod,
            pod_cidrs: self.pod_cidrs,
        };
        self.system
            .targets
            .iter()
            .filter_map(|target| {
                let destination = Remote::Pod(Endpoint {
                    namespace: target.namespace,
                    namespace_labels: target.namespace_labels,
                    pod: target.pod,
                    pod_cidrs: self.pod_cidrs,
                });
                let ends = LayerEnds {
                    egress: &layer_egress,
                    ingress: &target.layer_ingress,
                };
                probes(target, &egress)
                    .into_iter()
                    .find_map(|(protocol, port)| {
                        let reach = reach::connection(
                            &source,
                            &egress,
                            &destination,
                            &target.ingress,
                            &ends,
                            protocol,
                            port,
                        );
                        let line = || {
                            format!("{}/{}:{port}/{protocol}", target.namespace, target.pod.name)
                        };
                        let definite = |line| Reached {
                            line,
                            definite: true,
                        };
                        match reach {
                            Reach::Allowed => Some(definite(line())),
                            Reach::CniDependent => Some(definite(format!(
                                "{} (through an ipBlock that holds or may hold a pod IP: on some CNIs)",
                                line()
                            ))),
                            Reach::Undetermined => {
                                // Rare: name the rule only where it is needed.
                                let verdict = reach::explain_connection(
                                    &Remote::Pod(source),
                                    &egress,
                                    &destination,
                                    &target.ingress,
                                    &ends,
                                    protocol,
                                    port,
                                );
                                let rules: Vec<String> = [
                                    verdict.egress.reason.undetermined_by(),
                                    verdict.ingress.reason.undetermined_by(),
                                ]
                                .into_iter()
                                .flatten()
                                .collect();
                                Some(Reached {
                                    line: format!(
                                        "{} (undetermined: {} may decide, a rule netposture cannot evaluate)",
                                        line(),
                                        rules.join(" and ")
                                    ),
                                    definite: false,
                                })
                            }
                            Reach::Denied => None,
                        }
                    })
            })
            .collect()
    }
}
