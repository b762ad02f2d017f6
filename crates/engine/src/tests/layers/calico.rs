//! Rule 22 for Calico: global and namespaced policies, order around
//! NetworkPolicy, and selectors the engine cannot evaluate.

use super::*;

#[test]
fn rule_22_calico_global_policy_selecting_everything_is_a_default_deny() {
    let deny_all = format!(
        "{GNP}metadata: {{name: default-deny}}\nspec: {{order: 2000, selector: all(), namespaceSelector: \"kubernetes.io/metadata.name != 'kube-system'\", types: [Ingress, Egress]}}\n---\n"
    );
    let c = cluster(&format!(
        "{CALICO}{COREDNS}{deny_all}{}{}",
        policy("a", "allow-dns", ALLOW_DNS_POLICY),
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(
        p.default_deny_ingress,
        "{:?}",
        check(&p, "default-deny-ingress")
    );
    assert_eq!(
        check(&p, "default-deny-ingress").evidence,
        ["globalnetworkpolicy/default-deny (Calico, order 2000)"]
    );
    assert!(
        p.dns_allowed,
        "Kubernetes NetworkPolicy (order 1000) allows DNS first"
    );
    assert!(!p.egress_open);
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
    assert!(!posture(&c, "kube-system").default_deny_ingress);
}

#[test]
fn rule_22_calico_order_puts_rules_before_or_after_network_policy() {
    let deny_internet = |order| {
        format!(
            "{GNP}metadata: {{name: no-internet}}\nspec: {{order: {order}, selector: all(), types: [Egress], egress: [{{action: Deny, destination: {{nets: ['0.0.0.0/0']}}}}, {{action: Pass}}]}}\n---\n"
        )
    };
    let allow_all = policy(
        "a",
        "allow-all",
        "{podSelector: {}, policyTypes: [Egress], egress: [{}]}",
    );
    let web = pod("a", "web", "app: web");
    let before = cluster(&format!("{CALICO}{}{allow_all}{web}", deny_internet(100)));
    assert_eq!(
        reach_address(&before, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
    // Pass skips the rest of the tier, NetworkPolicy included: default allow.
    assert_eq!(
        reach_address(&before, "a/web", "2001:db8::1", TCP, 443),
        Reach::Allowed
    );
    let after = cluster(&format!("{CALICO}{}{allow_all}{web}", deny_internet(1500)));
    assert_eq!(
        reach_address(&after, "a/web", "198.51.100.1", TCP, 443),
        Reach::Allowed
    );
}

#[test]
fn rule_22_namespaced_calico_policy_and_unevaluated_selectors() {
    let calico_np = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: web-only, namespace: a}\nspec: {selector: \"app == 'web'\", types: [Ingress], ingress: [{action: Allow, source: {selector: \"role in {'lb', 'proxy'}\"}}]}\n---\n";
    let unreadable = format!(
        "{GNP}metadata: {{name: fancy}}\nspec: {{selector: \"app == 'x' || app == 'y'\", types: [Egress]}}\n---\n"
    );
    let c = cluster(&format!(
        "{CALICO}{calico_np}{unreadable}{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "lb", "role: lb"),
        pod("b", "web", "app: web")
    ));
    // The unreadable global policy may govern every pod, either way.
    assert_eq!(reach(&c, "a/lb", "a/web", TCP, 80), Reach::Undetermined);
    assert_eq!(reach(&c, "b/web", "a/web", TCP, 80), Reach::Undetermined);
    assert_eq!(reach(&c, "a/web", "b/web", TCP, 80), Reach::Undetermined);
    let without = cluster(&format!(
        "{CALICO}{calico_np}{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "lb", "role: lb"),
        pod("b", "web", "app: web")
    ));
    assert_eq!(reach(&without, "a/lb", "a/web", TCP, 80), Reach::Allowed);
    assert_eq!(reach(&without, "b/web", "a/web", TCP, 80), Reach::Denied);
    let b = posture(&c, "b");
    let layers = check(&b, "unevaluated-policies");
    assert_eq!(layers.status, CheckStatus::Warn);
    assert_eq!(
        layers.evidence.len(),
        2,
        "only the global policy is reported in b: {layers:?}"
    );
    assert!(
        layers.evidence[0].starts_with("globalnetworkpolicy/fancy spec.selector:"),
        "{layers:?}"
    );
    assert!(
        layers.evidence[0].contains("default-deny-ingress"),
        "{layers:?}"
    );
    assert_eq!(check(&b, "dns-allowed").status, CheckStatus::Warn);
}
