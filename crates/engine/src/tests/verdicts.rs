//! The verdict definitions of the engine issue: default deny, egressOpen,
//! covered, unprotected pods, score.

use super::*;
use crate::cni::{Capability, CniStatus};
use crate::posture::CheckStatus;

const DENY_BOTH: &str = "{podSelector: {}, policyTypes: [Ingress, Egress]}";
const DNS_OUT: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}";

#[test]
fn default_deny_is_cancelled_by_allow_all_rule_on_the_whole_namespace() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy("a", "allow-all-in", "{podSelector: {}, ingress: [{}]}")
    ));
    let p = posture(&c, "a");
    assert!(!p.default_deny_ingress);
    assert!(p.default_deny_egress);
    let check = p.check("default-deny-ingress").unwrap();
    assert!(
        check
            .evidence
            .contains(&"networkpolicy/allow-all-in".to_string()),
        "{:?}",
        check.evidence
    );
}

#[test]
fn default_deny_is_not_cancelled_by_a_broad_but_incomplete_rule() {
    // Every pod, but not every external address: still a deny for the rest.
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "from-cluster",
            "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}"
        )
    ));
    assert!(posture(&c, "a").default_deny_ingress);
}

#[test]
fn default_deny_is_cancelled_by_every_pod_and_every_address_on_every_port() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "wide-open",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}, {ipBlock: {cidr: 0.0.0.0/0}}, {ipBlock: {cidr: '::/0'}}], ports: [{protocol: TCP}, {protocol: UDP}, {protocol: SCTP, port: 1, endPort: 65535}]}]}"
        )
    ));
    assert!(!posture(&c, "a").default_deny_egress);
}

#[test]
fn default_deny_is_cancelled_by_every_peer_split_across_policies() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "to-pods",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}]}]}"
        ),
        policy(
            "a",
            "to-addresses",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}, {ipBlock: {cidr: '::/0'}}]}]}"
        )
    ));
    let p = posture(&c, "a");
    assert!(!p.default_deny_egress);
    assert_eq!(
        p.check("default-deny-egress").unwrap().evidence,
        vec![
            "networkpolicy/to-addresses".to_string(),
            "networkpolicy/to-pods".to_string()
        ],
        "the policies that re-open, not the deny"
    );
}

#[test]
fn default_deny_holds_when_split_rules_leave_one_port_shut() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "almost",
            "{podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 1, endPort: 32767}, {protocol: UDP}]}, {ports: [{port: 32768, endPort: 65534}, {protocol: SCTP}]}]}"
        )
    ));
    assert!(
        posture(&c, "a").default_deny_egress,
        "TCP 65535 stays denied"
    );
}

#[test]
fn allow_all_rule_on_some_pods_does_not_cancel_the_namespace_default_deny() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "web-open",
            "{podSelector: {matchLabels: {app: web}}, ingress: [{}]}"
        )
    ));
    assert!(posture(&c, "a").default_deny_ingress);
}

#[test]
fn egress_open_when_no_policy_isolates_egress() {
    let c = cluster(&pod("a", "web", "app: web"));
    let p = posture(&c, "a");
    assert!(p.egress_open);
    assert_eq!(
        p.check("egress-restricted").unwrap().status,
        CheckStatus::Fail
    );
}

#[test]
fn egress_open_with_no_pod_judges_a_new_unlabelled_pod() {
    let c = cluster(&namespace("empty", ""));
    assert!(posture(&c, "empty").egress_open);
    let c = cluster(&format!(
        "{}{}",
        namespace("empty", ""),
        policy("empty", "deny", DENY_BOTH)
    ));
    assert!(!posture(&c, "empty").egress_open);
}

#[test]
fn egress_open_for_internet_minus_private_ranges_on_one_port() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "https-out",
            "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}], ports: [{port: 443}]}]}"
        )
    ));
    let p = posture(&c, "a");
    assert!(p.egress_open);
    let evidence = &p.check("egress-restricted").unwrap().evidence;
    assert!(
        evidence[0].contains("https-out") && evidence[0].contains("TCP/443"),
        "{evidence:?}"
    );
}

#[test]
fn egress_open_when_split_blocks_on_separate_rules_add_up_on_the_same_port() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "halves",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/1}}], ports: [{port: 443}]}, {to: [{ipBlock: {cidr: 128.0.0.0/1}}], ports: [{port: 400, endPort: 500}]}]}"
        )
    ));
    assert!(posture(&c, "a").egress_open);
}

#[test]
fn egress_not_open_when_halves_are_on_different_ports() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "halves",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/1}}], ports: [{port: 443}]}, {to: [{ipBlock: {cidr: 128.0.0.0/1}}], ports: [{port: 80}]}]}"
        )
    ));
    assert!(!posture(&c, "a").egress_open);
}

#[test]
fn egress_to_one_host_or_private_ranges_only_is_not_open() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "narrow",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 203.0.113.10/32}}, {ipBlock: {cidr: 10.0.0.0/8}}, {ipBlock: {cidr: 'fd00::/8'}}]}]}"
        )
    ));
    assert!(!posture(&c, "a").egress_open);
}

#[test]
fn egress_open_through_ipv6_alone() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy(
            "a",
            "v6",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: '::/0'}}], ports: [{protocol: UDP, port: 443}]}]}"
        )
    ));
    assert!(posture(&c, "a").egress_open);
}

