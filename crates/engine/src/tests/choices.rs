//! Namespace owners' annotations: opting out and accepting named risks.

use super::*;
use crate::posture::CheckStatus;
use crate::posture::ids;

fn annotated_namespace(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, annotations: {{{annotations}}}}}\n---\n"
    )
}

const DENY_BOTH_WITH_DNS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}\n---\n";

#[test]
fn exclude_annotation_marks_the_namespace_excluded() {
    let c = cluster(&annotated_namespace("a", "netposture.io/exclude: 'true'"));
    assert!(c.namespace("a").unwrap().choices.excluded);
    let c = cluster(&annotated_namespace("a", "netposture.io/exclude: 'no'"));
    assert!(!c.namespace("a").unwrap().choices.excluded);
}

#[test]
fn accepted_gap_keeps_its_verdict_but_not_its_coverage_loss() {
    // No default deny for ingress, accepted: covered, yet defaultDenyIngress stays false.
    let c = cluster(&format!(
        "{}{CALICO}{COREDNS}{}",
        annotated_namespace(
            "a",
            "netposture.io/accept: NoDefaultDenyIngress, netposture.io/accept-reason: 'public web tier, ticket SEC-12'"
        ),
        DENY_BOTH_WITH_DNS.replace("[Ingress, Egress]", "[Egress]")
    ));
    let p = posture(&c, "a");
    assert!(!p.default_deny_ingress);
    assert!(p.covered, "{:?}", p.checks);
    let check = p.check(ids::DEFAULT_DENY_INGRESS).unwrap();
    assert_eq!(check.status, CheckStatus::Accepted);
    assert!(check.message.contains("SEC-12"), "{}", check.message);
    assert_eq!(p.accepted_risks.len(), 1);
    assert_eq!(p.accepted_risks[0].risk, "NoDefaultDenyIngress");
    assert_eq!(p.accepted_risks[0].reason, "public web tier, ticket SEC-12");
    assert_eq!(
        p.check(ids::ACCEPTED_RISKS).unwrap().status,
        CheckStatus::Warn
    );
}

#[test]
fn unaccepted_gap_still_uncovers() {
    let c = cluster(&format!(
        "{}{CALICO}{COREDNS}{}",
        annotated_namespace("a", "netposture.io/accept: EgressOpen"),
        DENY_BOTH_WITH_DNS.replace("[Ingress, Egress]", "[Egress]")
    ));
    assert!(!posture(&c, "a").covered);
}

#[test]
fn unknown_risk_name_is_a_finding_and_accepts_nothing() {
    let c = cluster(&annotated_namespace(
        "a",
        "netposture.io/accept: 'EgresOpen', netposture.io/accept-reason: typo",
    ));
    let p = posture(&c, "a");
    let check = p.check(ids::ACCEPTED_RISKS).unwrap();
    assert_eq!(check.status, CheckStatus::Fail);
    assert!(check.message.contains("EgresOpen"), "{}", check.message);
    assert!(p.accepted_risks.is_empty());
    assert_ne!(
        p.check(ids::EGRESS_RESTRICTED).unwrap().status,
        CheckStatus::Accepted
    );
}
