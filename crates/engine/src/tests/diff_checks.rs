//! `diff` of every check and every verdict: for each, two clusters that
//! differ by one object, where it changes. The expected before and after
//! are each side's own evaluation; the tests pin that the diff reports
//! exactly that change, swapped when compared the other way round, and that
//! `check-failed:ID` holds where the check newly fails.

use std::collections::BTreeSet;

use super::*;
use crate::diff::{Condition, PostureDiff, Verdict};
use crate::posture::{CheckStatus, ids};

const DENY_INGRESS: &str = "{podSelector: {}, policyTypes: [Ingress]}";
const DENY_EGRESS: &str = "{podSelector: {}, policyTypes: [Egress]}";
const DNS_UDP_ONLY: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}]}]}";
const DNS_TCP: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: TCP}]}]}";
const TO_INTERNET: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 443}]}]}";
const INGRESS_WITHOUT_TLS: &str = "{rules: [{host: a.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}";
const ISTIOD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: istiod-1, namespace: istio-system, labels: {app: istiod}}\nspec: {containers: [{name: discovery, image: 'istio/pilot:1.22.0'}]}\n---\n";
const DASHBOARD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: dashboard-1, namespace: kubernetes-dashboard, labels: {app: ui}}\nspec: {containers: [{name: d, image: 'docker.io/kubernetesui/dashboard:v2.7.0', ports: [{containerPort: 8443}]}]}\n---\n";
const ANP_UNREADABLE: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: future}\nspec: {priority: 5, subject: {namespaces: {}}, egress: [{action: Deny, to: [{}]}]}\n---\n";

/// Two clusters, the head differing from the base by one object, and the
/// namespace to look at.
struct Case {
    what: &'static str,
    namespace: &'static str,
    base: String,
    head: String,
}

/// A CNI that enforces, cluster DNS, namespace `a` with pod `web` behind a
/// ClusterIP Service.
fn world() -> String {
    [
        CALICO,
        COREDNS,
        &namespace("a", ""),
        &pod("a", "web", "app: web"),
        &service("a", "web", "{selector: {app: web}, ports: [{port: 80}]}"),
    ]
    .concat()
}

fn added(what: &'static str, base: String, object: String) -> Case {
    Case {
        what,
        namespace: "a",
        head: format!("{base}{object}"),
        base,
    }
}

fn in_namespace(namespace: &'static str, case: Case) -> Case {
    Case { namespace, ..case }
}

fn check_cases() -> Vec<Case> {
    let world = world;
    let with = |extra: &str| format!("{}{extra}", world());
    let host_port = "apiVersion: v1\nkind: Pod\nmetadata: {name: statsd, namespace: a, labels: {app: statsd}}\nspec: {containers: [{name: s, image: s, ports: [{containerPort: 8125, hostPort: 8125, protocol: UDP}]}]}\n---\n";
    let host_network = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: a, labels: {app: agent}}\nspec: {hostNetwork: true, containers: [{name: s, image: s}]}\n---\n";
    let metrics_server = "apiVersion: v1\nkind: Pod\nmetadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}\nspec: {containers: [{name: main, image: ms, ports: [{name: https, containerPort: 443}]}]}\n---\n";
    let mesh = format!(
        "{CALICO}{COREDNS}{ISTIOD}{}{}",
        namespace("a", "istio-injection: enabled"),
        pod("a", "web", "app: web")
    );
    let accepted_namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, annotations: {netposture.io/accept: EgressOpen, netposture.io/accept-reason: 'public API client'}}\n---\n";
    vec![
        added(
            ids::DEFAULT_DENY_INGRESS,
            world(),
            policy("a", "deny-in", DENY_INGRESS),
        ),
        added(
            ids::DEFAULT_DENY_EGRESS,
            world(),
            policy("a", "deny-out", DENY_EGRESS),
        ),
        added(
            ids::EGRESS_RESTRICTED,
            world(),
            policy("a", "deny-out", DENY_EGRESS),
        ),
        added(
            ids::DNS_ALLOWED,
            world(),
            policy("a", "deny-out", DENY_EGRESS),
        ),
        added(
            ids::DNS_TCP_ALLOWED,
            with(&policy("a", "dns-udp", DNS_UDP_ONLY)),
            policy("a", "dns-tcp", DNS_TCP),
        ),
        added(
            ids::CNI_ENFORCES,
            world().replacen(CALICO, "", 1),
            CALICO.into(),
        ),
        added(
            ids::PODS_ISOLATED,
            world(),
            policy(
                "a",
                "deny-all",
                "{podSelector: {}, policyTypes: [Ingress, Egress]}",
            ),
        ),
        added(ids::HOST_NETWORK_PODS, world(), host_network.into()),
        added(
            ids::EXPOSED_SERVICES,
            world(),
            service(
                "a",
                "public",
                "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}",
            ),
        ),
        added(
            ids::INVALID_OBJECT,
            world(),
            policy(
                "a",
                "broken",
                "{podSelector: {matchExpressions: [{key: app, operator: Bad}]}}",
            ),
        ),
        added(ids::UNEVALUATED_POLICIES, world(), ANP_UNREADABLE.into()),
        added(
            ids::ACCEPTED_RISKS,
            world().replacen(&namespace("a", ""), "", 1),
            accepted_namespace.into(),
        ),
        added(ids::HOST_PORTS, world(), host_port.into()),
        added(
            ids::INGRESS_TLS,
            world(),
            ingress("a", "web", INGRESS_WITHOUT_TLS),
        ),
        added(
            ids::INGRESS_BACKENDS,
            world(),
            ingress("a", "web", INGRESS_WITHOUT_TLS),
        ),
        in_namespace(
            "kubernetes-dashboard",
            added(
                ids::DASHBOARD_EXPOSED,
                with(DASHBOARD),
                service(
                    "kubernetes-dashboard",
                    "ui",
                    "{type: LoadBalancer, selector: {app: ui}, ports: [{port: 443, targetPort: 8443}]}",
                ),
            ),
        ),
        added(
            ids::MESH_MTLS,
            mesh,
            peer_authentication("a", "default", "{mtls: {mode: STRICT}}"),
        ),
        added(
            ids::SYSTEM_NAMESPACES_ISOLATED,
            with(metrics_server),
            policy(
                "kube-system",
                "metrics-in",
                "{podSelector: {matchLabels: {k8s-app: metrics-server}}, policyTypes: [Ingress]}",
            ),
        ),
        added(
            ids::EMPTY_POLICIES,
            world(),
            policy(
                "a",
                "nobody",
                "{podSelector: {matchLabels: {app: nothing}}, policyTypes: [Ingress]}",
            ),
        ),
        added(
            ids::EMPTY_PEERS,
            world(),
            policy(
                "a",
                "from-ghost",
                "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: ghost}}}]}]}",
            ),
        ),
        added(
            ids::SPOOFABLE_NAMESPACE_SELECTORS,
            world(),
            policy(
                "a",
                "from-team",
                "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: x}}}]}]}",
            ),
        ),
    ]
}