#[test]
fn covered_needs_both_denies_dns_a_capable_cni_and_no_host_network_pod() {
    let base = format!(
        "{COREDNS}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy("a", "dns", DNS_OUT)
    );
    let without_cni = posture(&cluster(&base), "a");
    assert!(
        without_cni.default_deny_ingress
            && without_cni.default_deny_egress
            && without_cni.dns_allowed
    );
    assert_eq!(without_cni.cni.capable, Capability::Unknown);
    assert!(!without_cni.covered, "an unknown CNI is never capable");

    let with_cni = posture(&cluster(&format!("{CALICO}{base}")), "a");
    assert!(with_cni.covered);
    assert!(!with_cni.egress_open, "egressOpen is reported on its own");
    assert_eq!(with_cni.score, 100);
    assert!(with_cni.unprotected_pods.is_empty());
}

#[test]
fn flannel_cluster_is_never_covered() {
    let flannel = "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-flannel-ds-abc, namespace: kube-flannel, labels: {app: flannel}}\nspec: {hostNetwork: true, containers: [{name: kube-flannel, image: 'docker.io/flannel/flannel:v0.25.1'}]}\n---\n";
    let c = cluster(&format!(
        "{flannel}{COREDNS}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_BOTH),
        policy("a", "dns", DNS_OUT)
    ));
    let p = posture(&c, "a");
    assert_eq!(
        (p.cni.name.as_str(), p.cni.capable),
        ("flannel", Capability::False)
    );
    assert!(!p.covered);
    assert_eq!(p.check("cni-enforces").unwrap().status, CheckStatus::Fail);
}

#[test]
fn cni_override_replaces_detection() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: f, namespace: kube-system, labels: {app: flannel}}\nspec: {containers: [{name: f, image: flannel/flannel}]}\n"
    ));
    let settings = Settings {
        cni_override: Some(CniStatus {
            name: "custom".into(),
            capable: Capability::True,
            evidence: "set by configuration".into(),
        }),
        ..Settings::default()
    };
    let p = Evaluator::new(&c, &settings).namespace("a").unwrap();
    assert_eq!(p.cni.capable, Capability::True);
}

#[test]
fn unprotected_pods_are_sorted_capped_and_counted() {
    let mut yaml = String::new();
    for i in (0..60).rev() {
        yaml.push_str(&pod("a", &format!("p{i:02}"), "app: web"));
    }
    let c = cluster(&yaml);
    let p = posture(&c, "a");
    assert_eq!(p.pods.total, 60);
    assert_eq!(p.unprotected_pods.len(), 50);
    assert_eq!(p.unprotected_pods[0], "p00");
    assert_eq!(p.unprotected_pods[49], "p49");
    assert_eq!(p.unprotected_pods_omitted, 10);
}

#[test]
fn pods_isolated_in_one_direction_only_are_unprotected() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "db", "app: db"),
        policy(
            "a",
            "db-both",
            "{podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress, Egress]}"
        )
    ));
    let p = posture(&c, "a");
    assert_eq!(p.unprotected_pods, vec!["web".to_string()]);
    assert_eq!((p.pods.ingress_isolated, p.pods.egress_isolated), (1, 1));
}

#[test]
fn score_weighs_checks_and_counts_a_warning_half() {
    let weights = crate::settings::default_weights();
    let open = posture(&cluster(&pod("a", "web", "app: web")), "a");
    // Open namespace, unknown CNI: only dns (15), dns-tcp (5), hostNetwork (5)
    // and hostPorts (5) pass; cni warns (15/2).
    assert_eq!(open.score, 36, "{:?}", open.checks);
    assert_eq!(
        crate::checks::score(&open.checks, &Default::default()),
        100,
        "no weights: nothing counts"
    );
    // Weights are relative: the score divides by the weight of the checks
    // that apply, so a check that does not apply (no exposed Service) leaves
    // the score as it was. Every check has a default weight, even if 0.
    let mut ids = crate::posture::ids::ALL.to_vec();
    ids.sort_unstable();
    assert_eq!(weights.keys().map(String::as_str).collect::<Vec<_>>(), ids);
}

#[test]
fn a_policy_fixed_later_replaces_its_finding() {
    let mut c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        policy(
            "a",
            "p",
            "{podSelector: {matchExpressions: [{key: app, operator: Bogus}]}}"
        )
    ));
    assert!(posture(&c, "a").check("invalid-object").is_some());
    let fixed: k8s_openapi::api::networking::v1::NetworkPolicy =
        serde_norway::from_str(&policy("a", "p", DENY_BOTH).replace("---\n", "")).unwrap();
    c.apply_policy(&fixed);
    let p = posture(&c, "a");
    assert!(p.check("invalid-object").is_none());
    assert!(p.default_deny_ingress);
}

/// Open on TCP/80 only because 8.0.0.0/8 is admitted there through a range;
/// a server before 1.21 keeps port 50 of it, and no port is open.
#[test]
fn rule_13_egress_open_only_through_end_port_says_so_in_the_evidence() {
    let split = |ports: &str| {
        format!(
            "{{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [8.0.0.0/8]}}}}], ports: [{{port: 80}}]}}, {{to: [{{ipBlock: {{cidr: 8.0.0.0/8}}}}], ports: [{ports}]}}]}}"
        )
    };
    let evidence = |ports: &str| {
        let c = cluster(&format!(
            "{}{}",
            pod("a", "web", "app: web"),
            policy("a", "split", &split(ports))
        ));
        let p = posture(&c, "a");
        assert!(p.egress_open, "{ports}");
        p.check("egress-restricted").unwrap().evidence.clone()
    };
    assert_eq!(
        evidence("{port: 50, endPort: 100}"),
        [
            "pod/web: networkpolicy/split allow every public IPv4 address on TCP/80, only through endPort, which API servers before 1.21 drop: there it is not open"
        ]
    );
    assert_eq!(
        evidence("{port: 80}"),
        ["pod/web: networkpolicy/split allow every public IPv4 address on TCP/80"]
    );
}
