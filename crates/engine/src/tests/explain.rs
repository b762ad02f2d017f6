//! `explain_connection`: which policy and rule decide each side, and that
//! its answer is the one `connection` gives.

use super::*;
use crate::reach::Reach::{Allowed, CniDependent, Denied};
use crate::reach::{ConnectionVerdict, LayerEnds, RuleRef, SideReason, SideVerdict};

const DEFAULT_DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n---\n";

/// `web` may call `api` on 8080: egress in its second rule, ingress in `api`'s first.
const WEB_TO_API: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: a}\nspec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}]}, {to: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 8080}]}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: a}\nspec: {podSelector: {matchLabels: {app: api}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]}\n---\n";

fn shop() -> Cluster {
    cluster(&format!(
        "{}{}{}{DEFAULT_DENY}{WEB_TO_API}",
        pod("a", "web", "app: web"),
        pod("a", "api", "app: api"),
        pod("open", "client", "app: client"),
    ))
}

/// Both sides of `from` -> `to` (each `namespace/pod`), explained.
fn explain(
    cluster: &Cluster,
    from: &str,
    to: &str,
    protocol: Protocol,
    port: u16,
) -> ConnectionVerdict {
    let (source, source_state) = endpoint(cluster, from);
    let (destination, destination_state) = endpoint(cluster, to);
    reach::explain_connection(
        &Remote::Pod(source),
        &reach::selecting(source_state, source.pod, Direction::Egress),
        &Remote::Pod(destination),
        &reach::selecting(destination_state, destination.pod, Direction::Ingress),
        &LayerEnds::NONE,
        protocol,
        port,
    )
}

/// Denied by `policies`, where `port_rules` admit the port but not the peer.
fn denied_by(policies: &[&str], port_rules: &[(&str, usize)]) -> SideReason {
    SideReason::NoRuleAdmits {
        policies: policies.iter().map(|p| p.to_string()).collect(),
        port_rules: port_rules
            .iter()
            .map(|(policy, rule)| RuleRef {
                policy: policy.to_string(),
                rule: *rule,
            })
            .collect(),
        layer_policies: Vec::new(),
    }
}

fn rule(policy: &str, rule: usize) -> SideReason {
    SideReason::Rule {
        policy: policy.into(),
        rule,
    }
}

#[test]
fn allowed_side_names_the_admitting_policy_and_rule() {
    let verdict = explain(&shop(), "a/web", "a/api", TCP, 8080);
    assert_eq!(verdict.reach, Allowed);
    assert_eq!(
        verdict.egress,
        SideVerdict {
            reach: Allowed,
            reason: rule("web", 1)
        },
        "the DNS rule at index 0 does not admit 8080"
    );
    assert_eq!(
        verdict.ingress,
        SideVerdict {
            reach: Allowed,
            reason: rule("api", 0)
        }
    );
}

#[test]
fn denied_side_lists_the_isolating_policies() {
    let verdict = explain(&shop(), "a/web", "a/api", TCP, 9090);
    assert_eq!(verdict.reach, Denied);
    assert_eq!(
        verdict.egress,
        SideVerdict {
            reach: Denied,
            reason: denied_by(&["default-deny", "web"], &[])
        }
    );
    assert_eq!(
        verdict.ingress.reason,
        denied_by(&["api", "default-deny"], &[])
    );
}

#[test]
fn ingress_side_is_explained_even_when_egress_already_denies() {
    let verdict = explain(&shop(), "a/api", "a/web", TCP, 8080);
    assert_eq!(verdict.reach, Denied);
    assert_eq!(
        verdict.egress.reason,
        denied_by(&["default-deny"], &[]),
        "policy api lists only Ingress"
    );
    assert_eq!(
        verdict.ingress,
        SideVerdict {
            reach: Denied,
            reason: denied_by(&["default-deny"], &[])
        }
    );
}

#[test]
fn unselected_pod_is_not_isolated() {
    let verdict = explain(&shop(), "open/client", "a/api", TCP, 8080);
    assert_eq!(
        verdict.egress,
        SideVerdict {
            reach: Allowed,
            reason: SideReason::NotIsolated
        }
    );
    assert_eq!(
        verdict.ingress.reason,
        denied_by(&["api", "default-deny"], &[("api", 0)]),
        "a podSelector alone admits only the policy's own namespace"
    );
    assert_eq!(verdict.reach, Denied);
}

#[test]
fn denied_side_names_the_rules_that_admit_the_port_but_not_the_peer() {
    // The DNS rule selects kube-system by a label it does not carry.
    let dns = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-dns, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {name: kube-system}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}\n---\n";
    let c = cluster(&format!(
        "{COREDNS}{}{DEFAULT_DENY}{dns}",
        pod("a", "etl", "app: etl")
    ));
    let verdict = explain(&c, "a/etl", "kube-system/coredns-1", UDP, 53);
    assert_eq!(
        verdict.egress,
        SideVerdict {
            reach: Denied,
            reason: denied_by(&["allow-dns", "default-deny"], &[("allow-dns", 0)])
        }
    );
    assert_eq!(verdict.ingress.reason, SideReason::NotIsolated);
}

