//! The connectivity map agrees with `reach::connection` port by port.

use std::collections::BTreeMap;

use netposture_testgen::{Sizes, Style, generate};

use super::{assumed_pod_cidrs, cluster, pod, pod_with_ip, policy};
use crate::Cluster;
use crate::connectivity::{PairPorts, PortRanges, for_each_pair, segment_starts};
use crate::model::{Direction, Protocol};
use crate::reach::{self, Endpoint, Reach, Remote};

fn map(cluster: &Cluster) -> BTreeMap<(String, String, Protocol), PairPorts> {
    let mut map = BTreeMap::new();
    for_each_pair(cluster, assumed_pod_cidrs(), |pair| {
        let key = (pair.source.clone(), pair.destination.clone(), pair.protocol);
        assert!(map.insert(key, pair).is_none(), "a pair is listed twice");
    });
    map
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
    for (seed, style) in [(1, Style::All), (2, Style::Ipblock), (3, Style::NamedPorts)] {
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
