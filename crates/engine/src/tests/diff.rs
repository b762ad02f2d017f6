//! `diff`: two clusters that differ by one object, compared, and the
//! conditions on the result. Expected before/after values are read from each
//! side's own evaluation, so the tests pin the comparison, not the messages.

use std::collections::BTreeMap;

use super::*;
use crate::diff::{Condition, PostureDiff, Presence, Verdict, flow_changes};
use crate::model::Protocol;
use crate::posture::{CheckStatus, ids};

const DENY_BOTH: &str = "{podSelector: {}, policyTypes: [Ingress, Egress]}";
const DNS_OUT: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}";
const WEB_FROM_CLIENT: &str = "{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 8080}]}]}";
const CLIENT_TO_WEB: &str = "{podSelector: {matchLabels: {app: client}}, policyTypes: [Egress], egress: [{to: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]}";

/// Namespace `shop`, covered: default deny, DNS, a client-to-web flow.
fn covered_shop() -> String {
    [
        CALICO.to_string(),
        COREDNS.to_string(),
        namespace("shop", ""),
        pod("shop", "web-1", "app: web, pod-template-hash: aaa"),
        pod("shop", "client-1", "app: client"),
        policy("shop", "deny-all", DENY_BOTH),
        policy("shop", "dns", DNS_OUT),
        policy("shop", "web-from-client", WEB_FROM_CLIENT),
        policy("shop", "client-to-web", CLIENT_TO_WEB),
    ]
    .concat()
}

fn without(yaml: &str, object: &str) -> String {
    assert!(yaml.contains(object), "the fixture holds the object");
    yaml.replacen(object, "", 1)
}

fn all(cluster: &Cluster) -> Vec<(String, NamespacePosture)> {
    Evaluator::new(cluster, &Settings::default()).all()
}

fn diff_of(base: &str, head: &str) -> PostureDiff {
    let (base, head) = (cluster(base), cluster(head));
    let flows = flow_changes(
        (&base, assumed_pod_cidrs()),
        (&head, assumed_pod_cidrs()),
        10,
    );
    PostureDiff::new(&all(&base), &all(&head), flows)
}

fn condition(word: &str) -> Condition {
    word.parse().expect("a known condition")
}

fn hit_namespaces(word: &str, diff: &PostureDiff) -> Vec<String> {
    condition(word)
        .hits(diff)
        .into_iter()
        .map(|hit| hit.namespace)
        .collect()
}

#[test]
fn a_cluster_compared_with_itself_has_no_difference() {
    let yaml = covered_shop();
    assert!(diff_of(&yaml, &yaml).is_empty());
}

#[test]
fn removing_the_default_deny_loses_coverage_and_default_deny() {
    let base = covered_shop();
    let head = without(&base, &policy("shop", "deny-all", DENY_BOTH));
    let diff = diff_of(&base, &head);
    let shop = diff.namespace("shop").expect("shop changed");
    assert_eq!(shop.presence, Presence::Both);
    let before = posture(&cluster(&base), "shop");
    let after = posture(&cluster(&head), "shop");
    let covered = shop.verdict(Verdict::Covered).expect("covered changed");
    assert_eq!(covered.before, Some(before.covered.to_string()));
    assert_eq!(covered.after, Some(after.covered.to_string()));
    assert!(before.covered && !after.covered, "the fixture's premise");
    assert_eq!(hit_namespaces("coverage-lost", &diff), ["shop"]);
    assert_eq!(hit_namespaces("default-deny-removed", &diff), ["shop"]);
    assert_eq!(
        hit_namespaces("check-failed:default-deny-ingress", &diff),
        ["shop"]
    );
    // The DNS policy still isolates every pod for egress.
    assert!(hit_namespaces("default-deny-egress", &diff).is_empty());
    assert!(hit_namespaces("dns-broken", &diff).is_empty());
    let reason = &condition("default-deny-removed").hits(&diff)[0].reason;
    assert!(reason.contains("loses default-deny-ingress ("), "{reason}");
}

#[test]
fn removing_the_dns_rule_breaks_dns_naming_the_pods() {
    let base = covered_shop();
    let head = without(&base, &policy("shop", "dns", DNS_OUT));
    let diff = diff_of(&base, &head);
    let hits = condition("dns-broken").hits(&diff);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].namespace, "shop");
    assert!(
        hits[0].reason.contains("pod/client-1"),
        "{}",
        hits[0].reason
    );
    let check = diff
        .namespace("shop")
        .unwrap()
        .check(ids::DNS_ALLOWED)
        .unwrap();
    assert_eq!(check.before, Some(CheckStatus::Pass));
    assert!(check.newly_failing());
    // The reverse change restores DNS: no condition holds.
    assert!(
        condition("dns-broken")
            .hits(&diff_of(&head, &base))
            .is_empty()
    );
}

#[test]
fn an_egress_rule_to_everywhere_opens_egress() {
    let base = covered_shop();
    let head = format!(
        "{base}{}",
        policy(
            "shop",
            "to-internet",
            "{podSelector: {matchLabels: {app: client}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 443}]}]}"
        )
    );
    let diff = diff_of(&base, &head);
    assert_eq!(hit_namespaces("egress-opened", &diff), ["shop"]);
    assert!(hit_namespaces("egress-opened", &diff_of(&head, &base)).is_empty());
}

