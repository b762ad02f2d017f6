//! Rules 1-7: selection, isolation, rule shapes, both sides of a connection.

use super::*;
use crate::reach::Reach::{Allowed, Denied};

const DENY_ALL_INGRESS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-in, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n---\n";

#[test]
fn rule_1_policy_selects_only_pods_in_its_own_namespace() {
    let c = cluster(&format!(
        "{}{}{}{DENY_ALL_INGRESS}",
        pod("a", "web", "app: web"),
        pod("b", "web", "app: web"),
        pod("b", "client", "app: client")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 80), Denied);
    assert_eq!(reach(&c, "b/client", "b/web", TCP, 80), Allowed);
    assert_eq!(posture(&c, "b").pods.ingress_isolated, 0);
}

#[test]
fn rule_1_missing_pod_selector_selects_every_pod() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: no-selector, namespace: a}}\nspec: {{policyTypes: [Ingress]}}\n",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.default_deny_ingress);
    assert_eq!(p.pods.ingress_isolated, 1);
}

#[test]
fn rule_2_policy_types_default_to_ingress_and_egress_only_with_egress_rules() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: both, namespace: a}}\nspec: {{podSelector: {{}}, egress: [{{to: [{{podSelector: {{}}}}]}}]}}\n",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.default_deny_ingress, "Ingress is always defaulted in");
    assert_eq!(
        p.pods.egress_isolated, 1,
        "Egress is defaulted in by a non-empty egress list"
    );
}

#[test]
fn rule_2_empty_egress_list_without_policy_types_is_ingress_only() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: in-only, namespace: a}}\nspec: {{podSelector: {{}}, egress: []}}\n",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.default_deny_ingress);
    assert!(!p.default_deny_egress);
    assert_eq!(p.pods.egress_isolated, 0);
}

#[test]
fn rule_2_rules_under_an_unlisted_direction_are_ignored() {
    let c = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: egress-only, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], ingress: [{{}}]}}\n",
        pod("a", "web", "app: web"),
        pod("a", "client", "app: client")
    ));
    // The ingress rule is ignored, so ingress stays unisolated (not "allow all from a rule").
    assert_eq!(posture(&c, "a").pods.ingress_isolated, 0);
    // Egress is isolated with no rules: nothing leaves.
    assert_eq!(reach(&c, "a/client", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_3_allowed_traffic_is_the_union_of_the_rules_of_every_selecting_policy() {
    let c = cluster(&format!(
        "{}{}{}{DENY_ALL_INGRESS}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: from-a, namespace: a}}\nspec: {{podSelector: {{matchLabels: {{app: web}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: a}}}}}}]}}]}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: from-b, namespace: a}}\nspec: {{podSelector: {{matchLabels: {{app: web}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: b}}}}}}]}}]}}\n",
        pod("a", "web", "app: web"),
        pod("a", "pa", "app: a"),
        pod("a", "pb", "app: b")
    ));
    assert_eq!(reach(&c, "a/pa", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&c, "a/pb", "a/web", TCP, 80), Allowed);
    assert_eq!(
        reach(&c, "a/web", "a/pa", TCP, 80),
        Denied,
        "pa is isolated by deny-in"
    );
}

#[test]
fn rule_3_pod_selected_by_no_policy_for_a_direction_allows_everything_there() {
    let c = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: web-only, namespace: a}}\nspec: {{podSelector: {{matchLabels: {{app: web}}}}, policyTypes: [Ingress]}}\n",
        pod("a", "web", "app: web"),
        pod("a", "db", "app: db")
    ));
    assert_eq!(reach(&c, "a/web", "a/db", TCP, 5432), Allowed);
    assert_eq!(reach(&c, "a/db", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_4_whole_namespace_policy_with_allow_rules_still_isolates_every_pod() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow-same-ns, namespace: a}}\nspec: {{podSelector: {{}}, ingress: [{{from: [{{podSelector: {{}}}}]}}]}}\n",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert_eq!(p.pods.ingress_isolated, 1);
    assert!(
        p.default_deny_ingress,
        "an empty podSelector with a narrow allow is still a default deny"
    );
}

#[test]
fn rule_4_selector_matching_every_current_pod_is_coverage_not_a_default_deny() {
    let c = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: tiers, namespace: a}}\nspec: {{podSelector: {{matchExpressions: [{{key: tier, operator: Exists}}]}}, policyTypes: [Ingress]}}\n",
        pod("a", "web", "tier: web"),
        pod("a", "db", "tier: db")
    ));
    let p = posture(&c, "a");
    assert_eq!(p.pods.ingress_isolated, 2);
    assert!(!p.default_deny_ingress);
    let check = p.check("default-deny-ingress").unwrap();
    assert!(
        check.message.contains("pods created later"),
        "{}",
        check.message
    );
}

#[test]
fn rule_5_empty_rule_list_allows_nothing_and_an_empty_rule_allows_everything() {
    let nothing = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec: {{podSelector: {{matchLabels: {{app: web}}}}, ingress: []}}\n",
        pod("a", "web", "app: web"),
        pod("a", "client", "app: client")
    ));
    assert_eq!(reach(&nothing, "a/client", "a/web", TCP, 80), Denied);
    let everything = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec: {{podSelector: {{matchLabels: {{app: web}}}}, ingress: [{{}}]}}\n",
        pod("a", "web", "app: web"),
        pod("b", "client", "app: client")
    ));
    assert_eq!(reach(&everything, "b/client", "a/web", UDP, 9999), Allowed);
}

#[test]
fn rule_5_missing_from_matches_every_source_and_missing_ports_every_port() {
    let c = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec: {{podSelector: {{}}, ingress: [{{ports: [{{port: 80}}]}}, {{from: [{{podSelector: {{matchLabels: {{app: client}}}}}}]}}]}}\n",
        pod("a", "web", "app: web"),
        pod("b", "other", "app: other")
    ));
    assert_eq!(
        reach(&c, "b/other", "a/web", TCP, 80),
        Allowed,
        "no `from`: any source"
    );
    assert_eq!(reach(&c, "b/other", "a/web", TCP, 81), Denied);
    let c2 = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec: {{podSelector: {{}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: client}}}}}}]}}]}}\n",
        pod("a", "web", "app: web"),
        pod("a", "client", "app: client")
    ));
    assert_eq!(
        reach(&c2, "a/client", "a/web", UDP, 12345),
        Allowed,
        "no `ports`: any port and protocol"
    );
}

#[test]
fn rule_6_traffic_needs_the_source_egress_and_the_destination_ingress() {
    let c = cluster(&format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny-out, namespace: b}}\nspec: {{podSelector: {{}}, policyTypes: [Egress]}}\n",
        pod("a", "web", "app: web"),
        pod("b", "client", "app: client")
    ));
    // The destination admits everything, but the source may not send.
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 80), Denied);
    assert_eq!(
        reach(&c, "a/web", "b/client", TCP, 80),
        Allowed,
        "replies and unisolated ends are free"
    );
}

#[test]
fn rule_6_for_a_peer_outside_the_cluster_only_the_in_cluster_side_counts() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: out, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{{ipBlock: {{cidr: 0.0.0.0/0}}}}]}}]}}\n",
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "93.184.216.34", TCP, 443),
        Allowed
    );
    assert_eq!(reach_address(&c, "a/web", "2606:2800::1", TCP, 443), Denied);
}

#[test]
fn rule_7_a_pod_can_always_reach_itself() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny-all, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n",
        pod("a", "web", "app: web")
    ));
    assert_eq!(reach(&c, "a/web", "a/web", TCP, 80), Allowed);
}
