//! Where a rule netposture does not evaluate (a nodes or domain-name peer,
//! a Calico selector outside the subset) or an order the API leaves
//! undefined could decide a flow, the answer is `Undetermined` and names
//! the rule, never a guess.

use super::*;
use crate::layers::Action;
use crate::posture::CheckStatus;
use crate::reach::SideReason;

const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";

fn anp(name: &str, priority: u32, egress: &str) -> String {
    format!(
        "{ANP}metadata: {{name: {name}}}\nspec: {{priority: {priority}, subject: {{namespaces: {{}}}}, egress: {egress}}}\n---\n"
    )
}

#[test]
fn a_nodes_peer_that_may_allow_before_a_deny_leaves_the_flow_undetermined() {
    let c = cluster(&format!(
        "{}{}",
        anp(
            "nodes-then-deny",
            5,
            "[{action: Allow, to: [{nodes: {}}]}, {action: Deny, to: [{networks: ['0.0.0.0/0']}]}]"
        ),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Undetermined
    );
    assert_eq!(
        egress_to(&c, "198.51.100.1").reason,
        SideReason::Undetermined {
            policy: "adminnetworkpolicy/nodes-then-deny".into(),
            tier: "Admin tier, priority 5".into(),
            list: "egress",
            rule: 0,
            action: Action::Allow,
            same_priority_as: None,
        }
    );
    // IPv6 is outside the deny: allowed whether or not a node matches.
    assert_eq!(
        reach_address(&c, "a/web", "2001:db8::1", TCP, 443),
        Reach::Allowed
    );
}

#[test]
fn an_unevaluated_rule_that_would_answer_the_same_leaves_the_answer_definite() {
    let c = cluster(&format!(
        "{}{}",
        anp(
            "deny-nodes-and-all",
            5,
            "[{action: Deny, to: [{nodes: {}}]}, {action: Deny, to: [{networks: ['0.0.0.0/0']}]}]"
        ),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
}

#[test]
fn admin_policies_sharing_a_priority_and_deciding_otherwise_leave_it_undetermined() {
    let everything = "to: [{networks: ['0.0.0.0/0']}]";
    let c = cluster(&format!(
        "{}{}{}",
        anp("a-allow", 5, &format!("[{{action: Allow, {everything}}}]")),
        anp("b-deny", 5, &format!("[{{action: Deny, {everything}}}]")),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        egress_to(&c, "198.51.100.1").reason,
        SideReason::Undetermined {
            policy: "adminnetworkpolicy/b-deny".into(),
            tier: "Admin tier, priority 5".into(),
            list: "egress",
            rule: 0,
            action: Action::Deny,
            same_priority_as: Some("adminnetworkpolicy/a-allow egress[0]".into()),
        }
    );
    let layers = posture(&c, "a")
        .check("unevaluated-policies")
        .cloned()
        .unwrap();
    assert_eq!(layers.status, CheckStatus::Warn);
    assert!(
        layers.evidence.iter().any(|e| e.starts_with(
            "adminnetworkpolicy/a-allow, adminnetworkpolicy/b-deny share Admin tier, priority 5"
        )),
        "{layers:?}"
    );
    // Different priorities order them.
    let c = cluster(&format!(
        "{}{}{}",
        anp("a-allow", 6, &format!("[{{action: Allow, {everything}}}]")),
        anp("b-deny", 5, &format!("[{{action: Deny, {everything}}}]")),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
}

#[test]
fn a_calico_rule_outside_the_evaluated_subset_may_decide() {
    let gnp = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: fancy}\nspec: {order: 10, selector: all(), types: [Egress], egress: [{action: Deny, destination: {selector: \"app == 'x' || app == 'y'\"}}, {action: Allow}]}\n---\n";
    let c = cluster(&format!(
        "{CALICO}{gnp}{}{}",
        pod("a", "web", "app: web"),
        pod("b", "x", "app: x")
    ));
    assert_eq!(reach(&c, "a/web", "b/x", TCP, 80), Reach::Undetermined);
    assert_eq!(
        egress_to(&c, "198.51.100.1").reason,
        SideReason::Undetermined {
            policy: "globalnetworkpolicy/fancy".into(),
            tier: "Calico, order 10".into(),
            list: "egress",
            rule: 0,
            action: Action::Deny,
            same_priority_as: None,
        }
    );
}

#[test]
fn dns_that_an_unevaluated_rule_may_deny_is_a_warning_not_a_verdict() {
    let c = cluster(&format!(
        "{COREDNS}{}{}{}",
        anp(
            "maybe-example",
            5,
            "[{action: Allow, to: [{domainNames: ['*.example.com']}]}]"
        ),
        anp("deny-after", 6, "[{action: Deny, to: [{namespaces: {}}]}]"),
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    let dns = p.check("dns-allowed").cloned().unwrap();
    assert_eq!(dns.status, CheckStatus::Warn, "{dns:?}");
    assert!(
        dns.message.starts_with("undetermined for 1 pod(s)"),
        "{dns:?}"
    );
    assert!(
        dns.evidence
            .iter()
            .any(|e| e.contains("adminnetworkpolicy/maybe-example egress[0].to[0]: domainNames")),
        "{dns:?}"
    );
}

#[test]
fn a_policy_that_could_not_be_read_leaves_flows_it_may_govern_undetermined() {
    let unreadable = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: fancy}\nspec: {selector: \"app == 'x' || app == 'y'\", types: [Egress]}\n---\n";
    let c = cluster(&format!(
        "{CALICO}{unreadable}{}",
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        egress_to(&c, "198.51.100.1").reason,
        SideReason::UnreadPolicy {
            policy: "globalnetworkpolicy/fancy".into(),
            tier: "Calico, no order".into(),
        }
    );
    // An Admin-tier decision comes first all the same.
    let c = cluster(&format!(
        "{CALICO}{unreadable}{}{}",
        anp(
            "deny-all",
            1,
            "[{action: Deny, to: [{networks: ['0.0.0.0/0']}]}]"
        ),
        pod("a", "web", "app: web")
    ));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
}

#[test]
fn rule_21_system_pods_an_unevaluated_deny_may_shut_out_are_a_warning_not_a_fail() {
    // Nothing in `a` isolates web; a Deny to nodes comes first and may match.
    let c = cluster(&format!(
        "{COREDNS}{}{}{}",
        super::system::METRICS_SERVER,
        anp("deny-nodes", 5, "[{action: Deny, to: [{nodes: {}}]}]"),
        pod("a", "web", "app: web")
    ));
    let system = posture(&c, "a")
        .check("system-namespaces-isolated")
        .cloned()
        .unwrap();
    assert_eq!(system.status, CheckStatus::Warn, "{system:?}");
    assert!(system.message.starts_with("undetermined: "), "{system:?}");
    assert_eq!(
        system.evidence,
        [
            "pod/web -> kube-system/metrics-server:443/TCP (undetermined: adminnetworkpolicy/deny-nodes egress[0] (Admin tier, priority 5) may decide, a rule netposture cannot evaluate)"
        ]
    );
}

#[test]
fn rule_22_egress_an_unevaluated_calico_deny_may_close_is_a_warning_not_a_fail() {
    let gnp = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: fancy}\nspec: {order: 10, selector: all(), types: [Egress], egress: [{action: Deny, destination: {selector: \"app == 'x' || app == 'y'\"}}, {action: Allow}]}\n---\n";
    let c = cluster(&format!("{CALICO}{gnp}{}", pod("a", "web", "app: web")));
    let egress = posture(&c, "a")
        .check("egress-restricted")
        .cloned()
        .unwrap();
    assert_eq!(egress.status, CheckStatus::Warn, "{egress:?}");
    assert!(
        egress.message.starts_with("undetermined: 1 pod(s)"),
        "{egress:?}"
    );
    assert!(
        egress.evidence[0].starts_with("pod/web: every public IPv4 address on TCP/1: ")
            && egress.evidence[0].ends_with(
                ", unless globalnetworkpolicy/fancy egress[0] (Calico, order 10), a rule netposture cannot evaluate, denies some"
            ),
        "{egress:?}"
    );
}