fn verdict_cases() -> Vec<Case> {
    let dns_out = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}";
    let isolated_out = format!("{}{}", world(), policy("a", "dns", dns_out));
    vec![
        added(
            "covered",
            isolated_out.clone(),
            policy("a", "deny-in", DENY_INGRESS),
        ),
        added(
            "defaultDenyIngress",
            world(),
            policy("a", "deny-in", DENY_INGRESS),
        ),
        added(
            "defaultDenyEgress",
            world(),
            policy("a", "deny-out", DENY_EGRESS),
        ),
        added(
            "egressOpen",
            isolated_out,
            policy("a", "to-internet", TO_INTERNET),
        ),
        added("dnsAllowed", world(), policy("a", "deny-out", DENY_EGRESS)),
        added("cniCapable", world().replacen(CALICO, "", 1), CALICO.into()),
        added(
            "unprotectedPods",
            world(),
            pod("a", "worker", "app: worker"),
        ),
    ]
}

fn postures(yaml: &str) -> Vec<(String, NamespacePosture)> {
    Evaluator::new(&cluster(yaml), &Settings::default()).all()
}

fn of(postures: &[(String, NamespacePosture)], namespace: &str) -> NamespacePosture {
    postures
        .iter()
        .find(|(n, _)| n == namespace)
        .map(|(_, p)| p.clone())
        .expect("the namespace is on both sides")
}

#[test]
fn every_check_change_is_reported_both_ways_with_each_sides_status() {
    let cases = check_cases();
    let ids_covered: BTreeSet<&str> = cases.iter().map(|c| c.what).collect();
    assert_eq!(
        ids_covered,
        ids::ALL.into_iter().collect(),
        "one case per check"
    );
    for case in &cases {
        let (id, ns) = (case.what, case.namespace);
        let (base, head) = (postures(&case.base), postures(&case.head));
        let status = |side: &[(String, NamespacePosture)]| of(side, ns).check(id).map(|c| c.status);
        let (before, after) = (status(&base), status(&head));
        assert_ne!(before, after, "{id}: the fixture changes the check");
        let forward = PostureDiff::of_postures(&base, &head);
        let change = forward
            .namespace(ns)
            .and_then(|d| d.check(id))
            .unwrap_or_else(|| panic!("{id}: reported"));
        assert_eq!((change.before, change.after), (before, after), "{id}");
        let backward = PostureDiff::of_postures(&head, &base);
        let reverse = backward
            .namespace(ns)
            .and_then(|d| d.check(id))
            .expect("reported back");
        assert_eq!(
            (reverse.before, reverse.after),
            (after, before),
            "{id} reversed"
        );
        let condition = Condition::CheckFailed(id.into());
        let newly_failing = after == Some(CheckStatus::Fail) && before != after;
        let hit = condition.hits(&forward).iter().any(|h| h.namespace == ns);
        assert_eq!(
            hit, newly_failing,
            "{id}: check-failed holds where it newly fails"
        );
        let hit_back = condition.hits(&backward).iter().any(|h| h.namespace == ns);
        assert_eq!(hit_back, before == Some(CheckStatus::Fail), "{id} reversed");
    }
}

#[test]
fn every_verdict_change_is_reported_both_ways_with_each_sides_value() {
    let cases = verdict_cases();
    let named: Vec<&str> = cases.iter().map(|c| c.what).collect();
    let all: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
    assert_eq!(named, all, "one case per verdict");
    for (case, verdict) in cases.iter().zip(Verdict::ALL) {
        let (base, head) = (postures(&case.base), postures(&case.head));
        let before = verdict.value(&of(&base, case.namespace));
        let after = verdict.value(&of(&head, case.namespace));
        assert_ne!(
            before, after,
            "{}: the fixture changes the verdict",
            case.what
        );
        let forward = PostureDiff::of_postures(&base, &head);
        let change = forward
            .namespace(case.namespace)
            .and_then(|d| d.verdict(verdict))
            .unwrap_or_else(|| panic!("{}: reported", case.what));
        assert_eq!(
            (change.before.as_deref(), change.after.as_deref()),
            (Some(before.as_str()), Some(after.as_str()))
        );
        let backward = PostureDiff::of_postures(&head, &base);
        let reverse = backward
            .namespace(case.namespace)
            .and_then(|d| d.verdict(verdict))
            .expect("reported back");
        assert_eq!(
            (&reverse.before, &reverse.after),
            (&change.after, &change.before)
        );
    }
}
