//! Turns a namespace's facts into checks (with evidence and remediation) and
//! the weighted score.

mod dashboard;
mod host_ports;
mod ingress;
mod layers;
mod mesh;

use std::collections::{BTreeMap, BTreeSet};

use crate::annotations;
use crate::cluster::{Cluster, NamespaceState};
use crate::cni::{Capability, CniStatus};
use crate::exposure::{ExposedPod, Guard, Routes};
use crate::facts::{DNS_PORT, DefaultDeny, PodFacts};
use crate::mesh::Mesh;
use crate::model::{Direction, Protocol, Service};
use crate::pod_cidrs::PodCidrs;
use crate::posture::{Check, CheckStatus, Severity, ids};
use crate::reach::Reach;
use crate::settings::Settings;

pub(crate) use layers::LayerReport;
mod hygiene;
mod system;

pub(crate) use system::SystemPods;

/// Evidence lists longer than this end with "... and N more".
const EVIDENCE_CAP: usize = 20;

pub(crate) struct Findings<'a> {
    pub namespace: &'a str,
    pub state: &'a NamespaceState,
    pub settings: &'a Settings,
    pub cni: &'a CniStatus,
    pub dns_description: String,
    pub deny_ingress: &'a DefaultDeny,
    pub deny_egress: &'a DefaultDeny,
    pub pods: &'a PodFacts,
    pub exposed: &'a [ExposedPod<'a>],
    pub routes: &'a Routes<'a>,
    /// Set when Istio is installed.
    pub mesh: Option<&'a Mesh<'a>>,
    /// Policies of other APIs that can affect this namespace.
    pub layers: LayerReport,
    /// The whole index, for peers that select other namespaces.
    pub cluster: &'a Cluster,
    pub system: &'a SystemPods<'a>,
    /// Where pods whose IP is not known may have it.
    pub pod_cidrs: &'a PodCidrs,
}

fn capped(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().collect();
    if items.len() > EVIDENCE_CAP {
        let rest = items.len() - EVIDENCE_CAP;
        items.truncate(EVIDENCE_CAP);
        items.push(format!("... and {rest} more"));
    }
    items
}

fn policies(names: &[String]) -> impl Iterator<Item = String> + '_ {
    names.iter().map(|n| format!("networkpolicy/{n}"))
}

fn pods<'p>(names: impl IntoIterator<Item = &'p String>) -> impl Iterator<Item = String> {
    names.into_iter().map(|n| format!("pod/{n}"))
}

/// How many pods a list of (Service, pod) pairs reaches; a pod behind two Services counts once.
fn distinct_pods<'e>(exposed: impl Iterator<Item = &'e ExposedPod<'e>>) -> usize {
    exposed.map(|e| e.pod).collect::<BTreeSet<_>>().len()
}

/// `service/NAME (LoadBalancer) -> pod/NAME`, with why when it is not guarded.
fn exposed_line(exposed: &ExposedPod<'_>) -> String {
    guarded_line(
        format!(
            "service/{} ({}) -> pod/{}",
            exposed.service.name,
            exposed.service.exposure_description(),
            exposed.pod
        ),
        &exposed.guard,
    )
}

/// `line`, followed by why the pod is not guarded when it is not.
fn guarded_line(line: String, guard: &Guard) -> String {
    match guard {
        Guard::HostNetwork => format!("{line}: hostNetwork, NetworkPolicy cannot protect it"),
        Guard::NotIsolated => format!("{line}: no ingress policy selects it"),
        Guard::OpenToEveryone {
            policies,
            family,
            port,
        } => format!(
            "{line}: networkpolicy/{} admit every public {} address on {port}",
            policies.join(", networkpolicy/"),
            family.name()
        ),
        Guard::Restricted => line,
    }
}

fn check(id: &str, status: CheckStatus, severity: Severity, message: String) -> Check {
    Check {
        id: id.to_string(),
        status,
        severity,
        message,
        evidence: Vec::new(),
        remediation: String::new(),
        controls: Vec::new(),
    }
}

