//! `system-namespaces-isolated`: tenant pods reaching system pods other than DNS.

use super::*;
use crate::posture::{Check, CheckStatus, Severity, ids};

pub(super) const METRICS_SERVER: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}\nspec: {containers: [{name: main, image: ms, ports: [{name: https, containerPort: 443}]}]}\n---\n";
const DENY_ALL: &str = "{podSelector: {}, policyTypes: [Ingress, Egress]}";

fn system_check(cluster: &Cluster, namespace: &str) -> Check {
    posture(cluster, namespace)
        .check(ids::SYSTEM_NAMESPACES_ISOLATED)
        .expect("the check is always reported")
        .clone()
}

#[test]
fn open_tenant_pod_reaching_a_system_pod_fails_naming_pod_and_port() {
    let c = cluster(&format!(
        "{COREDNS}{METRICS_SERVER}{}",
        pod("a", "web", "app: web")
    ));
    let check = system_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::High);
    assert_eq!(
        check.evidence,
        ["pod/web -> kube-system/metrics-server:443/TCP"],
        "DNS pods are meant to be reached"
    );
    assert!(!check.remediation.is_empty());
}

#[test]
fn tenant_egress_default_deny_with_dns_passes() {
    let c = cluster(&format!(
        "{COREDNS}{METRICS_SERVER}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_ALL),
        policy(
            "a",
            "dns",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}"
        ),
    ));
    assert_eq!(system_check(&c, "a").status, CheckStatus::Pass);
}

#[test]
fn system_side_ingress_policy_alone_isolates_it() {
    // A known pod IP outside the node range the policy admits: without one,
    // the pod may be anywhere in the pod CIDRs, 192.168.0.0/16 included.
    let c = cluster(&format!(
        "{COREDNS}{METRICS_SERVER}{}{}",
        pod_with_ip("a", "web", "app: web", "10.244.1.5"),
        policy(
            "kube-system",
            "ms",
            "{podSelector: {matchLabels: {k8s-app: metrics-server}}, ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/16}}]}]}"
        ),
    ));
    assert_eq!(system_check(&c, "a").status, CheckStatus::Pass);
}

#[test]
fn system_pod_without_declared_ports_is_judged_on_every_port() {
    let undeclared = pod("kube-system", "controller", "k8s-app: controller");
    let c = cluster(&format!(
        "{undeclared}{}{}",
        pod("a", "web", "app: web"),
        // Egress allows only 9000-9001 toward kube-system: found although no port is declared.
        policy(
            "a",
            "egress",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}], ports: [{port: 9000, endPort: 9001}]}]}"
        ),
    ));
    assert_eq!(
        system_check(&c, "a").evidence,
        ["pod/web -> kube-system/controller:9000/TCP"]
    );
}

#[test]
fn system_namespaces_themselves_are_not_applicable_and_configurable() {
    let c = cluster(&format!(
        "{METRICS_SERVER}{}{}",
        pod("monitoring", "prometheus", "app: prometheus"),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        system_check(&c, "kube-system").status,
        CheckStatus::NotApplicable
    );
    let settings = Settings {
        system_namespaces: vec!["kube-system".into(), "monitoring".into()],
        ..Settings::default()
    };
    let evaluator = Evaluator::new(&c, &settings);
    let a = evaluator.namespace("a").unwrap();
    let evidence = &a.check(ids::SYSTEM_NAMESPACES_ISOLATED).unwrap().evidence;
    assert!(
        evidence.contains(&"pod/web -> monitoring/prometheus:1/TCP".to_string()),
        "{evidence:?}"
    );
    let monitoring = evaluator.namespace("monitoring").unwrap();
    assert_eq!(
        monitoring
            .check(ids::SYSTEM_NAMESPACES_ISOLATED)
            .unwrap()
            .status,
        CheckStatus::NotApplicable
    );
}

#[test]
fn empty_namespace_is_judged_by_the_pod_it_would_get_next() {
    let c = cluster(&format!("{METRICS_SERVER}{}", namespace("a", "")));
    assert_eq!(
        system_check(&c, "a").evidence,
        ["pod/(new pod) -> kube-system/metrics-server:443/TCP"]
    );
}

#[test]
fn cluster_without_system_pods_besides_dns_is_not_applicable() {
    let c = cluster(&format!("{COREDNS}{}", pod("a", "web", "app: web")));
    assert_eq!(system_check(&c, "a").status, CheckStatus::NotApplicable);
}
