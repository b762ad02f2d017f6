//! Rule 22 for Cilium: clusterwide and namespaced policies, deny rules,
//! and what is warned about instead of guessed (FQDN, L7).

use super::*;

#[test]
fn rule_22_cilium_clusterwide_policy_with_empty_rules_is_a_default_deny() {
    let c = cluster(&format!(
        "{CILIUM}{COREDNS}{CILIUM_DENY_ALL}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.default_deny_ingress && p.default_deny_egress);
    assert_eq!(
        check(&p, "default-deny-egress").evidence,
        ["ciliumclusterwidenetworkpolicy/default-deny (Cilium)"]
    );
    assert!(!p.dns_allowed);
    assert!(!p.egress_open);
    assert_eq!(p.pods.egress_isolated, 1);
    assert!(!posture(&c, "kube-system").default_deny_ingress);
}

#[test]
fn rule_22_cilium_policies_without_cilium_are_reported_as_not_enforced() {
    let c = cluster(&format!(
        "{CALICO}{CILIUM_DENY_ALL}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(!p.default_deny_egress);
    let layers = check(&p, "unevaluated-policies");
    assert_eq!(layers.status, CheckStatus::Warn);
    assert!(
        layers.evidence[0].starts_with("ciliumclusterwidenetworkpolicy/default-deny: present, but the CNI (calico) does not implement"),
        "{layers:?}"
    );
}

#[test]
fn rule_22_cilium_deny_rules_win_over_every_allow() {
    let deny = format!(
        "{CCNP}metadata: {{name: no-partner}}\nspec: {{endpointSelector: {{}}, egressDeny: [{{toCIDR: [198.51.100.0/24]}}]}}\n---\n"
    );
    let allow_world = cnp(
        "a",
        "world",
        "{endpointSelector: {}, egress: [{toEntities: [world]}]}",
    );
    let allow_all = policy(
        "a",
        "allow-all",
        "{podSelector: {}, policyTypes: [Egress], egress: [{}]}",
    );
    let c = cluster(&format!(
        "{CILIUM}{deny}{allow_world}{allow_all}{}",
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
    assert_eq!(
        reach_address(&c, "a/web", "203.0.113.1", TCP, 443),
        Reach::Allowed
    );
    // Deny rules alone isolate too (Cilium's enableDefaultDeny defaults to
    // true for a direction with rules), unless the policy opts out.
    let deny_only = cluster(&format!("{CILIUM}{deny}{}", pod("b", "web", "app: web")));
    assert_eq!(
        reach_address(&deny_only, "b/web", "203.0.113.1", TCP, 443),
        Reach::Denied
    );
    assert!(!posture(&deny_only, "b").egress_open);
    let opted_out = deny.replace(
        "endpointSelector: {}",
        "endpointSelector: {}, enableDefaultDeny: {egress: false}",
    );
    let opted_out = cluster(&format!(
        "{CILIUM}{opted_out}{}",
        pod("b", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&opted_out, "b/web", "203.0.113.1", TCP, 443),
        Reach::Allowed
    );
    assert_eq!(
        reach_address(&opted_out, "b/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
    assert!(posture(&opted_out, "b").egress_open);
}

#[test]
fn rule_22_namespaced_cilium_policies_affect_only_their_namespace() {
    let isolate = cnp(
        "a",
        "only-dns",
        "{endpointSelector: {}, egress: [{toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}], toPorts: [{ports: [{port: '53', protocol: ANY}]}]}]}",
    );
    let c = cluster(&format!(
        "{CILIUM}{COREDNS}{isolate}{}{}",
        pod("a", "web", "app: web"),
        pod("b", "web", "app: web")
    ));
    let a = posture(&c, "a");
    assert!(a.default_deny_egress && a.dns_allowed && !a.egress_open);
    let b = posture(&c, "b");
    assert!(!b.default_deny_egress && b.egress_open);
    assert!(b.check("unevaluated-policies").is_none());
}

#[test]
fn rule_22_cilium_fqdn_and_l7_rules_are_warned_about_never_guessed() {
    let fqdn = cnp(
        "a",
        "github",
        "{endpointSelector: {}, egress: [{toEndpoints: [{matchLabels: {io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}], toPorts: [{ports: [{port: '53', protocol: ANY}], rules: {dns: [{matchPattern: '*'}]}}]}, {toFQDNs: [{matchName: github.com}], toPorts: [{ports: [{port: '443'}]}]}]}",
    );
    let c = cluster(&format!(
        "{CILIUM}{COREDNS}{fqdn}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.dns_allowed, "the L7 DNS rule admits port 53 at L4");
    assert!(!p.egress_open);
    let layers = check(&p, "unevaluated-policies");
    assert_eq!(layers.status, CheckStatus::Warn);
    let evidence = layers.evidence.join("\n");
    assert!(
        evidence.contains("ciliumnetworkpolicy/github egress[0]: toPorts[0].rules: L7 rules (dns)"),
        "{evidence}"
    );
    assert!(
        evidence.contains("ciliumnetworkpolicy/github egress[1]: toFQDNs"),
        "{evidence}"
    );
    let dns = check(&p, "dns-allowed");
    assert_eq!(dns.status, CheckStatus::Warn, "{dns:?}");
    assert_eq!(check(&p, "egress-restricted").status, CheckStatus::Warn);
}
