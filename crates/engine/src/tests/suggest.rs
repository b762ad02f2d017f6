//! `suggest`: applied to a copy of the cluster, the suggested policies give
//! the namespace a default deny both ways and DNS, and every flow the
//! definition in `suggest.rs` keeps is still Allowed. The kept flows are
//! enumerated here pod by pod, independently of the suggestion's grouping.

use netposture_testgen::{Sizes, generate};

use super::*;
use crate::cluster::NamespaceState;
use crate::model::Pod;
use crate::suggest::{Suggestion, suggest};

const DENY_ALL: &str = "{podSelector: {}, policyTypes: [Ingress, Egress]}";

fn web(namespace: &str, name: &str, labels: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{{labels}}}}}\nspec: {{containers: [{{name: main, image: app, ports: [{{containerPort: {port}}}, {{name: metrics, containerPort: 9090}}]}}]}}\n---\n"
    )
}

/// shop has no policy; its neighbours explicitly admit flows to and from it.
fn shop_cluster() -> Cluster {
    cluster(&format!(
        "{CALICO}{COREDNS}{}{}{}{}{}{}{}{}{}{}{}{}{}",
        namespace("shop", ""),
        web("shop", "web-1", "app: web, pod-template-hash: abc", 8080),
        web("shop", "web-2", "app: web, pod-template-hash: abc", 8080),
        web("shop", "api", "app: api", 8443),
        web("db", "postgres", "app: postgres", 5432),
        policy("db", "deny", DENY_ALL),
        policy(
            "db",
            "from-shop-api",
            "{podSelector: {matchLabels: {app: postgres}}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]}"
        ),
        web("monitoring", "prometheus", "app: prometheus", 9091),
        policy(
            "monitoring",
            "scrape",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}], ports: [{port: metrics}]}]}"
        ),
        web("edge", "proxy", "app: proxy", 443),
        policy(
            "edge",
            "to-shop-web",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]}"
        ),
        // kube-system admits DNS only from namespaces labelled dns: allowed.
        policy(
            "kube-system",
            "dns-in",
            "{podSelector: {matchLabels: {k8s-app: kube-dns}}, ingress: [{from: [{namespaceSelector: {matchLabels: {dns: allowed}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}"
        ),
        // An open neighbour: flows between it and shop were allowed only by absence of policy.
        web("open", "client", "app: client", 80),
    ))
}

fn applied(cluster: &Cluster, suggestion: &Suggestion) -> Cluster {
    let mut applied = cluster.clone();
    for suggested in &suggestion.policies {
        applied.apply_policy(&suggested.policy);
    }
    applied
}

type Flow = (String, String, Protocol, u16);

fn regular(state: &NamespaceState) -> impl Iterator<Item = &Pod> {
    state.pods.values().filter(|p| !p.host_network)
}

/// Every connection touching `namespace` that was Allowed and that the
/// suggestion must keep: unaffected by the new isolation, or admitted by a
/// rule on the side that was already isolated.
fn flows_to_keep(cluster: &Cluster, namespace: &str) -> Vec<Flow> {
    let mut flows = Vec::new();
    for (from_ns, from_state) in cluster.namespaces() {
        for (to_ns, to_state) in cluster.namespaces() {
            if from_ns != namespace && to_ns != namespace {
                continue;
            }
            for from in regular(from_state) {
                for to in regular(to_state).filter(|to| (to_ns, &to.name) != (from_ns, &from.name))
                {
                    let egress = reach::selecting(from_state, from, Direction::Egress);
                    let ingress = reach::selecting(to_state, to, Direction::Ingress);
                    let newly_egress = from_ns == namespace && egress.is_empty();
                    let newly_ingress = to_ns == namespace && ingress.is_empty();
                    let explicit = match (newly_egress, newly_ingress) {
                        (false, false) => true,
                        (true, false) => !ingress.is_empty(),
                        (false, true) => !egress.is_empty(),
                        (true, true) => false,
                    };
                    if !explicit {
                        continue;
                    }
                    for port in &to.ports {
                        let source = Endpoint {
                            namespace: from_ns,
                            namespace_labels: &from_state.labels,
                            pod: from,
                            pod_cidrs: assumed_pod_cidrs(),
                        };
                        let destination = Remote::Pod(Endpoint {
                            namespace: to_ns,
                            namespace_labels: &to_state.labels,
                            pod: to,
                            pod_cidrs: assumed_pod_cidrs(),
                        });
                        let before = reach::connection(
                            &source,
                            &egress,
                            &destination,
                            &ingress,
                            &reach::LayerEnds::NONE,
                            port.protocol,
                            port.port,
                        );
                        if before == Reach::Allowed {
                            flows.push((
                                format!("{from_ns}/{}", from.name),
                                format!("{to_ns}/{}", to.name),
                                port.protocol,
                                port.port,
                            ));
                        }
                    }
                }
            }
        }
    }
    flows
}