#[test]
fn a_load_balancer_to_an_unisolated_pod_adds_exposure() {
    let base = [namespace("dev", ""), pod("dev", "web", "app: web")].concat();
    let head = format!(
        "{base}{}",
        service(
            "dev",
            "web",
            "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}"
        )
    );
    let diff = diff_of(&base, &head);
    let hits = condition("exposure-added").hits(&diff);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].reason.contains("service/web"), "{}", hits[0].reason);
    assert!(
        condition("exposure-added")
            .hits(&diff_of(&head, &base))
            .is_empty()
    );
}

#[test]
fn a_namespace_on_one_side_only_is_added_or_removed() {
    let base = covered_shop();
    let head = format!(
        "{base}{}{}",
        namespace("dev", ""),
        pod("dev", "app", "app: x")
    );
    let diff = diff_of(&base, &head);
    let dev = diff.namespace("dev").expect("dev is reported");
    assert_eq!(dev.presence, Presence::Added);
    assert_eq!(dev.score_before, None);
    assert!(
        dev.verdicts
            .iter()
            .all(|v| v.before.is_none() && v.after.is_some())
    );
    assert_eq!(dev.verdicts.len(), Verdict::ALL.len());
    // A new namespace without default deny loses nothing, but fails checks.
    assert!(hit_namespaces("default-deny-removed", &diff).is_empty());
    assert_eq!(
        hit_namespaces("check-failed:default-deny-ingress", &diff),
        ["dev"]
    );
    let reverse = diff_of(&head, &base);
    assert_eq!(
        reverse.namespace("dev").unwrap().presence,
        Presence::Removed
    );
    assert!(hit_namespaces("check-failed:default-deny-ingress", &reverse).is_empty());
}

#[test]
fn score_drop_holds_from_its_number_of_points() {
    let base = covered_shop();
    let head = without(&base, &policy("shop", "dns", DNS_OUT));
    let diff = diff_of(&base, &head);
    let drop = diff.namespace("shop").unwrap().score_drop();
    let (before, after) = (
        posture(&cluster(&base), "shop"),
        posture(&cluster(&head), "shop"),
    );
    assert_eq!(drop, before.score - after.score);
    assert!(drop > 0, "losing DNS costs points");
    assert_eq!(
        hit_namespaces(&format!("score-drop:{drop}"), &diff),
        ["shop"]
    );
    assert!(hit_namespaces(&format!("score-drop:{}", drop + 1), &diff).is_empty());
}

#[test]
fn flows_opened_and_closed_name_label_sets_and_the_deciding_rules() {
    let base = covered_shop();
    let head = without(&base, &policy("shop", "web-from-client", WEB_FROM_CLIENT));
    let diff = diff_of(&base, &head);
    let flows = &diff.namespace("shop").expect("flows changed").flows;
    assert!(flows.opened.is_empty(), "{:?}", flows.opened);
    assert_eq!(flows.closed.len(), 1, "{:?}", flows.closed);
    let closed = &flows.closed[0];
    assert_eq!(closed.source_labels, ["app=client"]);
    assert_eq!(
        closed.destination_labels,
        ["app=web"],
        "pod-template-hash dropped"
    );
    assert_eq!(closed.ports, [(8080, 8080)]);
    assert!(
        closed
            .decided_by
            .contains(&"ingress: denied by networkpolicy/deny-all".to_string()),
        "{:?}",
        closed.decided_by
    );
    let reverse = diff_of(&head, &base);
    let reopened = &reverse.namespace("shop").unwrap().flows.opened[0];
    assert!(
        reopened
            .decided_by
            .contains(&"ingress: networkpolicy/web-from-client ingress[0]".to_string()),
        "{:?}",
        reopened.decided_by
    );
}

#[test]
fn pods_renamed_with_the_same_labels_change_no_flow() {
    let base = covered_shop();
    let head = base
        .replace("web-1", "web-2")
        .replace("hash: aaa", "hash: bbb");
    assert!(diff_of(&base, &head).is_empty());
}

#[test]
fn flows_beyond_the_cap_are_counted() {
    let base = [namespace("a", ""), pod("a", "x", "app: x")].concat();
    let mut head = base.clone();
    for i in 0..4 {
        head.push_str(&pod("a", &format!("p{i}"), &format!("app: p{i}")));
    }
    let (b, h) = (cluster(&base), cluster(&head));
    let flows = flow_changes((&b, assumed_pod_cidrs()), (&h, assumed_pod_cidrs()), 3);
    let a = &flows["a"];
    // 5 label sets, 20 ordered pairs, each new, every port of every
    // protocol: one group per pair.
    assert_eq!(a.opened.len(), 3);
    assert_eq!(a.opened.len() + a.opened_omitted as usize, 20);
    assert_eq!(a.opened[0].protocols, Protocol::ALL);
}

#[test]
fn conditions_parse_from_their_words_and_check_ids() {
    for word in [
        "coverage-lost",
        "default-deny-removed",
        "dns-broken",
        "egress-opened",
        "exposure-added",
        "check-failed:host-ports",
        "score-drop:10",
    ] {
        assert_eq!(condition(word).to_string(), word);
    }
    for id in ids::ALL {
        assert_eq!(condition(id), Condition::CheckFailed(id.to_string()));
    }
    for bad in [
        "",
        "dns",
        "check-failed:nope",
        "score-drop:101",
        "score-drop:-1",
        "score-drop:x",
    ] {
        let error = bad.parse::<Condition>().expect_err(bad);
        assert!(error.to_string().contains("coverage-lost"), "{error}");
    }
}

#[test]
fn flows_of_namespaces_without_a_posture_are_left_out() {
    let mut flows = BTreeMap::new();
    flows.insert("ghost".to_string(), Default::default());
    assert!(PostureDiff::new(&[], &[], flows).is_empty());
}
