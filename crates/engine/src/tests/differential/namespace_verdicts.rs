//! `dnsAllowed` and `egressOpen` as the [`Evaluator`] computes them (label
//! groups, cached DNS answers, the interval arithmetic of open egress)
//! against the brute-force reference asked pod by pod.
//!
//! Every generated cluster gets a kubeadm CoreDNS pod in `kube-system`,
//! once without an address, once with one inside some generated ipBlocks,
//! and once more with the first generated policy guarding it, so DNS
//! targets found in the cluster, pod IPs and the DNS side's ingress (whose
//! ipBlocks make each source pod's IP matter) all count.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;

use super::generate::{self, Objects};
use super::reference::{IpBlocks, Party, Reference, Side};
use super::{check, expected, index, probe};
use crate::model::Direction;
use crate::posture::CheckStatus;
use crate::reach::Reach;
use crate::{Evaluator, Settings};

/// Public addresses that tell apart every part of public space the
/// generated ipBlocks cut out: 8.8.8.0/24 and the rest of IPv4; IPv6 has
/// no generated cut inside public space.
const PUBLIC: [(&str, &str); 3] = [
    ("IPv4", "8.8.8.8"),
    ("IPv4", "1.1.1.1"),
    ("IPv6", "2606:4700::1111"),
];

fn coredns(ip: Option<&str>) -> Pod {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"containers": [{"name": "coredns", "image": "coredns/coredns:1.11.1", "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
        ]}]},
    });
    if let Some(ip) = ip {
        pod["status"] = json!({"podIP": ip, "podIPs": [{"ip": ip}]});
    }
    serde_json::from_value(pod).expect("a valid Pod")
}

/// What the reference says a namespace's pods get, with a new unlabelled
/// pod standing for the namespace when it has no pod policies apply to.
struct Expected {
    dns_udp: Vec<Reach>,
    dns_tcp: Vec<Reach>,
    egress_open: bool,
}

fn expected_for(objects: &Objects, namespace: &str) -> Expected {
    let mut with_new = objects.clone();
    with_new
        .pods
        .push(generate::unlabelled_pod(namespace, "new-pod"));
    let reference = Reference::new(&with_new.namespaces, &with_new.pods, &with_new.policies);
    let dns = with_new
        .pods
        .iter()
        .position(|p| p.metadata.namespace.as_deref() == Some("kube-system"))
        .map(Party::Pod)
        .expect("the cluster has a DNS pod");
    let regular: Vec<Party> = (0..objects.pods.len())
        .filter(|&i| {
            let pod = &objects.pods[i];
            pod.metadata.namespace.as_deref() == Some(namespace)
                && pod.spec.as_ref().and_then(|s| s.host_network) != Some(true)
        })
        .map(Party::Pod)
        .collect();
    let pods = if regular.is_empty() {
        vec![Party::Pod(objects.pods.len())]
    } else {
        regular
    };
    let probes = generate::boundary_ports()
        .into_iter()
        .flat_map(|port| ["TCP", "UDP", "SCTP"].map(|protocol| probe(protocol, port)));
    let open = |pod: Party| {
        probes.clone().any(|probe| {
            ["IPv4", "IPv6"].iter().any(|family| {
                PUBLIC
                    .iter()
                    .filter(|(f, _)| f == family)
                    .all(|(_, address)| {
                        let side = Side {
                            local: pod,
                            direction: Direction::Egress,
                            remote: Party::Address(address.parse::<IpAddr>().expect("valid")),
                        };
                        reference.side_allows(side, probe, IpBlocks::MatchPodAddresses)
                    })
            })
        })
    };
    Expected {
        dns_udp: pods
            .iter()
            .map(|&p| expected(&reference, p, dns, probe("UDP", 53)))
            .collect(),
        dns_tcp: pods
            .iter()
            .map(|&p| expected(&reference, p, dns, probe("TCP", 53)))
            .collect(),
        egress_open: pods.iter().any(|&p| open(p)),
    }
}

/// The status a DNS check must have for these answers.
fn dns_status(answers: &[Reach], denied: CheckStatus) -> CheckStatus {
    if answers.contains(&Reach::Denied) {
        denied
    } else if answers.contains(&Reach::CniDependent) {
        CheckStatus::Warn
    } else {
        CheckStatus::Pass
    }
}

/// A generated policy moved to `kube-system` and made to guard every pod
/// there for ingress (selector and policyTypes left to their defaults): one
/// with an ingress ipBlock when there is one, as then each source pod's own
/// IP decides its DNS.
fn guard(objects: &Objects) -> Option<NetworkPolicy> {
    let has_ingress_block = |policy: &&NetworkPolicy| {
        let rules = policy.spec.as_ref().and_then(|s| s.ingress.as_ref());
        rules.into_iter().flatten().any(|rule| {
            let peers = rule.from.iter().flatten();
            peers.into_iter().any(|peer| peer.ip_block.is_some())
        })
    };
    let chosen = objects
        .policies
        .iter()
        .find(has_ingress_block)
        .or(objects.policies.first())?;
    let mut guard = chosen.clone();
    guard.metadata.namespace = Some("kube-system".into());
    if let Some(spec) = guard.spec.as_mut() {
        spec.pod_selector = None;
        spec.policy_types = None;
    }
    Some(guard)
}

/// Disagreements of the Evaluator with the reference on `objects`.
pub(super) fn disagreements(objects: &Objects) -> Vec<String> {
    let cluster = index(objects);
    let settings = Settings::default();
    let evaluator = Evaluator::new(&cluster, &settings);
    let mut found = Vec::new();
    for (namespace, posture) in evaluator.all() {
        if namespace == "kube-system" {
            continue;
        }
        let wanted = expected_for(objects, &namespace);
        let status = |id: &str| posture.check(id).map(|c| c.status);
        let dns_allowed = wanted.dns_udp.iter().all(|r| *r == Reach::Allowed);
        let mut compare = |what: &str, engine: String, reference: String| {
            if engine != reference {
                found.push(format!(
                    "{namespace} {what}: engine {engine}, reference {reference}"
                ));
            }
        };
        compare(
            "dnsAllowed",
            posture.dns_allowed.to_string(),
            dns_allowed.to_string(),
        );
        compare(
            "dns-allowed",
            format!("{:?}", status("dns-allowed")),
            format!("{:?}", Some(dns_status(&wanted.dns_udp, CheckStatus::Fail))),
        );
        compare(
            "dns-tcp-allowed",
            format!("{:?}", status("dns-tcp-allowed")),
            format!("{:?}", Some(dns_status(&wanted.dns_tcp, CheckStatus::Warn))),
        );
        compare(
            "egressOpen",
            posture.egress_open.to_string(),
            wanted.egress_open.to_string(),
        );
    }
    found
}

#[test]
fn dns_allowed_and_egress_open_agree_with_the_reference_on_random_clusters() {
    check(300, |objects| {
        for (ip, guarded) in [
            (None, false),
            (Some("10.0.3.53"), false),
            (Some("10.0.3.53"), true),
        ] {
            let mut objects = objects.clone();
            objects.pods.push(coredns(ip));
            if guarded && let Some(policy) = guard(&objects) {
                objects.policies.push(policy);
            }
            let found = disagreements(&objects);
            if !found.is_empty() {
                return Err(format!(
                    "DNS pod address {ip:?}, guarded {guarded}: {} disagreement(s):\n{}\n--- cluster ---\n{}",
                    found.len(),
                    found.join("\n"),
                    objects.yaml()
                ));
            }
        }
        Ok(())
    });
}
