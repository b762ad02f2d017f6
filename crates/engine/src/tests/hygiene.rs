//! Selector hygiene: `empty-policies`, `empty-peers` and
//! `spoofable-namespace-selectors`.

use super::*;
use crate::posture::{Check, CheckStatus, Severity, ids};

fn check_of(cluster: &Cluster, namespace: &str, id: &str) -> Check {
    posture(cluster, namespace)
        .check(id)
        .expect("the check is always reported")
        .clone()
}

#[test]
fn policy_selecting_no_current_pod_warns() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "web", "{podSelector: {matchLabels: {app: web}}}"),
        policy("a", "old", "{podSelector: {matchLabels: {app: gone}}}"),
    ));
    let check = check_of(&c, "a", ids::EMPTY_POLICIES);
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(check.severity, Severity::Low);
    assert_eq!(
        check.evidence,
        ["networkpolicy/old: podSelector {app: gone} matches no pod"]
    );
    assert!(!check.remediation.is_empty());
}

#[test]
fn default_deny_in_an_empty_namespace_is_not_an_empty_policy() {
    let c = cluster(&format!(
        "{}{}",
        namespace("a", ""),
        policy(
            "a",
            "deny",
            "{podSelector: {}, policyTypes: [Ingress, Egress]}"
        ),
    ));
    assert_eq!(
        check_of(&c, "a", ids::EMPTY_POLICIES).status,
        CheckStatus::Pass
    );
}

#[test]
fn namespace_without_policies_has_no_empty_policy_to_judge() {
    let c = cluster(&pod("a", "web", "app: web"));
    assert_eq!(
        check_of(&c, "a", ids::EMPTY_POLICIES).status,
        CheckStatus::NotApplicable
    );
}

#[test]
fn policy_selecting_only_host_network_pods_is_empty() {
    let host = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: a, labels: {app: agent}}\nspec: {hostNetwork: true, containers: [{name: main, image: app}]}\n---\n";
    let c = cluster(&format!(
        "{host}{}",
        policy("a", "agent", "{podSelector: {matchLabels: {app: agent}}}")
    ));
    assert_eq!(
        check_of(&c, "a", ids::EMPTY_POLICIES).status,
        CheckStatus::Warn
    );
}

#[test]
fn namespace_selector_matching_no_namespace_is_an_empty_peer_named_by_its_place() {
    let c = cluster(&format!(
        "{}{}{}",
        namespace("b", "team: y"),
        pod("a", "web", "app: web"),
        policy(
            "a",
            "web",
            "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}, {namespaceSelector: {matchLabels: {team: x}}}]}]}"
        ),
    ));
    let check = check_of(&c, "a", ids::EMPTY_PEERS);
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(check.severity, Severity::Low);
    assert_eq!(
        check.evidence,
        ["networkpolicy/web ingress[0].from[1]: namespaceSelector {team: x} matches no namespace"]
    );
}

#[test]
fn peers_matching_a_namespace_or_pod_elsewhere_are_not_empty() {
    let c = cluster(&format!(
        "{}{}{}{}{}",
        namespace("b", "team: y"),
        namespace("c", ""),
        pod("b", "api", "app: api"),
        pod("a", "web", "app: web"),
        policy(
            "a",
            "web",
            "{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {team: y}}, podSelector: {matchLabels: {app: api}}}, {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: c}}}, {ipBlock: {cidr: 10.0.0.0/8}}]}]}"
        ),
    ));
    assert_eq!(
        check_of(&c, "a", ids::EMPTY_PEERS).status,
        CheckStatus::Pass
    );
}

#[test]
fn pod_selector_in_matching_namespaces_with_no_such_pod_is_an_empty_peer() {
    let c = cluster(&format!(
        "{}{}{}{}",
        namespace("b", ""),
        pod("b", "api", "app: api"),
        pod("a", "web", "app: web"),
        policy(
            "a",
            "web",
            "{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}, podSelector: {matchLabels: {app: db}}}, {podSelector: {matchLabels: {app: cache}}}]}]}"
        ),
    ));
    let check = check_of(&c, "a", ids::EMPTY_PEERS);
    assert_eq!(
        check.evidence,
        [
            "networkpolicy/web egress[0].to[0]: namespaceSelector {kubernetes.io/metadata.name: b} podSelector {app: db} matches no pod",
            "networkpolicy/web egress[0].to[1]: podSelector {app: cache} matches no pod in this namespace",
        ]
    );
}

#[test]
fn namespace_selector_on_a_label_other_than_the_name_is_spoofable() {
    let c = cluster(&format!(
        "{}{}",
        namespace("b", "team: x"),
        policy(
            "a",
            "web",
            "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}, {namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [x]}]}}]}]}"
        ),
    ));
    let check = check_of(&c, "a", ids::SPOOFABLE_NAMESPACE_SELECTORS);
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(check.severity, Severity::Medium);
    assert_eq!(
        check.evidence,
        ["networkpolicy/web ingress[0].from[1]: namespaceSelector on label(s) team"]
    );
    assert!(
        check.remediation.contains("kubernetes.io/metadata.name"),
        "{}",
        check.remediation
    );
}

#[test]
fn name_label_next_to_another_label_is_still_spoofable_by_the_other() {
    let c = cluster(&policy(
        "a",
        "web",
        "{podSelector: {}, egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b, env: prod}}}]}]}",
    ));
    let check = check_of(&c, "a", ids::SPOOFABLE_NAMESPACE_SELECTORS);
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(
        check.evidence,
        ["networkpolicy/web egress[0].to[0]: namespaceSelector on label(s) env"]
    );
}

#[test]
fn empty_namespace_selector_and_name_selectors_are_not_spoofable() {
    let c = cluster(&policy(
        "a",
        "web",
        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}, {namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [b]}]}}]}]}",
    ));
    assert_eq!(
        check_of(&c, "a", ids::SPOOFABLE_NAMESPACE_SELECTORS).status,
        CheckStatus::Pass
    );
}

#[test]
fn namespace_without_namespace_selectors_has_nothing_to_spoof() {
    let c = cluster(&policy(
        "a",
        "web",
        "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}",
    ));
    assert_eq!(
        check_of(&c, "a", ids::SPOOFABLE_NAMESPACE_SELECTORS).status,
        CheckStatus::NotApplicable
    );
}
