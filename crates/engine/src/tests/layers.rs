//! Rules 21-22: cluster-wide and CNI-specific policy layers are recognised
//! and reported where they can apply, never silently ignored.

use super::*;
use crate::layers::{LayerPolicy, layer_kind};
use crate::posture::CheckStatus;

fn layer(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> LayerPolicy {
    LayerPolicy {
        kind: layer_kind(group, kind).expect("a known layer kind"),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

#[test]
fn rule_21_cluster_network_policy_tiers_are_reported_in_every_namespace() {
    let mut c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        pod("b", "web", "app: web")
    ));
    c.apply_layer_policy(layer(
        "policy.networking.k8s.io",
        "BaselineAdminNetworkPolicy",
        None,
        "default",
    ));
    c.apply_layer_policy(layer(
        "policy.networking.k8s.io",
        "ClusterNetworkPolicy",
        None,
        "deny-all",
    ));
    for namespace in ["a", "b"] {
        let check = posture(&c, namespace)
            .check("unevaluated-policies")
            .cloned()
            .expect("reported");
        assert_eq!(check.status, CheckStatus::Warn);
        assert_eq!(check.evidence.len(), 2, "{:?}", check.evidence);
        assert!(
            check
                .evidence
                .iter()
                .any(|e| e.contains("BaselineAdminNetworkPolicy"))
        );
    }
}

#[test]
fn rule_22_calico_and_cilium_policies_are_reported_where_they_apply() {
    let mut c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        pod("b", "web", "app: web")
    ));
    c.apply_layer_policy(layer(
        "projectcalico.org",
        "GlobalNetworkPolicy",
        None,
        "default-deny",
    ));
    c.apply_layer_policy(layer("cilium.io", "CiliumNetworkPolicy", Some("a"), "l7"));
    let a = posture(&c, "a")
        .check("unevaluated-policies")
        .cloned()
        .unwrap();
    assert_eq!(a.evidence.len(), 2);
    let b = posture(&c, "b")
        .check("unevaluated-policies")
        .cloned()
        .unwrap();
    assert_eq!(
        b.evidence,
        vec!["GlobalNetworkPolicy.crd.projectcalico.org/default-deny".to_string()]
    );
}

#[test]
fn without_other_policy_apis_there_is_no_such_check() {
    let c = cluster(&pod("a", "web", "app: web"));
    assert!(posture(&c, "a").check("unevaluated-policies").is_none());
    assert!(layer_kind("networking.k8s.io", "NetworkPolicy").is_none());
}
