//! Rules 18-20 and the dnsAllowed verdict.

use super::*;
use crate::model::Protocol;
use crate::posture::CheckStatus;

const DENY_EGRESS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-out, namespace: app}\nspec: {podSelector: {}, policyTypes: [Egress]}\n---\n";

fn dns_egress(to: &str, ports: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow-dns, namespace: app}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: {to}, ports: {ports}}}]}}\n---\n"
    )
}

const KUBE_DNS_PEER: &str = "[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]";
const BOTH_PORTS: &str = "[{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]";

#[test]
fn rule_18_dns_is_judged_against_the_real_dns_pods() {
    let c = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, BOTH_PORTS)
    ));
    let p = posture(&c, "app");
    assert!(p.dns_allowed);
    assert!(p.check("dns-allowed").unwrap().evidence[0].contains("coredns-1"));
}

#[test]
fn rule_18_dns_rule_that_misses_kube_system_labels_blocks_resolution() {
    // A label the kube-system namespace does not carry: matches nothing.
    let c = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(
            "[{namespaceSelector: {matchLabels: {name: kube-system}}}]",
            BOTH_PORTS
        )
    ));
    let p = posture(&c, "app");
    assert!(!p.dns_allowed);
    let check = p.check("dns-allowed").unwrap();
    assert_eq!(check.status, CheckStatus::Fail);
    assert!(
        check.evidence.iter().any(|e| e == "pod/web"),
        "{:?}",
        check.evidence
    );
}

#[test]
fn rule_18_named_port_dns_covers_udp_only() {
    let c = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, "[{port: dns, protocol: UDP}]")
    ));
    let p = posture(&c, "app");
    assert!(p.dns_allowed);
    let tcp = p.check("dns-tcp-allowed").unwrap();
    assert_eq!(
        tcp.status,
        CheckStatus::Warn,
        "TCP/53 missing is a warning, not a false verdict"
    );
}

#[test]
fn rule_18_dns_port_named_without_protocol_resolves_nothing() {
    // `port: dns` defaults to TCP, but CoreDNS's `dns` port is UDP.
    let c = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, "[{port: dns}]")
    ));
    assert!(!posture(&c, "app").dns_allowed);
}

#[test]
fn rule_18_without_a_dns_pod_a_standard_coredns_pod_is_assumed_and_said() {
    let c = cluster(&format!(
        "{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, "[{port: dns, protocol: UDP}]")
    ));
    let p = posture(&c, "app");
    assert!(p.dns_allowed);
    assert!(p.check("dns-allowed").unwrap().evidence[0].contains("standard CoreDNS"));
}

#[test]
fn rule_19_default_deny_ingress_in_kube_system_blocks_dns() {
    let deny_kube_system = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-in, namespace: kube-system}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n---\n";
    let c = cluster(&format!(
        "{COREDNS}{deny_kube_system}{}",
        pod("app", "web", "app: web")
    ));
    assert!(!posture(&c, "app").dns_allowed);
    let allow = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-dns-in, namespace: kube-system}\nspec: {podSelector: {matchLabels: {k8s-app: kube-dns}}, ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 53, protocol: UDP}]}]}\n";
    let fixed = cluster(&format!(
        "{COREDNS}{deny_kube_system}{allow}\n---\n{}",
        pod("app", "web", "app: web")
    ));
    assert!(posture(&fixed, "app").dns_allowed);
}

#[test]
fn rule_20_node_local_dns_is_reachable_only_through_an_ip_block() {
    let node_local = "apiVersion: v1\nkind: Pod\nmetadata: {name: node-local-dns-x, namespace: kube-system, labels: {k8s-app: node-local-dns}}\nspec: {hostNetwork: true, containers: [{name: node-cache, image: 'registry.k8s.io/dns/k8s-dns-node-cache:1.23.1'}]}\n---\n";
    let by_selector = cluster(&format!(
        "{COREDNS}{node_local}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, BOTH_PORTS)
    ));
    let p = posture(&by_selector, "app");
    assert!(!p.dns_allowed);
    assert!(p.check("dns-allowed").unwrap().evidence[0].contains("NodeLocal"));
    let by_block = cluster(&format!(
        "{COREDNS}{node_local}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress("[{ipBlock: {cidr: 169.254.20.10/32}}]", BOTH_PORTS)
    ));
    assert!(posture(&by_block, "app").dns_allowed);
}

#[test]
fn dns_allowed_only_through_ip_block_on_pod_ips_is_a_warning_not_a_pass() {
    let dns = "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec: {containers: [{name: coredns, image: coredns, ports: [{name: dns, containerPort: 53, protocol: UDP}]}]}\nstatus: {podIP: 10.244.0.10}\n---\n";
    let c = cluster(&format!(
        "{dns}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress("[{ipBlock: {cidr: 10.244.0.0/16}}]", BOTH_PORTS)
    ));
    let p = posture(&c, "app");
    assert!(!p.dns_allowed);
    assert_eq!(p.check("dns-allowed").unwrap().status, CheckStatus::Warn);
}

#[test]
fn dns_verdict_with_no_pod_judges_a_new_unlabelled_pod() {
    let only_web = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-dns, namespace: app}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}]}]}\n---\n";
    let c = cluster(&format!("{COREDNS}{only_web}"));
    assert!(posture(&c, "app").dns_allowed);
    let c = cluster(&format!("{COREDNS}{DENY_EGRESS}"));
    assert!(!posture(&c, "app").dns_allowed);
}

