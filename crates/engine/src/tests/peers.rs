//! Rules 8-12: peers, ipBlocks, label selectors, the namespace name label.

use super::*;
use crate::reach::Reach::{Allowed, CniDependent, Denied};

fn ingress_policy(namespace: &str, from: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: {namespace}}}\nspec: {{podSelector: {{}}, ingress: [{{from: {from}}}]}}\n---\n"
    )
}

#[test]
fn rule_8_pod_selector_alone_means_the_policys_own_namespace() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "client", "app: client"),
        pod("b", "client", "app: client"),
        ingress_policy("a", "[{podSelector: {matchLabels: {app: client}}}]")
    ));
    assert_eq!(reach(&c, "a/client", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_8_namespace_selector_alone_means_every_pod_in_matching_namespaces() {
    let c = cluster(&format!(
        "{}{}{}{}{}",
        namespace("b", "team: blue"),
        pod("a", "web", "app: web"),
        pod("b", "any", "x: y"),
        pod("c", "any", "x: y"),
        ingress_policy("a", "[{namespaceSelector: {matchLabels: {team: blue}}}]")
    ));
    assert_eq!(reach(&c, "b/any", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&c, "c/any", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_8_empty_namespace_selector_means_every_namespace() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        pod("zzz", "any", "x: y"),
        ingress_policy("a", "[{namespaceSelector: {}}]")
    ));
    assert_eq!(reach(&c, "zzz/any", "a/web", TCP, 80), Allowed);
}

#[test]
fn rule_8_selectors_in_one_peer_are_anded_and_separate_peers_are_ored() {
    let anded = cluster(&format!(
        "{}{}{}{}{}",
        namespace("b", "team: blue"),
        pod("a", "web", "app: web"),
        pod("b", "client", "app: client"),
        pod("b", "other", "app: other"),
        ingress_policy(
            "a",
            "[{namespaceSelector: {matchLabels: {team: blue}}, podSelector: {matchLabels: {app: client}}}]"
        )
    ));
    assert_eq!(reach(&anded, "b/client", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&anded, "b/other", "a/web", TCP, 80), Denied);
    let ored = cluster(&format!(
        "{}{}{}{}{}",
        namespace("b", "team: blue"),
        pod("a", "web", "app: web"),
        pod("a", "client", "app: client"),
        pod("b", "other", "app: other"),
        ingress_policy(
            "a",
            "[{namespaceSelector: {matchLabels: {team: blue}}}, {podSelector: {matchLabels: {app: client}}}]"
        )
    ));
    assert_eq!(reach(&ored, "b/other", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&ored, "a/client", "a/web", TCP, 80), Allowed);
}

#[test]
fn rule_9_ip_block_combined_with_a_selector_is_rejected() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        ingress_policy("a", "[{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]")
    ));
    let p = posture(&c, "a");
    let finding = p
        .check("invalid-object")
        .expect("a finding names the policy");
    assert!(
        finding.message.contains("NetworkPolicy p"),
        "{}",
        finding.message
    );
    assert_eq!(
        p.pods.ingress_isolated, 0,
        "the rejected policy is left out"
    );
}

#[test]
fn rule_9_an_address_in_except_is_excluded_but_another_peer_may_readmit_it() {
    let one = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: out, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{{ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}}}]}}]}}\n",
        pod("a", "web", "app: web")
    ));
    assert_eq!(reach_address(&one, "a/web", "10.2.0.1", TCP, 80), Allowed);
    assert_eq!(reach_address(&one, "a/web", "10.1.0.1", TCP, 80), Denied);
    let two = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: out, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{{ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}}}, {{ipBlock: {{cidr: 10.1.2.0/24}}}}]}}]}}\n",
        pod("a", "web", "app: web")
    ));
    assert_eq!(reach_address(&two, "a/web", "10.1.2.3", TCP, 80), Allowed);
}

#[test]
fn rule_9_except_outside_the_cidr_is_rejected() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        ingress_policy(
            "a",
            "[{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]"
        )
    ));
    assert!(posture(&c, "a").check("invalid-object").is_some());
}

#[test]
fn rule_9_ipv4_everything_does_not_cover_ipv6() {
    let c = cluster(&format!(
        "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: out, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{{ipBlock: {{cidr: 0.0.0.0/0}}}}]}}]}}\n",
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "2001:4860::8888", UDP, 53),
        Denied
    );
}

#[test]
fn rule_10_ip_block_matching_a_pod_ip_is_cni_dependent() {
    let c = cluster(&format!(
        "{}{}{}",
        pod_with_ip("a", "web", "app: web", "10.244.1.5"),
        pod_with_ip("b", "client", "app: client", "10.244.2.7"),
        ingress_policy("a", "[{ipBlock: {cidr: 10.244.0.0/16}}]")
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 80), CniDependent);
}

#[test]
fn rule_11_match_labels_and_match_expressions_are_anded() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "both", "app: client, env: prod"),
        pod("a", "one", "app: client, env: dev"),
        ingress_policy(
            "a",
            "[{podSelector: {matchLabels: {app: client}, matchExpressions: [{key: env, operator: In, values: [prod]}]}}]"
        )
    ));
    assert_eq!(reach(&c, "a/both", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&c, "a/one", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_11_not_in_and_does_not_exist_match_pods_lacking_the_key() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "bare", "x: y"),
        pod("a", "tainted", "env: test"),
        ingress_policy(
            "a",
            "[{podSelector: {matchExpressions: [{key: env, operator: NotIn, values: [test]}, {key: quarantine, operator: DoesNotExist}]}}]"
        )
    ));
    assert_eq!(reach(&c, "a/bare", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&c, "a/tainted", "a/web", TCP, 80), Denied);
}

#[test]
fn rule_11_invalid_selector_is_a_finding_not_a_panic() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad-op, namespace: a}\nspec: {podSelector: {matchExpressions: [{key: app, operator: Equals, values: [web]}]}, policyTypes: [Ingress]}\n"
    ));
    let p = posture(&c, "a");
    let finding = p.check("invalid-object").expect("finding");
    assert!(
        finding.message.contains("bad-op") && finding.message.contains("Equals"),
        "{}",
        finding.message
    );
    assert_eq!(finding.evidence, vec!["networkpolicy/bad-op".to_string()]);
    assert!(!p.default_deny_ingress);
}

#[test]
fn rule_12_namespace_name_label_is_implied_even_when_absent() {
    // No Namespace object at all for b, and one without the label for c.
    let c = cluster(&format!(
        "{}{}{}{}{}",
        namespace("c", "team: x"),
        pod("a", "web", "app: web"),
        pod("b", "client", "app: client"),
        pod("c", "client", "app: client"),
        ingress_policy(
            "a",
            "[{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [b, c]}]}}]"
        )
    ));
    assert_eq!(reach(&c, "b/client", "a/web", TCP, 80), Allowed);
    assert_eq!(reach(&c, "c/client", "a/web", TCP, 80), Allowed);
}