#[test]
fn ip_block_on_a_pod_ip_names_the_rule_that_depends_on_the_cni() {
    let by_block = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: by-block, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}\n---\n";
    let c = cluster(&format!(
        "{}{}{by_block}",
        pod("a", "web", "app: web"),
        pod_with_ip("b", "db", "app: db", "10.1.2.3"),
    ));
    let verdict = explain(&c, "a/web", "b/db", TCP, 5432);
    assert_eq!(verdict.reach, CniDependent);
    assert_eq!(
        verdict.egress,
        SideVerdict {
            reach: CniDependent,
            reason: rule("by-block", 0)
        }
    );
}

#[test]
fn allowing_rule_is_named_over_an_earlier_cni_dependent_one() {
    let rules = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}, {to: [{namespaceSelector: {}}]}]}\n---\n";
    let c = cluster(&format!(
        "{}{}{rules}",
        pod("a", "web", "app: web"),
        pod_with_ip("b", "db", "app: db", "10.1.2.3"),
    ));
    assert_eq!(
        explain(&c, "a/web", "b/db", TCP, 5432).egress.reason,
        rule("out", 1)
    );
}

#[test]
fn external_client_is_judged_by_the_destination_ingress_only() {
    let from_block = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-office, namespace: a}\nspec: {podSelector: {matchLabels: {app: web}}, ingress: [{from: [{ipBlock: {cidr: 203.0.113.0/24}}]}]}\n---\n";
    let c = cluster(&format!(
        "{}{DEFAULT_DENY}{from_block}",
        pod("a", "web", "app: web")
    ));
    let (web, state) = endpoint(&c, "a/web");
    let ingress = reach::selecting(state, web.pod, Direction::Ingress);
    let from = |ip: &str| {
        reach::explain_connection(
            &Remote::Address(ip.parse().unwrap()),
            &[],
            &Remote::Pod(web),
            &ingress,
            &LayerEnds::NONE,
            TCP,
            443,
        )
    };
    let office = from("203.0.113.7");
    assert_eq!(office.reach, Allowed);
    assert_eq!(office.egress.reason, SideReason::NotApplicable);
    assert_eq!(office.ingress.reason, rule("from-office", 0));
    let elsewhere = from("198.51.100.1");
    assert_eq!(elsewhere.reach, Denied);
    assert_eq!(
        elsewhere.ingress.reason,
        denied_by(&["default-deny", "from-office"], &[("from-office", 0)])
    );
}

#[test]
fn address_destination_has_no_ingress_side() {
    let c = shop();
    let (web, state) = endpoint(&c, "a/web");
    let egress = reach::selecting(state, web.pod, Direction::Egress);
    let verdict = reach::explain_connection(
        &Remote::Pod(web),
        &egress,
        &Remote::Address("192.0.2.1".parse().unwrap()),
        &[],
        &LayerEnds::NONE,
        UDP,
        53,
    );
    assert_eq!(verdict.reach, Allowed);
    assert_eq!(verdict.egress.reason, rule("web", 0));
    assert_eq!(verdict.ingress.reason, SideReason::NotApplicable);
}

#[test]
fn pod_reaching_itself_is_allowed_whatever_the_policies() {
    let verdict = explain(&shop(), "a/web", "a/web", TCP, 80);
    assert_eq!(verdict.reach, Allowed);
    assert_eq!(verdict.egress.reason, SideReason::SamePod);
    assert_eq!(verdict.ingress.reason, SideReason::SamePod);
}

#[test]
fn host_network_destination_is_not_governed_by_the_policies_selecting_it() {
    let exporter = "apiVersion: v1\nkind: Pod\nmetadata: {name: exporter, namespace: a, labels: {app: exporter}}\nspec: {hostNetwork: true, containers: [{name: e, image: prom/node-exporter}]}\n---\n";
    let c = cluster(&format!(
        "{}{exporter}{DEFAULT_DENY}",
        pod("open", "client", "app: client")
    ));
    let verdict = explain(&c, "open/client", "a/exporter", TCP, 9100);
    assert_eq!(verdict.reach, Allowed);
    assert_eq!(verdict.ingress.reason, SideReason::HostNetwork);
}

#[test]
fn explained_reach_is_the_reach_connection_gives() {
    let c = shop();
    let pods = ["a/web", "a/api", "open/client"];
    for from in pods {
        for to in pods {
            for port in [53, 8080, 9090] {
                assert_eq!(
                    explain(&c, from, to, TCP, port).reach,
                    reach(&c, from, to, TCP, port),
                    "{from} -> {to} {port}/TCP"
                );
            }
        }
    }
}
