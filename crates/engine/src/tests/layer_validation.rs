//! The tiered APIs' CRDs are held to their own validation, as NetworkPolicy
//! is: an object the API server would reject is an `invalid-object` finding
//! and takes no part in the evaluation.

use super::*;
use crate::posture::CheckStatus;

const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";
const BANP: &str =
    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n";
const CNP: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n";

const DENY_V1: &str = "egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}]}]";
const DENY_V2: &str = "egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}]}]";

/// The object's invalid-object finding in namespace `a`, after checking
/// that it was left out: without it, egress to the internet is open.
fn rejection(object: &str) -> crate::Check {
    let c = cluster(&format!("{object}---\n{}", pod("a", "web", "app: web")));
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Allowed,
        "the invalid object is left out: {object}"
    );
    let p = posture(&c, "a");
    let finding = p
        .check("invalid-object")
        .cloned()
        .unwrap_or_else(|| panic!("invalid-object for {object}: {:?}", p.checks));
    assert_eq!(finding.status, CheckStatus::Fail);
    finding
}

fn assert_rejected(object: &str, reason: &str) {
    let finding = rejection(object);
    assert!(
        finding.message.contains(reason),
        "{reason:?} in {:?}",
        finding.message
    );
    assert!(!finding.message.contains("Some("), "{}", finding.message);
}

fn anp(spec: &str) -> String {
    format!("{ANP}metadata: {{name: x}}\nspec: {{subject: {{namespaces: {{}}}}, {spec}}}\n")
}

fn cnp(spec: &str) -> String {
    format!("{CNP}metadata: {{name: x}}\nspec: {{subject: {{namespaces: {{}}}}, {spec}}}\n")
}

#[test]
fn priority_outside_0_to_1000_or_missing_is_rejected() {
    for priority in ["1001", "-1", "2.5"] {
        assert_rejected(
            &anp(&format!("priority: {priority}, {DENY_V1}")),
            &format!("spec.priority: {priority} is not a whole number from 0 to 1000"),
        );
        assert_rejected(
            &cnp(&format!("tier: Admin, priority: {priority}, {DENY_V2}")),
            "spec.priority",
        );
    }
    assert_rejected(&anp(DENY_V1), "spec.priority is missing");
    assert_rejected(
        &cnp(&format!("tier: Baseline, {DENY_V2}")),
        "spec.priority is missing",
    );
}

#[test]
fn a_cluster_network_policy_needs_a_known_tier() {
    assert_rejected(
        &cnp(&format!("priority: 1, {DENY_V2}")),
        "spec.tier is missing",
    );
    assert_rejected(
        &cnp(&format!("tier: Developer, priority: 1, {DENY_V2}")),
        "spec.tier: `Developer` is not one of Admin, Baseline",
    );
}

#[test]
fn subjects_peers_and_ports_set_exactly_one_field() {
    assert_rejected(
        &format!(
            "{ANP}metadata: {{name: x}}\nspec: {{priority: 1, subject: {{namespaces: {{}}, pods: {{podSelector: {{}}}}}}, {DENY_V1}}}\n"
        ),
        "spec.subject: sets namespaces and pods, but exactly one of namespaces, pods is allowed",
    );
    assert_rejected(
        &anp(
            "priority: 1, egress: [{action: Deny, to: [{namespaces: {}, networks: ['0.0.0.0/0']}]}]",
        ),
        "spec.egress[0].to[0]: sets namespaces and networks, but a peer is exactly one of",
    );
    assert_rejected(
        &anp(
            "priority: 1, egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}], ports: [{portNumber: {port: 443}, portRange: {start: 1, end: 2}}]}]",
        ),
        "spec.egress[0].ports[0]: sets portNumber and portRange",
    );
    assert_rejected(
        &cnp(
            "tier: Admin, priority: 1, egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}], protocols: [{tcp: {destinationPort: {number: 443}}, udp: {destinationPort: {number: 53}}}]}]",
        ),
        "spec.egress[0].protocols[0]: sets tcp and udp",
    );
}

#[test]
fn an_action_the_kind_does_not_have_is_rejected() {
    assert_rejected(
        &format!(
            "{BANP}metadata: {{name: default}}\nspec: {{subject: {{namespaces: {{}}}}, egress: [{{action: Pass, to: [{{networks: ['0.0.0.0/0']}}]}}]}}\n"
        ),
        "spec.egress[0].action: `Pass` is not one of Allow, Deny for a BaselineAdminNetworkPolicy",
    );
    // v1alpha1's Allow is Accept in v1alpha2.
    assert_rejected(
        &cnp(
            "tier: Admin, priority: 1, egress: [{action: Allow, to: [{networks: ['0.0.0.0/0']}]}, {action: Deny, to: [{networks: ['0.0.0.0/0']}]}]",
        ),
        "spec.egress[0].action: `Allow` is not one of Accept, Deny, Pass",
    );
}

#[test]
fn port_ranges_must_run_upwards() {
    assert_rejected(
        &anp(
            "priority: 1, egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}], ports: [{portRange: {start: 500, end: 400}}]}]",
        ),
        "spec.egress[0].ports[0].portRange: start 500 exceeds end 400",
    );
    // v1alpha2's CEL rule is start < end.
    assert_rejected(
        &cnp(
            "tier: Admin, priority: 1, egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}], protocols: [{tcp: {destinationPort: {range: {start: 443, end: 443}}}}]}]",
        ),
        "range: start 443 must be less than end 443",
    );
}

#[test]
fn only_the_baseline_named_default_may_exist() {
    assert_rejected(
        &format!(
            "{BANP}metadata: {{name: other}}\nspec: {{subject: {{namespaces: {{}}}}, {DENY_V1}}}\n"
        ),
        "named `default`, may exist (this one is named `other`)",
    );
}

#[test]
fn valid_policies_raise_no_finding() {
    let c = cluster(&format!(
        "{}---\n{}---\n{}",
        anp(&format!("priority: 1000, {DENY_V1}")),
        cnp("tier: Baseline, priority: 0, egress: [{action: Accept, to: [{networks: ['0.0.0.0/0']}], protocols: [{tcp: {destinationPort: {range: {start: 1, end: 1024}}}}, {destinationNamedPort: http}]}]").replace("networks: ['0.0.0.0/0']", "namespaces: {}"),
        pod("a", "web", "app: web")
    ));
    let p = posture(&c, "a");
    assert!(p.check("invalid-object").is_none(), "{:?}", p.checks);
    assert_eq!(
        reach_address(&c, "a/web", "198.51.100.1", TCP, 443),
        Reach::Denied
    );
}
