//! Layer rules beside NetworkPolicy and each other: cases the layered
//! differential test found, unknown pod IPs, and how evidence names rules.

use super::*;

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

/// Rule 13 beside a layer: a Calico rule on the pod's egress that decides
/// nothing on the open port leaves NetworkPolicy's endPort caveat as it is
/// without layers (servers before 1.21 keep port 50 of the range alone).
#[test]
fn rule_13_egress_open_only_through_end_port_says_so_beside_layer_rules() {
    let deny_ssh = format!(
        "{GNP}metadata: {{name: deny-ssh}}\nspec: {{order: 500, selector: all(), types: [Egress], egress: [{{action: Deny, protocol: TCP, destination: {{nets: ['192.0.2.0/24'], ports: [22]}}}}]}}\n---\n"
    );
    let split = policy(
        "a",
        "split",
        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [8.0.0.0/8]}}], ports: [{port: 80}]}, {to: [{ipBlock: {cidr: 8.0.0.0/8}}], ports: [{port: 50, endPort: 100}]}]}",
    );
    let c = cluster(&format!(
        "{CALICO}{deny_ssh}{split}{}",
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.egress_open);
    assert_eq!(
        p.check("egress-restricted").unwrap().evidence,
        [
            "pod/web: networkpolicy/split allow every public IPv4 address on TCP/80, only through endPort, which API servers before 1.21 drop: there it is not open"
        ]
    );
}