impl Check {
    fn with_evidence(mut self, evidence: Vec<String>) -> Self {
        self.evidence = evidence;
        self
    }

    fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        if self.status != CheckStatus::Pass {
            self.remediation = remediation.into();
        }
        self
    }
}

impl Findings<'_> {
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = vec![
            self.default_deny(Direction::Ingress),
            self.default_deny(Direction::Egress),
            self.egress_restricted(),
            self.dns_udp(),
            self.dns_tcp(),
            self.cni_enforces(),
            self.pods_isolated(),
            self.host_network(),
            self.exposed_services(),
            self.system_namespaces_isolated(),
            self.empty_policies(),
            self.empty_peers(),
            self.spoofable_namespace_selectors(),
            self.host_ports(),
            self.ingress_tls(),
            self.ingress_backends(),
            self.dashboard_exposed(),
            self.mesh_mtls(),
        ];
        checks.extend(self.policy_layers());
        self.warn_where_unevaluated(&mut checks);
        checks.extend(self.invalid_layer_policies());
        checks.extend(self.state.rejected.values().map(|rejected| {
            check(
                ids::INVALID_OBJECT,
                CheckStatus::Fail,
                Severity::Medium,
                format!(
                    "{} {} would be rejected by the API server and is left out of the evaluation: {}",
                    rejected.kind, rejected.name, rejected.reason
                ),
            )
            .with_evidence(vec![format!("{}/{}", rejected.kind.to_ascii_lowercase(), rejected.name)])
            .with_remediation("Fix the object so that the API server accepts it.")
        }));
        self.apply_acceptance(&mut checks);
        checks
    }

    /// Marks accepted risks as such (keeping what was found) and reports the
    /// acceptance itself, so it stays visible and a typo in a risk name shows.
    fn apply_acceptance(&self, checks: &mut Vec<Check>) {
        let choices = &self.state.choices;
        let reason = choices.reason_or_default();
        for check in checks.iter_mut() {
            if choices.accepts(&check.id)
                && matches!(check.status, CheckStatus::Fail | CheckStatus::Warn)
            {
                check.status = CheckStatus::Accepted;
                check.message = format!("{} (risk accepted: {reason})", check.message);
            }
        }
        if !choices.unknown.is_empty() {
            let known: Vec<&str> = annotations::RISKS.iter().map(|(risk, _)| *risk).collect();
            checks.push(
                check(
                    ids::ACCEPTED_RISKS,
                    CheckStatus::Fail,
                    Severity::Low,
                    format!(
                        "{} names unknown risk(s) {}; nothing is accepted for them",
                        annotations::ACCEPT,
                        choices.unknown.join(", ")
                    ),
                )
                .with_remediation(format!("Use the risk names {}.", known.join(", "))),
            );
        } else if !choices.accepted.is_empty() {
            let risks: Vec<&str> = choices.accepted.values().copied().collect();
            checks.push(check(
                ids::ACCEPTED_RISKS,
                CheckStatus::Warn,
                Severity::Info,
                format!("accepted risk(s) {}: {reason}", risks.join(", ")),
            ));
        }
    }

    fn default_deny(&self, direction: Direction) -> Check {
        let (id, verdict, isolated) = match direction {
            Direction::Ingress => (
                ids::DEFAULT_DENY_INGRESS,
                self.deny_ingress,
                self.pods.counts.ingress_isolated,
            ),
            Direction::Egress => (
                ids::DEFAULT_DENY_EGRESS,
                self.deny_egress,
                self.pods.counts.egress_isolated,
            ),
        };
        let regular = self.pods.counts.total - self.pods.counts.host_network;
        let (status, message, evidence) = if let Some((deny, by)) = &verdict.layer {
            if *deny {
                (
                    CheckStatus::Pass,
                    format!(
                        "every pod, including future ones, is denied {direction} by default by a cluster-wide or CNI policy layer"
                    ),
                    by.clone(),
                )
            } else {
                (
                    CheckStatus::Fail,
                    format!(
                        "a policy layer allows every peer on every port for {direction}, before or instead of any default deny"
                    ),
                    by.clone(),
                )
            }
        } else if verdict.holds() {
            (
                CheckStatus::Pass,
                format!("every pod, including future ones, is isolated for {direction}"),
                policies(&verdict.providers).collect(),
            )
        } else if !verdict.cancelled_by.is_empty() {
            (
                CheckStatus::Fail,
                format!(
                    "the {direction} default deny is cancelled by whole-namespace rules that, alone or together, allow every peer on every port"
                ),
                policies(&verdict.cancelled_by).collect(),
            )
        } else if regular > 0 && isolated == regular {
            (
                CheckStatus::Fail,
                format!(
                    "all {regular} current pods are isolated for {direction}, but no policy with an empty podSelector covers pods created later"
                ),
                Vec::new(),
            )
        } else {
            (
                CheckStatus::Fail,
                format!(
                    "no policy with an empty podSelector lists {direction}: pods allow all {direction} unless a policy selects them"
                ),
                Vec::new(),
            )
        };
        let types = match direction {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        };
        check(id, status, Severity::High, message)
            .with_evidence(capped(evidence))
            .with_remediation(format!(
                "Add a NetworkPolicy in {} with `podSelector: {{}}` and `policyTypes: [{types}]`, then allow only the flows the workloads need.",
                self.namespace
            ))
    }

    fn egress_restricted(&self) -> Check {
        let open = &self.pods.egress_open;
        let undetermined = &self.pods.egress_undetermined;
        if open.is_empty() && !undetermined.is_empty() {
            return check(
                ids::EGRESS_RESTRICTED,
                CheckStatus::Warn,
                Severity::Medium,
                format!(
                    "undetermined: {} pod(s) may reach every public internet address unless a policy layer rule netposture cannot evaluate denies some",
                    undetermined.len()
                ),
            )
            .with_evidence(capped(
                undetermined.iter().map(|(pod, why)| format!("pod/{pod}: {why}")),
            ));
        }
        if open.is_empty() {
            return check(
                ids::EGRESS_RESTRICTED,
                CheckStatus::Pass,
                Severity::Medium,
                "no pod may reach the whole public internet".into(),
            );
        }
        check(
            ids::EGRESS_RESTRICTED,
            CheckStatus::Fail,
            Severity::Medium,
            format!("{} pod(s) may reach every public internet address", open.len()),
        )
        .with_evidence(capped(open.iter().map(|(pod, why)| format!("pod/{pod}: {why}"))))
        .with_remediation(
            "Restrict egress to the destinations the workloads need: in-cluster selectors, or ipBlocks for specific external ranges.",
        )
    }

    fn dns_udp(&self) -> Check {
        let blocked: Vec<&String> = self
            .pods
            .dns_udp
            .iter()
            .filter(|(_, r)| *r == Reach::Denied)
            .map(|(p, _)| p)
            .collect();
        let depends: Vec<&String> = self
            .pods
            .dns_udp
            .iter()
            .filter(|(_, r)| *r == Reach::CniDependent)
            .map(|(p, _)| p)
            .collect();
        let undetermined: Vec<&String> = self
            .pods
            .dns_udp
            .iter()
            .filter(|(_, r)| *r == Reach::Undetermined)
            .map(|(p, _)| p)
            .collect();
        let mut evidence = vec![self.dns_description.clone()];
        let (status, message) = if !blocked.is_empty() {
            evidence.extend(pods(blocked.iter().copied()));
            (
                CheckStatus::Fail,
                format!(
                    "{} pod(s) cannot send UDP/53 to any cluster DNS pod: name resolution fails",
                    blocked.len()
                ),
            )
        } else if !undetermined.is_empty() {
            evidence.extend(pods(undetermined.iter().copied()));
            (
                CheckStatus::Warn,
                format!(
                    "undetermined for {} pod(s): a policy layer rule netposture cannot evaluate may decide whether they reach DNS on UDP/53",
                    undetermined.len()
                ),
            )
        } else if !depends.is_empty() {
            evidence.extend(self.unknown_ips_note());
            evidence.extend(pods(depends.iter().copied()));
            (
                CheckStatus::Warn,
                format!(
                    "{} pod(s) reach DNS only through an ipBlock matching pod IPs, which some CNIs (Calico) honour and others (Cilium) do not",
                    depends.len()
                ),
            )
        } else {
            (
                CheckStatus::Pass,
                "every pod can send UDP/53 to cluster DNS".into(),
            )
        };
        // Where DNS is admitted, it may be only through endPort.
        if status != CheckStatus::Fail {
            evidence.extend(self.dns_end_port_notes(Protocol::Udp));
        }
        check(ids::DNS_ALLOWED, status, Severity::High, message)
            .with_evidence(capped(evidence))
            .with_remediation(format!(
                "Allow egress to the DNS pods on UDP and TCP 53 with `namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}` and their pod labels, and make sure policies in {ns} admit it.",
                ns = self.settings.dns_namespace
            ))
    }

    /// Evidence that this namespace's egress rules admit DNS on `protocol`
    /// only through `endPort`, which servers before 1.21 drop.
    fn dns_end_port_notes(&self, protocol: Protocol) -> Vec<String> {
        let mut notes = Vec::new();
        for policy in self.state.policies.values() {
            let rules = policy.rules(Direction::Egress).unwrap_or_default();
            for (index, rule) in rules.iter().enumerate() {
                if let Some(start) = rule.only_through_end_port(protocol, DNS_PORT, None) {
                    notes.push(format!(
                        "networkpolicy {}/{} egress[{index}] admits {protocol}/{DNS_PORT} only through endPort, which API servers before 1.21 drop: there it admits port {start} alone",
                        self.namespace, policy.name
                    ));
                }
            }
        }
        notes
    }

    /// Evidence for a verdict through an ipBlock when some pod's IP is not known.
    fn unknown_ips_note(&self) -> Option<String> {
        self.pods.ips_unknown.then(|| {
            format!(
                "a pod whose IP is not known may have any address of the {}",
                self.pod_cidrs
            )
        })
    }

    fn dns_tcp(&self) -> Check {
        let with = |wanted: Reach| -> Vec<&String> {
            let answers = self.pods.dns_tcp.iter();
            answers
                .filter(|(_, r)| *r == wanted)
                .map(|(p, _)| p)
                .collect()
        };
        let blocked = with(Reach::Denied);
        let undetermined = with(Reach::Undetermined);
        let depends = with(Reach::CniDependent);
        if blocked.is_empty() && !undetermined.is_empty() {
            return check(
                ids::DNS_TCP_ALLOWED,
                CheckStatus::Warn,
                Severity::Low,
                format!(
                    "undetermined for {} pod(s): a policy layer rule netposture cannot evaluate may decide whether they reach DNS on TCP/53",
                    undetermined.len()
                ),
            )
            .with_evidence(capped(pods(undetermined)));
        }
        if blocked.is_empty() && depends.is_empty() {
            return check(
                ids::DNS_TCP_ALLOWED,
                CheckStatus::Pass,
                Severity::Low,
                "every pod can send TCP/53 to cluster DNS".into(),
            )
            .with_evidence(capped(self.dns_end_port_notes(Protocol::Tcp)));
        }
        if blocked.is_empty() {
            let evidence =
                (self.unknown_ips_note().into_iter()).chain(self.dns_end_port_notes(Protocol::Tcp));
            return check(
                ids::DNS_TCP_ALLOWED,
                CheckStatus::Warn,
                Severity::Low,
                format!(
                    "{} pod(s) reach DNS over TCP/53 only through an ipBlock matching pod IPs, which some CNIs (Calico) honour and others (Cilium) do not",
                    depends.len()
                ),
            )
            .with_evidence(capped(evidence.chain(pods(depends))))
            .with_remediation(format!(
                "Allow TCP 53 to the DNS pods with a namespaceSelector on kubernetes.io/metadata.name: {} and their pod labels, which every CNI matches.",
                self.settings.dns_namespace
            ));
        }
        check(
            ids::DNS_TCP_ALLOWED,
            CheckStatus::Warn,
            Severity::Low,
            format!(
                "{} pod(s) cannot use DNS over TCP/53: large responses and some resolvers fail",
                blocked.len()
            ),
        )
        .with_evidence(capped(pods(blocked)))
        .with_remediation("Allow TCP 53 next to UDP 53 in the DNS egress rule (the named port `dns` is UDP only; add `dns-tcp` or 53/TCP).")
    }

    fn cni_enforces(&self) -> Check {
        let (status, message) = match self.cni.capable {
            Capability::True => (
                CheckStatus::Pass,
                format!("the CNI ({}) enforces NetworkPolicy", self.cni.name),
            ),
            Capability::False => (
                CheckStatus::Fail,
                format!(
                    "the CNI ({}) does not enforce NetworkPolicy: every policy is ignored",
                    self.cni.name
                ),
            ),
            Capability::Unknown => (
                CheckStatus::Warn,
                format!(
                    "the CNI ({}) is not known to enforce NetworkPolicy",
                    self.cni.name
                ),
            ),
        };
        check(ids::CNI_ENFORCES, status, Severity::Critical, message)
            .with_evidence(vec![self.cni.evidence.clone()])
            .with_remediation(
                "Run a CNI that enforces NetworkPolicy (Calico, Cilium, Antrea, ...) or add a policy engine beside it (Canal = Flannel + Calico); if detection is wrong, set the CNI in the configuration.",
            )
    }

    fn pods_isolated(&self) -> Check {
        let regular = self.pods.counts.total - self.pods.counts.host_network;
        if regular == 0 {
            return check(
                ids::PODS_ISOLATED,
                CheckStatus::NotApplicable,
                Severity::Medium,
                "no pod besides hostNetwork pods".into(),
            );
        }
        let missing = &self.pods.not_isolated;
        if missing.is_empty() {
            return check(
                ids::PODS_ISOLATED,
                CheckStatus::Pass,
                Severity::Medium,
                format!("all {regular} pods are isolated for ingress and egress"),
            );
        }
        check(
            ids::PODS_ISOLATED,
            CheckStatus::Fail,
            Severity::Medium,
            format!(
                "{} of {regular} pods are not isolated in both directions",
                missing.len()
            ),
        )
        .with_evidence(capped(pods(missing)))
        .with_remediation("Select these pods with policies for both directions, best through a default deny with `podSelector: {}`.")
    }

    fn host_network(&self) -> Check {
        let host = &self.pods.host_network;
        if host.is_empty() {
            return check(
                ids::HOST_NETWORK_PODS,
                CheckStatus::Pass,
                Severity::High,
                "no hostNetwork pod".into(),
            );
        }
        check(
            ids::HOST_NETWORK_PODS,
            CheckStatus::Fail,
            Severity::High,
            format!(
                "{} hostNetwork pod(s): NetworkPolicy does not reliably apply to them",
                host.len()
            ),
        )
        .with_evidence(capped(pods(host)))
        .with_remediation("Run these pods without hostNetwork, or move them to a dedicated, excluded system namespace.")
    }

    fn exposed_services(&self) -> Check {
        let services: Vec<&Service> = self
            .state
            .services
            .values()
            .filter(|s| s.is_exposed())
            .collect();
        if services.is_empty() {
            return check(
                ids::EXPOSED_SERVICES,
                CheckStatus::NotApplicable,
                Severity::High,
                "no Service is exposed outside the cluster".into(),
            );
        }
        let unprotected: Vec<&ExposedPod> = self
            .exposed
            .iter()
            .filter(|e| e.guard.unprotected())
            .collect();
        let open: Vec<&ExposedPod> = self
            .exposed
            .iter()
            .filter(|e| matches!(e.guard, Guard::OpenToEveryone { .. }))
            .collect();
        // Services without a selector have hand-managed endpoints, which are not evaluated.
        let selectorless = services.iter().filter(|s| s.selector.is_empty()).map(|s| {
            format!(
                "service/{} ({}): no selector, its endpoints are not evaluated",
                s.name,
                s.exposure_description()
            )
        });
        let (status, severity, message, shown) = if !unprotected.is_empty() {
            let host = distinct_pods(
                unprotected
                    .iter()
                    .copied()
                    .filter(|e| e.guard == Guard::HostNetwork),
            );
            let all = distinct_pods(unprotected.iter().copied());
            let mut why = Vec::new();
            if all > host {
                why.push(format!("{} not isolated for ingress", all - host));
            }
            if host > 0 {
                why.push(format!(
                    "{host} on the host network, where NetworkPolicy cannot protect them"
                ));
            }
            (
                CheckStatus::Fail,
                Severity::High,
                format!(
                    "{all} pod(s) behind Services exposed outside the cluster accept traffic NetworkPolicy does not restrict: {}",
                    why.join(", ")
                ),
                unprotected.into_iter().chain(open).collect::<Vec<_>>(),
            )
        } else if !open.is_empty() {
            (
                CheckStatus::Warn,
                Severity::Medium,
                format!(
                    "{} pod(s) behind Services exposed outside the cluster are isolated, but a policy admits every public address to a Service port: intended for a public load balancer perhaps, worth a look",
                    distinct_pods(open.iter().copied())
                ),
                open,
            )
        } else if self.exposed.is_empty() {
            (
                CheckStatus::Pass,
                Severity::High,
                format!(
                    "{} Service(s) exposed outside the cluster select no pod",
                    services.len()
                ),
                Vec::new(),
            )
        } else {
            (
                CheckStatus::Pass,
                Severity::High,
                format!(
                    "{} pod(s) behind {} Service(s) exposed outside the cluster admit only the sources their policies name",
                    distinct_pods(self.exposed.iter()),
                    services.len()
                ),
                self.exposed.iter().collect(),
            )
        };
        check(ids::EXPOSED_SERVICES, status, severity, message)
            .with_evidence(capped(
                shown.into_iter().map(exposed_line).chain(selectorless),
            ))
            .with_remediation(
                "Add an ingress NetworkPolicy selecting these pods that admits only the expected sources (e.g. the ingress controller's namespace, or the load balancer's source ranges as ipBlocks). NetworkPolicy cannot protect hostNetwork pods: run them without hostNetwork or stop exposing them.",
            )
    }
}

/// 0-100: the weighted share of passing checks, a Warn counting half.
/// NotApplicable checks and checks without weight do not count.
pub fn score(checks: &[Check], weights: &BTreeMap<String, u32>) -> u8 {
    let (mut earned, mut possible) = (0u64, 0u64);
    for check in checks {
        let weight = u64::from(weights.get(&check.id).copied().unwrap_or(0));
        let credit = match check.status {
            CheckStatus::Pass | CheckStatus::Accepted => 2,
            CheckStatus::Warn => 1,
            CheckStatus::Fail => 0,
            CheckStatus::NotApplicable => continue,
        };
        earned += weight * credit;
        possible += weight * 2;
    }
    if possible == 0 {
        return 100;
    }
    ((earned * 100 + possible / 2) / possible) as u8
}
