//! Rules 21-22: cluster-wide tiers (ClusterNetworkPolicy, AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy) are evaluated around NetworkPolicy; what the
//! engine cannot evaluate is reported, never guessed.

use super::*;
use crate::posture::CheckStatus;
use crate::reach::{LayerEnds, SideReason};

const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";
const CNP: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n";

/// A BaselineAdminNetworkPolicy denying everything it can, for every
/// namespace but the DNS pods' own.
const BASELINE_DENY_ALL: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}]}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n  egress: [{action: Deny, to: [{namespaces: {}}, {networks: ['0.0.0.0/0', '::/0']}]}]\n---\n";

fn anp(name: &str, priority: u32, spec: &str) -> String {
    format!(
        "{ANP}metadata: {{name: {name}}}\nspec: {{priority: {priority}, subject: {{namespaces: {{}}}}, {spec}}}\n---\n"
    )
}

const DNS_PEER: &str = "{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}}";

const ALLOW_DNS_POLICY: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}";

fn check(posture: &NamespacePosture, id: &str) -> crate::Check {
    posture
        .check(id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} reported"))
}

#[test]
fn rule_21_baseline_deny_all_is_the_default_deny_for_pods_no_network_policy_selects() {
    let c = cluster(&format!(
        "{COREDNS}{BASELINE_DENY_ALL}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.default_deny_ingress && p.default_deny_egress);
    for id in ["default-deny-ingress", "default-deny-egress"] {
        let check = check(&p, id);
        assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
        assert_eq!(
            check.evidence,
            ["baselineadminnetworkpolicy/default (Baseline tier)"]
        );
    }
    assert!(!p.egress_open, "the baseline denies every address");
    assert!(!p.dns_allowed, "the baseline denies DNS too");
    assert_eq!(p.pods.ingress_isolated, 1);
    assert_eq!(
        reach(&c, "a/web", "kube-system/coredns-1", UDP, 53),
        Reach::Denied
    );
    // The DNS namespace is outside the subject.
    assert!(!posture(&c, "kube-system").default_deny_ingress);
}

#[test]
fn rule_21_a_network_policy_selecting_the_pods_decides_instead_of_the_baseline() {
    let allow_all = policy(
        "a",
        "allow-all",
        "{podSelector: {}, policyTypes: [Egress], egress: [{}]}",
    );
    let c = cluster(&format!(
        "{COREDNS}{BASELINE_DENY_ALL}{allow_all}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(!p.default_deny_egress, "the NetworkPolicy re-opens egress");
    assert!(p.default_deny_ingress, "ingress is still the baseline's");
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Allowed
    );
    assert!(p.dns_allowed);
}

#[test]
fn rule_21_admin_deny_of_every_address_closes_egress_without_network_policy() {
    let deny = anp(
        "no-internet",
        10,
        "egress: [{action: Deny, to: [{networks: ['0.0.0.0/0', '::/0']}]}]",
    );
    let c = cluster(&format!("{COREDNS}{deny}{}", pod("a", "web", "app: web")));
    let p = posture(&c, "a");
    assert!(!p.egress_open);
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
    let deny = check(&p, "default-deny-egress");
    assert_eq!(deny.status, CheckStatus::Pass);
    assert_eq!(
        deny.evidence,
        ["adminnetworkpolicy/no-internet (Admin tier, priority 10)"]
    );
    // Denying only IPv4 leaves every public IPv6 address reachable.
    let v4_only = anp(
        "no-v4",
        10,
        "egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}]}]",
    );
    let c = cluster(&format!(
        "{COREDNS}{v4_only}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.egress_open);
    assert!(!p.default_deny_egress);
    assert!(
        check(&p, "egress-restricted").evidence[0].contains("every public IPv6 address"),
        "{:?}",
        check(&p, "egress-restricted")
    );
}

#[test]
fn rule_21_admin_deny_of_dns_wins_over_a_network_policy_allow() {
    let deny_dns = anp(
        "deny-dns",
        5,
        &format!(
            "egress: [{{action: Deny, to: [{DNS_PEER}], ports: [{{portNumber: {{protocol: UDP, port: 53}}}}]}}]"
        ),
    );
    let c = cluster(&format!(
        "{COREDNS}{deny_dns}{}{}",
        policy("a", "allow-dns", ALLOW_DNS_POLICY),
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(!p.dns_allowed);
    assert_eq!(check(&p, "dns-allowed").status, CheckStatus::Fail);
    assert_eq!(
        reach(&c, "a/web", "kube-system/coredns-1", UDP, 53),
        Reach::Denied
    );
    // TCP is not in the admin rule: the NetworkPolicy decides.
    assert_eq!(
        reach(&c, "a/web", "kube-system/coredns-1", TCP, 53),
        Reach::Allowed
    );
}

#[test]
fn rule_21_admin_allow_of_dns_keeps_dns_under_a_baseline_deny() {
    let allow_dns = anp(
        "allow-dns",
        5,
        &format!(
            "egress: [{{action: Allow, to: [{DNS_PEER}], ports: [{{portNumber: {{protocol: UDP, port: 53}}}}, {{portNumber: {{protocol: TCP, port: 53}}}}]}}]"
        ),
    );
    let c = cluster(&format!(
        "{COREDNS}{BASELINE_DENY_ALL}{allow_dns}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.dns_allowed);
    assert!(p.default_deny_egress, "the baseline still denies the rest");
    assert_eq!(
        reach(&c, "a/web", "kube-system/coredns-1", UDP, 53),
        Reach::Allowed
    );
    assert_eq!(
        reach(&c, "a/web", "kube-system/coredns-1", TCP, 9153),
        Reach::Denied
    );
}

#[test]
fn rule_21_pass_goes_on_to_network_policy() {
    let everywhere = "to: [{networks: ['0.0.0.0/0', '::/0']}]";
    let pass = anp(
        "pass",
        1,
        &format!("egress: [{{action: Pass, {everywhere}}}]"),
    );
    let deny = anp(
        "deny",
        2,
        &format!("egress: [{{action: Deny, {everywhere}}}]"),
    );
    let c = cluster(&format!("{pass}{deny}{}", pod("a", "web", "app: web")));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Allowed
    );
    assert!(posture(&c, "a").egress_open);
    assert!(!posture(&c, "a").default_deny_egress);
    let isolated = cluster(&format!(
        "{pass}{deny}{}{}",
        policy(
            "a",
            "deny-egress",
            "{podSelector: {}, policyTypes: [Egress]}"
        ),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&isolated, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
}

#[test]
fn rule_21_lower_priority_numbers_decide_first() {
    let deny_all = |priority| {
        anp(
            "deny-all",
            priority,
            "egress: [{action: Deny, to: [{networks: ['0.0.0.0/0', '::/0']}]}]",
        )
    };
    let allow_partner = |priority| {
        anp(
            "allow-partner",
            priority,
            "egress: [{action: Allow, to: [{networks: ['203.0.113.0/24']}]}]",
        )
    };
    let web = pod("a", "web", "app: web");
    let c = cluster(&format!("{}{}{web}", deny_all(20), allow_partner(10)));
    assert_eq!(
        reach_address(&c, "a/web", "203.0.113.5", TCP, 443),
        Reach::Allowed
    );
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
    let c = cluster(&format!("{}{}{web}", deny_all(10), allow_partner(20)));
    assert_eq!(
        reach_address(&c, "a/web", "203.0.113.5", TCP, 443),
        Reach::Denied
    );
}

#[test]
fn rule_21_cluster_network_policy_tiers_and_protocols() {
    let admin = format!(
        "{CNP}metadata: {{name: web-https}}\nspec: {{tier: Admin, priority: 3, subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{app: web}}}}}}}}, egress: [{{action: Accept, to: [{{networks: ['198.51.100.0/24']}}], protocols: [{{tcp: {{destinationPort: {{number: 443}}}}}}]}}]}}\n---\n"
    );
    let baseline = format!(
        "{CNP}metadata: {{name: baseline}}\nspec: {{tier: Baseline, priority: 0, subject: {{namespaces: {{}}}}, ingress: [{{action: Deny, from: [{{namespaces: {{}}}}]}}], egress: [{{action: Deny, to: [{{networks: ['0.0.0.0/0', '::/0']}}]}}]}}\n---\n"
    );
    let c = cluster(&format!(
        "{admin}{baseline}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "db", "app: db")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.7", TCP, 443),
        Reach::Allowed
    );
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.7", TCP, 80),
        Reach::Denied
    );
    assert_eq!(
        reach_address(&c, "a/db", "198.51.100.7", TCP, 443),
        Reach::Denied
    );
    assert_eq!(reach(&c, "a/web", "a/db", TCP, 5432), Reach::Denied);
    let p = posture(&c, "a");
    assert!(p.default_deny_ingress && p.default_deny_egress);
    assert_eq!(
        check(&p, "default-deny-ingress").evidence,
        ["clusternetworkpolicy/baseline (Baseline tier, priority 0)"]
    );
}

/// A Baseline-tier ClusterNetworkPolicy over every namespace with one egress rule.
fn baseline_cnp(name: &str, priority: u32, action: &str) -> String {
    format!(
        "{CNP}metadata: {{name: {name}}}\nspec: {{tier: Baseline, priority: {priority}, subject: {{namespaces: {{}}}}, egress: [{{action: {action}, to: [{{networks: ['0.0.0.0/0']}}]}}]}}\n---\n"
    )
}

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

/// A Cilium agent pod, so Cilium's policies are enforced.
const CILIUM: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: cilium-1, namespace: kube-system, labels: {k8s-app: cilium}}\nspec: {hostNetwork: true, containers: [{name: cilium-agent, image: 'quay.io/cilium/cilium:v1.15.0'}]}\n---\n";

const CCNP: &str = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n";

fn cnp(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
    )
}

/// Selects every endpoint outside kube-system, with empty ingress and egress rules.
const CILIUM_DENY_ALL: &str = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: default-deny}\nspec: {endpointSelector: {matchExpressions: [{key: io.kubernetes.pod.namespace, operator: NotIn, values: [kube-system]}]}, ingress: [{}], egress: [{}]}\n---\n";

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

const GNP: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n";

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

/// Found by the layered differential test: NetworkPolicy's ipBlock holding
/// the peer's IP admits only where ipBlocks match pods, but a Cilium allow
/// rule beside it admits everywhere, so the flow is allowed on every CNI.
#[test]
fn rule_22_a_layer_allow_beside_an_ip_block_of_pods_allows_on_every_cni() {
    let ip_block_egress = policy(
        "a",
        "pods-by-ip",
        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/16}}]}]}",
    );
    let pods = format!(
        "{}{}",
        pod_with_ip("a", "web", "app: web", "10.0.9.1"),
        pod_with_ip("b", "db", "app: db", "10.0.9.2")
    );
    let without = cluster(&format!("{CILIUM}{ip_block_egress}{pods}"));
    assert_eq!(
        reach(&without, "a/web", "b/db", TCP, 80),
        Reach::CniDependent
    );
    let cluster_wide = format!(
        "{CCNP}metadata: {{name: to-cluster}}\nspec: {{endpointSelector: {{}}, egress: [{{toEntities: [cluster]}}]}}\n---\n"
    );
    let with = cluster(&format!("{CILIUM}{ip_block_egress}{cluster_wide}{pods}"));
    assert_eq!(reach(&with, "a/web", "b/db", TCP, 80), Reach::Allowed);
    // A Calico Pass after NetworkPolicy goes on to the default allow.
    let pass = format!(
        "{GNP}metadata: {{name: pass}}\nspec: {{order: 1500, selector: all(), types: [Egress], egress: [{{action: Pass}}]}}\n---\n"
    );
    let with = cluster(&format!("{CALICO}{ip_block_egress}{pass}{pods}"));
    assert_eq!(reach(&with, "a/web", "b/db", TCP, 80), Reach::Allowed);
}

