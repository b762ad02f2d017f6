//! Previews of a change: the postures of the namespaces it reaches, with
//! the change made on a copy while the index itself stays as it was.

use super::*;
use crate::whatif::{Change, preview};

const DENY_EGRESS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Egress]}\n";

fn shop_and_bar() -> Cluster {
    cluster(&format!(
        "{}{}{}{}{}{}",
        namespace("shop", ""),
        namespace("bar", ""),
        namespace("kube-system", ""),
        COREDNS,
        pod("shop", "web", "app: web"),
        pod("bar", "api", "app: api"),
    ))
}

fn policy(yaml: &str) -> k8s_openapi::api::networking::v1::NetworkPolicy {
    serde_norway::from_str(yaml).expect("fixture is a NetworkPolicy")
}

#[test]
fn egress_deny_without_dns_is_previewed_on_a_copy() {
    let index = shop_and_bar();
    let deny = policy(DENY_EGRESS);
    let previews = preview(&index, &Settings::default(), &Change::PutPolicy(deny));
    let names: Vec<&str> = previews.iter().map(|p| p.namespace.as_str()).collect();
    assert_eq!(names, ["shop"], "a plain policy reaches its own namespace");
    let shop = &previews[0];
    assert!(shop.before.dns_allowed && !shop.before.default_deny_egress);
    assert!(!shop.after.dns_allowed && shop.after.default_deny_egress);
    // The index the preview read is unchanged.
    assert!(index.namespace("shop").unwrap().policies.is_empty());
    assert!(posture(&index, "shop").dns_allowed);
}

#[test]
fn deleting_a_policy_previews_its_absence() {
    let index = cluster(&format!(
        "{}{}{}{}{}",
        namespace("shop", ""),
        namespace("kube-system", ""),
        COREDNS,
        pod("shop", "web", "app: web"),
        DENY_EGRESS,
    ));
    let change = Change::DeletePolicy {
        namespace: "shop",
        name: "deny-all",
    };
    let previews = preview(&index, &Settings::default(), &change);
    assert_eq!(previews.len(), 1);
    assert!(previews[0].before.default_deny_egress && !previews[0].after.default_deny_egress);
    assert!(
        index
            .namespace("shop")
            .unwrap()
            .policies
            .contains_key("deny-all")
    );
}

#[test]
fn a_policy_in_the_dns_namespace_reaches_every_declared_namespace() {
    let index = shop_and_bar();
    let deny = policy(&DENY_EGRESS.replace("namespace: shop", "namespace: kube-system"));
    let previews = preview(&index, &Settings::default(), &Change::PutPolicy(deny));
    let names: Vec<&str> = previews.iter().map(|p| p.namespace.as_str()).collect();
    assert_eq!(names, ["bar", "kube-system", "shop"]);
}

#[test]
fn a_policy_for_an_undeclared_namespace_previews_nothing() {
    let index = shop_and_bar();
    let deny = policy(&DENY_EGRESS.replace("namespace: shop", "namespace: nowhere"));
    let previews = preview(&index, &Settings::default(), &Change::PutPolicy(deny));
    assert!(previews.is_empty());
}