fn lost_flows(after: &Cluster, flows: &[Flow]) -> Vec<Flow> {
    flows
        .iter()
        .filter(|(from, to, protocol, port)| {
            reach(after, from, to, *protocol, *port) != Reach::Allowed
        })
        .cloned()
        .collect()
}

/// The suggestion closes the namespace and loses no flow to keep.
fn assert_suggestion_holds(cluster: &Cluster, namespace: &str) {
    let settings = Settings::default();
    let suggestion = suggest(cluster, &settings, namespace).expect("namespace exists");
    let after = applied(cluster, &suggestion);
    let posture = Evaluator::new(&after, &settings)
        .namespace(namespace)
        .unwrap();
    let cancelled = suggestion.notes.iter().any(|n| n.contains("cancelled"));
    if !cancelled {
        assert!(posture.default_deny_ingress, "{namespace}: {suggestion:?}");
        assert!(posture.default_deny_egress, "{namespace}: {suggestion:?}");
    }
    assert!(posture.dns_allowed, "{namespace}: {:?}", posture.checks);
    let lost = lost_flows(&after, &flows_to_keep(cluster, namespace));
    assert!(lost.is_empty(), "{namespace} lost {lost:?}");
}

#[test]
fn suggestion_closes_an_open_namespace_and_keeps_explicitly_admitted_flows() {
    let c = shop_cluster();
    let flows = flows_to_keep(&c, "shop");
    for expected in [
        ("shop/api", "db/postgres", TCP, 5432),
        ("monitoring/prometheus", "shop/web-1", TCP, 9090),
        ("edge/proxy", "shop/web-2", TCP, 8080),
    ] {
        let flow = (expected.0.into(), expected.1.into(), expected.2, expected.3);
        assert!(flows.contains(&flow), "{flow:?} in {flows:?}");
    }
    assert!(
        !flows
            .iter()
            .any(|(from, to, ..)| from == "open/client" || to == "open/client"),
        "flows allowed only by absence of policy are closed: {flows:?}"
    );
    assert_suggestion_holds(&c, "shop");
}

#[test]
fn suggestion_for_dns_blocked_by_the_dns_namespace_targets_that_namespace() {
    let suggestion = suggest(&shop_cluster(), &Settings::default(), "shop").unwrap();
    let dns_side: Vec<_> = suggestion
        .policies
        .iter()
        .filter(|s| s.policy.metadata.namespace.as_deref() == Some("kube-system"))
        .collect();
    assert_eq!(dns_side.len(), 1, "{suggestion:?}");
    assert!(dns_side[0].why.contains("belongs to kube-system"));
    assert!(suggestion.notes.iter().any(|n| n.contains("DNS side")));
}

#[test]
fn suggestion_selects_by_stable_labels_and_groups_by_peer() {
    let suggestion = suggest(&shop_cluster(), &Settings::default(), "shop").unwrap();
    let yaml = serde_json::to_string(
        &suggestion
            .policies
            .iter()
            .map(|s| &s.policy)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!yaml.contains("pod-template-hash"), "{yaml}");
    let keep_ingress: Vec<_> = suggestion
        .policies
        .iter()
        .filter(|s| {
            s.policy
                .metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with("netposture-keep-ingress")
        })
        .collect();
    // web-1 and web-2 share one policy; api has its own.
    assert_eq!(keep_ingress.len(), 2, "{keep_ingress:?}");
}

#[test]
fn covered_namespace_needs_no_policy() {
    let c = cluster(&format!(
        "{CALICO}{COREDNS}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny", DENY_ALL),
        policy(
            "a",
            "dns",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}"
        ),
    ));
    let suggestion = suggest(&c, &Settings::default(), "a").unwrap();
    assert!(suggestion.policies.is_empty(), "{suggestion:?}");
}

#[test]
fn suggestion_holds_on_every_namespace_of_generated_clusters() {
    for seed in [1, 7, 42] {
        let objects = generate(&Sizes {
            seed,
            namespaces: 6,
            pods_per_namespace: 6,
            policies_per_namespace: 5,
            style: netposture_testgen::Style::All,
        });
        let c = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
        for (namespace, _) in c.namespaces() {
            assert_suggestion_holds(&c, namespace);
        }
    }
}

#[test]
fn dropping_a_suggested_rule_loses_a_flow_the_check_finds() {
    let c = shop_cluster();
    let mut suggestion = suggest(&c, &Settings::default(), "shop").unwrap();
    let keep = suggestion
        .policies
        .iter_mut()
        .find(|s| s.policy.metadata.name.as_deref() == Some("netposture-keep-egress-1"))
        .expect("shop/api keeps its egress to db");
    let spec = keep.policy.spec.as_mut().unwrap();
    spec.egress.as_mut().unwrap().remove(0);
    let lost = lost_flows(&applied(&c, &suggestion), &flows_to_keep(&c, "shop"));
    assert!(!lost.is_empty(), "removing a kept rule must lose a flow");
}
