//! Rule 21, continued: tier ordering, peers of no known field, subjects,
//! domain names and explanations.

use super::*;

#[test]
fn rule_21_baseline_tier_policies_are_ordered_by_priority_not_by_name() {
    let web = pod("a", "web", "app: web");
    for (accept, deny) in [("a-accept", "b-deny"), ("b-accept", "a-deny")] {
        let c = cluster(&format!(
            "{}{}{web}",
            baseline_cnp(accept, 20, "Accept"),
            baseline_cnp(deny, 10, "Deny")
        ));
        assert_eq!(
            reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
            Reach::Denied,
            "priority 10 decides before 20, whatever the names ({accept}, {deny})"
        );
    }
}

#[test]
fn rule_21_a_deny_or_pass_rule_with_a_peer_of_no_known_field_fails_closed_to_deny_all() {
    let web = pod("a", "web", "app: web");
    let db = pod("b", "db", "app: db");
    for (action, peer) in [
        ("Deny", "{}"),
        ("Pass", "{}"),
        ("Deny", "{serviceAccounts: {name: x}}"),
    ] {
        let c = cluster(&format!(
            "{}{web}{db}",
            anp(
                "future",
                5,
                &format!("egress: [{{action: {action}, to: [{peer}]}}]")
            )
        ));
        assert_eq!(
            reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
            Reach::Denied,
            "{action} {peer}"
        );
        assert_eq!(reach(&c, "a/web", "b/db", UDP, 53), Reach::Denied);
        let layers = check(&posture(&c, "a"), "unevaluated-policies");
        assert!(
            layers.evidence[0].contains("fails closed and denies all traffic"),
            "{layers:?}"
        );
    }
    // Ingress peers are pods only: `networks` is no field of theirs.
    let c = cluster(&format!(
        "{}{web}{db}",
        anp(
            "no-networks",
            5,
            "ingress: [{action: Deny, from: [{networks: ['0.0.0.0/0']}]}]"
        )
    ));
    assert_eq!(reach(&c, "b/db", "a/web", TCP, 80), Reach::Denied);
}

#[test]
fn rule_21_an_allow_rule_with_a_peer_of_no_known_field_matches_nothing() {
    let c = cluster(&format!(
        "{}{BASELINE_DENY_ALL}{}",
        anp("future", 5, "egress: [{action: Allow, to: [{}]}]"),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied,
        "the baseline decides"
    );
}

#[test]
fn rule_21_subject_namespaces_limit_where_a_policy_applies() {
    let prod_only = format!(
        "{ANP}metadata: {{name: prod}}\nspec: {{priority: 1, subject: {{namespaces: {{matchLabels: {{env: prod}}}}}}, egress: [{{action: Deny, to: [{{networks: ['0.0.0.0/0', '::/0']}}]}}]}}\n---\n"
    );
    let c = cluster(&format!(
        "{prod_only}{}{}{}{}",
        namespace("shop", "env: prod"),
        namespace("lab", "env: dev"),
        pod("shop", "web", "app: web"),
        pod("lab", "web", "app: web")
    ));
    assert!(!posture(&c, "shop").egress_open);
    assert!(posture(&c, "lab").egress_open);
    assert!(posture(&c, "lab").check("unevaluated-policies").is_none());
    assert_eq!(
        check(&posture(&c, "shop"), "unevaluated-policies").status,
        CheckStatus::Pass
    );
}

#[test]
fn rule_21_domain_names_are_reported_on_the_verdicts_they_may_affect() {
    let fqdn = format!(
        "{CNP}metadata: {{name: allow-github}}\nspec: {{tier: Admin, priority: 1, subject: {{namespaces: {{}}}}, egress: [{{action: Accept, to: [{{domainNames: ['*.github.com']}}]}}]}}\n---\n"
    );
    let c = cluster(&format!(
        "{fqdn}{COREDNS}{}{}{}",
        policy(
            "a",
            "deny-egress",
            "{podSelector: {}, policyTypes: [Egress]}"
        ),
        policy("a", "allow-dns", ALLOW_DNS_POLICY),
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    let layers = check(&p, "unevaluated-policies");
    assert_eq!(layers.status, CheckStatus::Warn);
    assert!(
        layers.evidence.iter().any(|e| e
            .starts_with("clusternetworkpolicy/allow-github egress[0].to[0]: domainNames")
            && e.contains("egress-restricted")),
        "{layers:?}"
    );
    // Egress is restricted as far as the engine can tell, but it says it cannot tell all.
    let egress = check(&p, "egress-restricted");
    assert_eq!(egress.status, CheckStatus::Warn, "{egress:?}");
    assert!(egress.evidence.iter().any(|e| e.contains("allow-github")));
    assert_eq!(check(&p, "default-deny-ingress").status, CheckStatus::Fail);
}

#[test]
fn rule_21_explain_names_the_deciding_layer_rule() {
    let deny_dns = anp(
        "deny-dns",
        5,
        &format!("egress: [{{action: Deny, to: [{DNS_PEER}]}}]"),
    );
    let c = cluster(&format!(
        "{COREDNS}{deny_dns}{}",
        pod("a", "web", "app: web")
    ));
    let (source, state) = endpoint(&c, "a/web");
    let (dns, dns_state) = endpoint(&c, "kube-system/coredns-1");
    let egress = layer_side(&c, &source, Direction::Egress);
    let ingress = layer_side(&c, &dns, Direction::Ingress);
    let verdict = reach::explain_connection(
        &Remote::Pod(source),
        &reach::selecting(state, source.pod, Direction::Egress),
        &Remote::Pod(dns),
        &reach::selecting(dns_state, dns.pod, Direction::Ingress),
        &LayerEnds {
            egress: &egress,
            ingress: &ingress,
        },
        UDP,
        53,
    );
    assert_eq!(verdict.reach, Reach::Denied);
    assert_eq!(
        verdict.egress.reason,
        SideReason::LayerRule {
            policy: "adminnetworkpolicy/deny-dns".into(),
            tier: "Admin tier, priority 5".into(),
            list: "egress",
            rule: 0,
            action: crate::layers::Action::Deny,
        }
    );
    assert_eq!(verdict.ingress.reason, SideReason::NotIsolated);
}

#[test]
fn without_other_policy_apis_there_is_no_such_check() {
    let c = cluster(&pod("a", "web", "app: web"));
    assert!(posture(&c, "a").check("unevaluated-policies").is_none());
    assert!(crate::layers::layer_kind("networking.k8s.io", "NetworkPolicy").is_none());
}
