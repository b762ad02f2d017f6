//! The DNS checks: whether every pod reaches the cluster's DNS over UDP
//! and over TCP, with the endPort and unknown-IP caveats.

use super::{Findings, capped, check, pods};
use crate::facts::DNS_PORT;
use crate::model::{Direction, Protocol};
use crate::posture::{Check, CheckStatus, Severity, ids};
use crate::reach::Reach;

impl Findings<'_> {
    pub(super) fn dns_udp(&self) -> Check {
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

    pub(super) fn dns_tcp(&self) -> Check {
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
}
