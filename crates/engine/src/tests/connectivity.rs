//! The connectivity map agrees with `reach::connection` port by port.

use std::collections::BTreeMap;

use netposture_testgen::{Sizes, Style, generate};

use super::{assumed_pod_cidrs, cluster, pod, pod_with_ip, policy};
use crate::Cluster;
use crate::classes::PodClasses;
use crate::connectivity::{PortRanges, for_each_pair};
use crate::model::{Direction, PortSpec, Protocol};
use crate::reach::{self, Endpoint, Reach, Remote};

/// Ports allowed, and allowed only by the CNI, per source, destination and protocol.
#[derive(Debug)]
struct Ports {
    allowed: PortRanges,
    cni_dependent: PortRanges,
}

fn map(cluster: &Cluster) -> BTreeMap<(String, String, Protocol), Ports> {
    let mut map = BTreeMap::new();
    for_each_pair(cluster, assumed_pod_cidrs(), |pair| {
        let name = |end: &Endpoint<'_>| format!("{}/{}", end.namespace, end.pod.name);
        let key = (name(&pair.source), name(&pair.destination), pair.protocol);
        let ports = Ports {
            allowed: pair.allowed.clone(),
            cni_dependent: pair.cni_dependent.clone(),
        };
        assert!(map.insert(key, ports).is_none(), "a pair is listed twice");
    });
    map
}

/// The first port of each segment of 1..=65535 over which no connection of
/// the cluster can change its answer: every policy port, the port past
/// each range, every container port (named ports resolve to those).
fn segment_starts(cluster: &Cluster) -> Vec<u16> {
    let mut starts = std::collections::BTreeSet::from([1u16]);
    let mut bound = |start: u16, end: u16| {
        starts.insert(start.max(1));
        starts.extend(end.checked_add(1));
    };
    for (_, state) in cluster.namespaces() {
        for policy in state.policies.values() {
            let rules = [Direction::Ingress, Direction::Egress]
                .into_iter()
                .flat_map(|d| policy.rules(d).unwrap_or_default());
            for port in rules.flat_map(|rule| &rule.ports) {
                if let PortSpec::Range(start, end) = port.port {
                    bound(start, end);
                }
            }
        }
        for port in state.pods.values().flat_map(|pod| &pod.ports) {
            bound(port.port, port.port);
        }
    }
    starts.into_iter().collect()
}

fn holds(ranges: &PortRanges, port: u16) -> bool {
    ranges.iter().any(|&(a, b)| (a..=b).contains(&port))
}

#[test]
fn ranges_and_named_ports_become_exact_port_sets() {
    let cluster = cluster(&format!(
        "{}{}{}",
        pod("a", "client", "app: client"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: a, labels: {app: server}}\nspec: {containers: [{name: main, image: app, ports: [{name: http, containerPort: 8081}]}]}\n---\n",
        policy(
            "a",
            "server-in",
            "{podSelector: {matchLabels: {app: server}}, ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}, {port: 5000, endPort: 5010}, {port: 53, protocol: UDP}]}]}"
        ),
    ));
    let map = map(&cluster);
    let tcp = &map[&("a/client".into(), "a/server".into(), Protocol::Tcp)];
    assert_eq!(tcp.allowed, vec![(5000, 5010), (8081, 8081)]);
    assert!(tcp.cni_dependent.is_empty());
    let udp = &map[&("a/client".into(), "a/server".into(), Protocol::Udp)];
    assert_eq!(udp.allowed, vec![(53, 53)]);
    assert!(!map.contains_key(&("a/client".into(), "a/server".into(), Protocol::Sctp)));
    // The client is not isolated: it accepts everything from the server.
    let back = &map[&("a/server".into(), "a/client".into(), Protocol::Sctp)];
    assert_eq!(back.allowed, vec![(1, 65535)]);
}

#[test]
fn pods_alike_but_for_an_ip_in_an_ip_block_are_told_apart() {
    let cluster = cluster(&format!(
        "{}{}{}{}",
        pod_with_ip("a", "inside", "app: client", "10.0.0.5"),
        pod_with_ip("a", "outside", "app: client", "10.1.0.5"),
        pod("a", "server", "app: server"),
        policy(
            "a",
            "server-in",
            "{podSelector: {matchLabels: {app: server}}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16}}]}]}"
        ),
    ));
    let map = map(&cluster);
    let inside = &map[&("a/inside".into(), "a/server".into(), Protocol::Tcp)];
    assert_eq!(inside.cni_dependent, vec![(1, 65535)]);
    assert!(!map.contains_key(&("a/outside".into(), "a/server".into(), Protocol::Tcp)));
    // Alike pods reach each other both ways.
    assert!(map.contains_key(&("a/inside".into(), "a/outside".into(), Protocol::Udp)));
    assert!(map.contains_key(&("a/outside".into(), "a/inside".into(), Protocol::Udp)));
}