#[test]
fn dns_pod_egress_and_ingress_are_both_evaluated() {
    let c = cluster(&format!("{COREDNS}{}", pod("app", "web", "app: web")));
    assert_eq!(
        reach(&c, "app/web", "kube-system/coredns-1", Protocol::Udp, 53),
        crate::reach::Reach::Allowed
    );
    assert!(posture(&c, "app").dns_allowed);
}

/// DNS allowed only by `to: ipBlock` on port 53, both protocols.
fn dns_through(cidr: &str) -> String {
    dns_egress(&format!("[{{ipBlock: {{cidr: {cidr}}}}}]"), BOTH_PORTS)
}

const COREDNS_WITH_IP: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec: {containers: [{name: coredns, image: 'coredns/coredns:1.11.1', ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}]}]}\nstatus: {podIPs: [{ip: 10.244.0.5}]}\n---\n";

fn dns_statuses(c: &Cluster) -> (CheckStatus, CheckStatus) {
    let p = posture(c, "app");
    (
        p.check("dns-allowed").unwrap().status,
        p.check("dns-tcp-allowed").unwrap().status,
    )
}

#[test]
fn rule_10_dns_through_an_ip_block_gets_the_same_verdict_with_and_without_pod_ips() {
    let without = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_through("0.0.0.0/0")
    ));
    let with = cluster(&format!(
        "{COREDNS_WITH_IP}{}{DENY_EGRESS}{}",
        pod_with_ip("app", "web", "app: web", "10.244.1.7"),
        dns_through("0.0.0.0/0")
    ));
    assert_eq!(dns_statuses(&with), (CheckStatus::Warn, CheckStatus::Warn));
    assert_eq!(dns_statuses(&without), dns_statuses(&with));
    let p = posture(&without, "app");
    let udp = p.check("dns-allowed").unwrap();
    assert!(
        udp.evidence
            .iter()
            .any(|e| e.contains("10.0.0.0/8") && e.contains("assumed")),
        "the evidence says the pod CIDRs are assumed: {:?}",
        udp.evidence
    );
    let tcp = p.check("dns-tcp-allowed").unwrap();
    assert!(
        tcp.message.contains("only through an ipBlock"),
        "CNI-dependent, not blocked: {}",
        tcp.message
    );
}

#[test]
fn rule_10_an_ip_block_outside_the_pod_cidrs_never_holds_a_pod_whose_ip_is_unknown() {
    let node = "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDRs: [10.244.0.0/24]}\n---\n";
    let c = cluster(&format!(
        "{node}{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_through("10.96.0.0/12")
    ));
    assert_eq!(dns_statuses(&c), (CheckStatus::Fail, CheckStatus::Warn));
    let p = posture(&c, "app");
    let evidence = &p.check("dns-allowed").unwrap().evidence;
    assert!(
        !evidence.iter().any(|e| e.contains("pod CIDRs")),
        "{evidence:?}"
    );
    // The same block holds pods once the Node's range is inside it.
    let inside = cluster(&format!(
        "{node}{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_through("10.240.0.0/12")
    ));
    let p = posture(&inside, "app");
    let udp = p.check("dns-allowed").unwrap();
    assert_eq!(udp.status, CheckStatus::Warn);
    assert!(
        udp.evidence
            .iter()
            .any(|e| e.contains("10.244.0.0/24 (from Node.spec.podCIDRs)")),
        "{:?}",
        udp.evidence
    );
}

#[test]
fn rule_10_configured_pod_cidrs_decide_for_pods_whose_ip_is_unknown() {
    let c = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_through("192.168.0.0/16")
    ));
    let settings = Settings {
        pod_cidrs: vec!["172.20.0.0/16".parse().unwrap()],
        ..Settings::default()
    };
    let p = Evaluator::new(&c, &settings).namespace("app").unwrap();
    assert_eq!(p.check("dns-allowed").unwrap().status, CheckStatus::Fail);
    assert_eq!(
        dns_statuses(&c).0,
        CheckStatus::Warn,
        "assumed ranges hold 192.168/16"
    );
}

/// A live scan of a server before 1.21 sees `port: 50` alone, so a DNS
/// verdict that rests on `endPort` says so in its evidence.
#[test]
fn rule_13_dns_admitted_only_through_end_port_says_so_in_the_evidence() {
    let range = "[{port: 50, endPort: 60, protocol: UDP}, {port: 50, endPort: 60, protocol: TCP}]";
    let c = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, range)
    ));
    assert_eq!(dns_statuses(&c), (CheckStatus::Pass, CheckStatus::Pass));
    let p = posture(&c, "app");
    for (id, protocol) in [("dns-allowed", "UDP"), ("dns-tcp-allowed", "TCP")] {
        let evidence = &p.check(id).unwrap().evidence;
        assert!(
            evidence.contains(&format!(
                "networkpolicy app/allow-dns egress[0] admits {protocol}/53 only through endPort, which API servers before 1.21 drop: there it admits port 50 alone"
            )),
            "{id}: {evidence:?}"
        );
    }
    // Port 53 itself needs no endPort: nothing to say.
    let exact = cluster(&format!(
        "{COREDNS}{}{DENY_EGRESS}{}",
        pod("app", "web", "app: web"),
        dns_egress(KUBE_DNS_PEER, BOTH_PORTS)
    ));
    let p = posture(&exact, "app");
    for id in ["dns-allowed", "dns-tcp-allowed"] {
        let evidence = &p.check(id).unwrap().evidence;
        assert!(
            !evidence.iter().any(|e| e.contains("endPort")),
            "{id}: {evidence:?}"
        );
    }
}
