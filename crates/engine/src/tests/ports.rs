//! Rules 13-17: protocols, port ranges, named ports, hostNetwork pods.

use super::*;
use crate::reach::Reach::{Allowed, Denied};

fn web_with_ports() -> String {
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec: {containers: [{name: main, image: app, ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090, protocol: UDP}]}]}\n---\n".into()
}

fn ingress_ports(ports: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec: {{podSelector: {{}}, ingress: [{{ports: {ports}}}]}}\n---\n"
    )
}

#[test]
fn rule_13_protocol_defaults_to_tcp() {
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: 8080}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8080), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", UDP, 8080), Denied);
}

#[test]
fn rule_13_protocol_without_port_means_every_port_of_that_protocol() {
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{protocol: UDP}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", UDP, 1), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", UDP, 65535), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_13_sctp_is_valid() {
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{protocol: SCTP, port: 3868}]")
    ));
    assert!(posture(&c, "a").check("invalid-object").is_none());
    assert_eq!(
        reach(&c, "b/client", "a/web", Protocol::Sctp, 3868),
        Allowed
    );
}

#[test]
fn rule_13_end_port_makes_an_inclusive_range() {
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: 8000, endPort: 8080}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8080), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8081), Denied);
}

#[test]
fn rule_13_end_port_needs_a_numeric_port_not_below_it() {
    for (ports, why) in [
        ("[{port: http, endPort: 9000}]", "named"),
        ("[{port: 9000, endPort: 8000}]", "below"),
        ("[{endPort: 8000}]", "without port"),
        ("[{port: 70000}]", "out of range"),
    ] {
        let c = cluster(&format!("{}{}", web_with_ports(), ingress_ports(ports)));
        let p = posture(&c, "a");
        assert!(p.check("invalid-object").is_some(), "{why}: {ports}");
        assert_eq!(
            p.pods.ingress_isolated, 0,
            "{why}: rejected policy must not isolate"
        );
    }
}

#[test]
fn rule_14_ports_are_container_ports_not_service_ports() {
    // A Service may expose 80 -> 8080; the policy must name 8080.
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: 80}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8080), Denied);
}

#[test]
fn rule_15_named_port_resolves_against_the_destination_pods_container_ports() {
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: http}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8080), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 9090), Denied);
}

#[test]
fn rule_15_named_port_needs_name_and_protocol_to_match() {
    // `metrics` is a UDP container port; a TCP rule naming it resolves to nothing.
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: metrics}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 9090), Denied);
    assert_eq!(reach(&c, "b/client", "a/web", UDP, 9090), Denied);
    let udp = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: metrics, protocol: UDP}]")
    ));
    assert_eq!(reach(&udp, "b/client", "a/web", UDP, 9090), Allowed);
}

#[test]
fn rule_15_a_name_two_containers_declare_admits_both_ports() {
    let c = cluster(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: a, labels: {{app: web}}}}\nspec: {{containers: [{{name: main, image: app, ports: [{{name: metrics, containerPort: 9090}}]}}, {{name: sidecar, image: proxy, ports: [{{name: metrics, containerPort: 15090}}]}}]}}\n---\n{}{}",
        pod("b", "client", "x: y"),
        ingress_ports("[{port: metrics}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 9090), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 15090), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8080), Denied);
}

#[test]
fn rule_15_unresolved_named_port_allows_nothing_but_the_pod_stays_isolated() {
    let c = cluster(&format!(
        "{}{}{}",
        web_with_ports(),
        pod("b", "client", "x: y"),
        ingress_ports("[{port: grpc}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 8080), Denied);
    assert_eq!(posture(&c, "a").pods.ingress_isolated, 1);
}

#[test]
fn rule_15_named_ports_never_match_ip_block_destinations() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: out, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{{ipBlock: {{cidr: 0.0.0.0/0}}}}], ports: [{{port: https}}]}}]}}\n",
        web_with_ports()
    ));
    assert_eq!(
        reach_address(&c, "a/web", "93.184.216.34", TCP, 443),
        Denied
    );
    assert!(!posture(&c, "a").egress_open);
}

#[test]
fn rule_16_host_network_pods_are_unprotected_and_never_covered() {
    let c = cluster(&format!(
        "{CALICO}{COREDNS}apiVersion: v1\nkind: Pod\nmetadata: {{name: node-exporter, namespace: mon, labels: {{app: exporter}}}}\nspec: {{hostNetwork: true, containers: [{{name: e, image: prom/node-exporter}}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: mon}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress], egress: [{{ports: [{{port: 53, protocol: UDP}}]}}]}}\n"
    ));
    let p = posture(&c, "mon");
    assert!(p.default_deny_ingress && p.default_deny_egress && p.dns_allowed);
    assert_eq!(p.pods.host_network, 1);
    assert_eq!(
        p.pods.ingress_isolated, 0,
        "hostNetwork pods never count as isolated"
    );
    assert_eq!(p.unprotected_pods, vec!["node-exporter".to_string()]);
    assert!(!p.covered);
}

#[test]
fn rule_16_selectors_do_not_match_host_network_pods() {
    let c = cluster(&format!(
        "{}apiVersion: v1\nkind: Pod\nmetadata: {{name: agent, namespace: b, labels: {{app: agent}}}}\nspec: {{hostNetwork: true, containers: [{{name: a, image: agent}}]}}\n---\n{}",
        pod("a", "web", "app: web"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}\n"
    ));
    assert_eq!(reach(&c, "b/agent", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_17_only_tcp_udp_and_sctp_are_valid() {
    let c = cluster(&format!(
        "{}{}",
        web_with_ports(),
        ingress_ports("[{protocol: ICMP}]")
    ));
    let finding = posture(&c, "a")
        .check("invalid-object")
        .cloned()
        .expect("finding");
    assert!(finding.message.contains("ICMP"), "{}", finding.message);
}
