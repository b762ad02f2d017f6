//! The index follows objects being added, changed and deleted, as an
//! operator feeds it from watch events.

use super::*;

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n";

#[test]
fn deleting_a_policy_reopens_the_namespace() {
    let mut c = cluster(&format!("{}{DENY}", pod("a", "web", "app: web")));
    assert!(posture(&c, "a").default_deny_ingress);
    c.delete_policy("a", "deny");
    let p = posture(&c, "a");
    assert!(!p.default_deny_ingress);
    assert_eq!(p.unprotected_pods, vec!["web".to_string()]);
}

#[test]
fn deleting_the_cni_pod_makes_the_cni_unknown_again() {
    let mut c = cluster(&format!("{CALICO}{}", pod("a", "web", "app: web")));
    assert_eq!(posture(&c, "a").cni.capable, crate::Capability::True);
    c.delete_pod("kube-system", "calico-node-1");
    assert_eq!(posture(&c, "a").cni.capable, crate::Capability::Unknown);
    assert!(
        c.namespace("kube-system").is_none(),
        "an undeclared, empty namespace is forgotten"
    );
}

#[test]
fn deleting_a_namespace_forgets_its_pods_policies_and_cni_agents() {
    let mut c = cluster(&format!("{CALICO}{}{DENY}", namespace("kube-system", "")));
    c.delete_namespace("kube-system");
    assert!(c.namespace("kube-system").is_none());
    assert_eq!(c.cni_pods().count(), 0);
    assert!(c.namespace("a").is_some(), "other namespaces stay");
}

#[test]
fn declared_namespace_stays_when_its_last_pod_goes() {
    let mut c = cluster(&format!(
        "{}{}",
        namespace("a", "team: x"),
        pod("a", "web", "app: web")
    ));
    c.delete_pod("a", "web");
    let state = c.namespace("a").expect("declared namespaces stay");
    assert_eq!(state.labels.get("team").map(String::as_str), Some("x"));
    assert_eq!(posture(&c, "a").pods.total, 0);
}

#[test]
fn relabelling_a_namespace_changes_who_its_pods_may_reach() {
    let allow_blue = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]}\n---\n";
    let mut c = cluster(&format!(
        "{}{}{}{allow_blue}",
        namespace("b", "team: red"),
        pod("a", "web", "app: web"),
        pod("b", "client", "x: y")
    ));
    assert_eq!(
        reach(&c, "b/client", "a/web", TCP, 80),
        crate::reach::Reach::Denied
    );
    let relabelled: k8s_openapi::api::core::v1::Namespace =
        serde_norway::from_str(&namespace("b", "team: blue").replace("---\n", "")).unwrap();
    c.apply_namespace(&relabelled);
    assert_eq!(
        reach(&c, "b/client", "a/web", TCP, 80),
        crate::reach::Reach::Allowed
    );
}