/// A layer CIDR matches a known pod IP on every CNI, so a pod whose IP is
/// unknown (a workload template) is held for certain only when the rule's
/// CIDRs hold all the pod CIDRs, and may be when they overlap them: then
/// the answer with an IP depends on which, so there is none without.
#[test]
fn rule_10_a_layer_cidr_holds_a_pod_whose_ip_is_unknown_only_if_it_holds_the_pod_cidrs() {
    let deny_to = |networks: &str| {
        let deny = anp(
            "deny-networks",
            10,
            &format!("egress: [{{action: Deny, to: [{{networks: [{networks}]}}]}}]"),
        );
        move |db: &str| {
            let c = cluster(&format!("{deny}{}{db}", pod("a", "web", "app: web")));
            reach(&c, "a/web", "b/db", TCP, 80)
        }
    };
    let unknown = pod("b", "db", "app: db");
    let (inside, outside) = (
        pod_with_ip("b", "db", "app: db", "10.0.0.5"),
        pod_with_ip("b", "db", "app: db", "10.1.0.5"),
    );
    // 10.0.0.0/16 holds some of the assumed pod CIDRs, not all.
    let part = deny_to("'10.0.0.0/16'");
    assert_eq!(part(&inside), Reach::Denied);
    assert_eq!(part(&outside), Reach::Allowed);
    assert_eq!(part(&unknown), Reach::Undetermined);
    // Together the blocks hold every pod CIDR, of both families.
    let all =
        deny_to("'10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'");
    assert_eq!(all(&inside), Reach::Denied);
    assert_eq!(all(&unknown), Reach::Denied);
    // IPv4 alone leaves the pod an IPv6 address outside the block.
    assert_eq!(deny_to("'0.0.0.0/0'")(&unknown), Reach::Undetermined);
    // A block outside the pod CIDRs never holds a pod.
    let public = deny_to("'8.8.8.0/24'");
    assert_eq!(public(&unknown), Reach::Allowed);
    assert_eq!(public(&inside), Reach::Allowed);
}

