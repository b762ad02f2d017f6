//! Rules 21-22: cluster-wide tiers (ClusterNetworkPolicy, AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy) are evaluated around NetworkPolicy; what the
//! engine cannot evaluate is reported, never guessed.

mod beside;
mod calico;
mod cilium;
mod tiers;

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

const GNP: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n";