#[test]
fn generated_clusters_agree_with_reach_at_every_segment_edge_and_between() {
    for (seed, style) in (1..).zip(Style::ALL) {
        let objects = generate(&Sizes {
            seed,
            namespaces: 3,
            // More pods than apps: pods of one app share a class.
            pods_per_namespace: 7,
            policies_per_namespace: 6,
            style,
        });
        let cluster = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
        let map = map(&cluster);
        let mut probes: Vec<u16> = segment_starts(&cluster)
            .iter()
            .flat_map(|&s| [s.saturating_sub(1).max(1), s, s.saturating_add(1)])
            .chain((1..=u16::MAX).step_by(4099))
            .chain([u16::MAX])
            .collect();
        probes.sort_unstable();
        probes.dedup();
        let pods: Vec<_> = cluster
            .namespaces()
            .flat_map(|(namespace, state)| {
                state.pods.values().map(move |pod| {
                    (
                        Endpoint {
                            namespace,
                            namespace_labels: &state.labels,
                            pod,
                            pod_cidrs: assumed_pod_cidrs(),
                        },
                        reach::selecting(state, pod, Direction::Egress),
                        reach::selecting(state, pod, Direction::Ingress),
                    )
                })
            })
            .collect();
        let mut cni_dependent_seen = false;
        for (source, egress, _) in &pods {
            for (destination, _, ingress) in &pods {
                let from = format!("{}/{}", source.namespace, source.pod.name);
                let to = format!("{}/{}", destination.namespace, destination.pod.name);
                if from == to {
                    continue;
                }
                for protocol in Protocol::ALL {
                    let listed = map.get(&(from.clone(), to.clone(), protocol));
                    for &port in &probes {
                        let expected = reach::connection(
                            source,
                            egress,
                            &Remote::Pod(*destination),
                            ingress,
                            &reach::LayerEnds::NONE,
                            protocol,
                            port,
                        );
                        let got = match listed {
                            Some(p) if holds(&p.allowed, port) => Reach::Allowed,
                            Some(p) if holds(&p.cni_dependent, port) => Reach::CniDependent,
                            _ => Reach::Denied,
                        };
                        assert_eq!(got, expected, "{from} -> {to} {port}/{protocol} ({style})");
                        cni_dependent_seen |= got == Reach::CniDependent;
                    }
                }
            }
        }
        if style == Style::Ipblock {
            assert!(cni_dependent_seen, "the ipblock style reaches pod IPs");
        }
    }
}

/// The names of each class's members, in class order.
fn class_members(cluster: &Cluster) -> Vec<Vec<String>> {
    PodClasses::new(cluster, assumed_pod_cidrs())
        .classes
        .iter()
        .map(|class| class.members.iter().map(|pod| pod.name.clone()).collect())
        .collect()
}

#[test]
fn pods_differing_only_in_labels_no_selector_reads_share_a_class() {
    let cluster = cluster(&format!(
        "{}{}{}{}{}",
        pod(
            "a",
            "web-1",
            "app: web, pod-template-hash: 5d8f7c9b6, version: v1"
        ),
        pod(
            "a",
            "web-2",
            "app: web, pod-template-hash: 7b9c6d5f8, version: v2"
        ),
        pod(
            "a",
            "web-3",
            "app: web, statefulset.kubernetes.io/pod-name: web-3"
        ),
        pod("a", "db-1", "app: db, pod-template-hash: 5d8f7c9b6"),
        policy(
            "a",
            "db-in",
            "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}"
        ),
    ));
    assert_eq!(
        class_members(&cluster),
        vec![
            vec!["db-1".to_string()],
            vec!["web-1".into(), "web-2".into(), "web-3".into()]
        ]
    );
}

#[test]
fn a_key_read_only_for_its_absence_still_splits_pods() {
    let cluster = cluster(&format!(
        "{}{}{}{}",
        pod("a", "stable", "app: web"),
        pod("a", "canary", "app: web, track: canary"),
        pod("b", "elsewhere", "app: web"),
        policy(
            "a",
            "stable-only",
            "{podSelector: {}, ingress: [{from: [{podSelector: {matchExpressions: [{key: track, operator: DoesNotExist}]}}]}]}"
        ),
    ));
    // A namespace of its own, a value or none of a key read: three classes.
    assert_eq!(
        class_members(&cluster),
        vec![
            vec!["canary".to_string()],
            vec!["stable".into()],
            vec!["elsewhere".into()]
        ]
    );
    let map = map(&cluster);
    assert!(map.contains_key(&("a/stable".into(), "a/canary".into(), Protocol::Tcp)));
    assert!(!map.contains_key(&("a/canary".into(), "a/stable".into(), Protocol::Tcp)));
}

#[test]
fn realistic_clusters_have_far_fewer_classes_than_label_sets() {
    let objects = generate(&Sizes {
        seed: 7,
        namespaces: 4,
        pods_per_namespace: 40,
        policies_per_namespace: 6,
        style: Style::Realistic,
    });
    let cluster = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
    let label_sets: std::collections::BTreeSet<_> = cluster
        .namespaces()
        .flat_map(|(namespace, state)| state.pods.values().map(move |pod| (namespace, &pod.labels)))
        .collect();
    let classes = PodClasses::new(&cluster, assumed_pod_cidrs()).classes.len();
    // Five apps per namespace, plus kube-system's two kinds of pods.
    assert!(classes <= 4 * 5 + 2, "{classes} classes");
    assert!(
        label_sets.len() >= 4 * classes,
        "{} label sets",
        label_sets.len()
    );
}

#[test]
fn a_rule_without_peers_admits_every_source_on_its_ports() {
    let cluster = cluster(&format!(
        "{}{}{}{}",
        pod("a", "server", "app: server"),
        pod("a", "client", "app: client"),
        pod("b", "client", "app: client"),
        policy(
            "a",
            "server-in",
            "{podSelector: {matchLabels: {app: server}}, ingress: [{ports: [{port: 80}]}]}"
        ),
    ));
    let map = map(&cluster);
    for client in ["a/client", "b/client"] {
        let tcp = &map[&(client.into(), "a/server".into(), Protocol::Tcp)];
        assert_eq!(tcp.allowed, vec![(80, 80)], "{client}");
        assert!(!map.contains_key(&(client.into(), "a/server".into(), Protocol::Udp)));
    }
}
