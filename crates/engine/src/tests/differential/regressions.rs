//! Minimal clusters on which the engine and the brute force once disagreed,
//! as proptest shrank them, each with the answer the semantics reference
//! requires. The seeds that found them are in `proptest-regressions/`.

use super::super::*;
use super::disagreements;

/// Found first: the engine applied a namespace's policies to a hostNetwork
/// pod there, so a deny-all ingress "protected" it. Its traffic is the
/// node's, which NetworkPolicy does not govern (rule 16).
#[test]
fn host_network_pod_is_reachable_despite_its_namespaces_deny_all() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: a}\nspec: {hostNetwork: true, containers: [{name: main, image: app}]}\nstatus: {podIP: 192.168.0.1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: b}\nspec: {containers: [{name: main, image: app}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: a}\nspec: {}\n";
    let c = cluster(yaml);
    assert_eq!(reach(&c, "b/client", "a/agent", TCP, 9100), Reach::Allowed);
    assert_eq!(disagreements(yaml), Vec::<String>::new());
}

/// Found second: every protocol re-opened, TCP by one rule and UDP and SCTP
/// by another, was still called a default deny, because each rule was
/// judged alone. Rules are a union (rule 3): together they allow every peer
/// on every port, exactly as `egress: [{}]` does. (The seed kept in
/// `proptest-regressions/` shrinks to the same flaw split by peer instead:
/// every address in one ingress rule, every pod in another.)
#[test]
fn allow_all_split_by_protocol_across_rules_is_no_default_deny() {
    let yaml = format!(
        "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: policy-0, namespace: b}}\nspec: {{policyTypes: [Egress], egress: [{{ports: [{{protocol: SCTP}}, {{protocol: UDP}}]}}, {{ports: [{{}}]}}]}}\n",
        pod("a", "pod-0", ""),
        pod("b", "pod-0", "")
    );
    let p = posture(&cluster(&yaml), "b");
    assert!(!p.default_deny_egress);
    assert_eq!(
        p.check("default-deny-egress").unwrap().evidence,
        vec!["networkpolicy/policy-0".to_string()]
    );
}