#[test]
fn rule_22_evidence_names_cilium_rules_by_their_own_list() {
    // egress[0] has no port netposture reads (ICMP) and is left out, not renumbered.
    let spec = "{endpointSelector: {}, egressDeny: [{toCIDR: [203.0.113.0/24]}], egress: [{toCIDR: [192.0.2.0/24], toPorts: [{ports: [{port: '8', protocol: ICMP}]}]}, {toCIDR: [198.51.100.0/24]}]}";
    let c = cluster(&format!(
        "{CILIUM}{}{}",
        cnp("a", "partner", spec),
        pod("a", "web", "app: web")
    ));
    let named = |address| match egress_to(&c, address).reason {
        SideReason::LayerRule { list, rule, .. } => format!("{list}[{rule}]"),
        other => panic!("{other:?}"),
    };
    assert_eq!(named("203.0.113.1"), "egressDeny[0]");
    assert_eq!(named("198.51.100.1"), "egress[1]");
}

#[test]
fn rule_22_evidence_counts_calico_log_rules_in_the_written_list() {
    let gnp = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: logged}\nspec: {order: 10, selector: all(), types: [Egress], egress: [{action: Log}, {action: Deny, destination: {nets: [203.0.113.0/24]}}]}\n---\n";
    let c = cluster(&format!("{CALICO}{gnp}{}", pod("a", "web", "app: web")));
    assert!(
        matches!(
            egress_to(&c, "203.0.113.1").reason,
            SideReason::LayerRule {
                list: "egress",
                rule: 1,
                ..
            }
        ),
        "{:?}",
        egress_to(&c, "203.0.113.1")
    );
}
