//! The differential tests on clusters of `netposture-testgen`, every style,
//! the realistic one first: its pods carry labels no selector reads
//! (`pod-template-hash`, StatefulSet pod names, versions), which the
//! connectivity map groups away. On each cluster the reference decides every
//! pod pair itself, and is compared with the engine's per-pair answer
//! ([`compare`]) and with the connectivity map, which decides one pod pair
//! per pair of pod classes.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netposture_testgen::{Sizes, Style, generate};

use super::generate::Objects;
use super::reference::{Party, Probe, Reference};
use super::{compare, expected};
use crate::Cluster;
use crate::connectivity::{PortRanges, for_each_pair};
use crate::model::Protocol;
use crate::reach::Reach;
use crate::tests::assumed_pod_cidrs;

/// Styles in the order checked: the realistic one first.
fn styles() -> impl Iterator<Item = Style> {
    std::iter::once(Style::Realistic)
        .chain(Style::ALL.into_iter().filter(|s| *s != Style::Realistic))
}

/// A testgen cluster small enough for the brute-force reference, with more
/// pods than apps per namespace, so that pods of one app, each with labels
/// of its own, share a class.
fn testgen_objects(style: Style, seed: u64) -> Objects {
    let objects = generate(&Sizes {
        seed,
        namespaces: 3,
        pods_per_namespace: 14,
        policies_per_namespace: 6,
        style,
    });
    Objects {
        namespaces: objects.namespaces,
        pods: objects.pods,
        policies: objects.policies,
    }
}

/// The same cluster with every app serving `http` on 8080, as many real
/// clusters do: testgen gives apps alternate ports, so a class signature
/// that lost a label key could still be saved by the ports. Here the labels
/// alone tell apps apart.
fn with_one_http_port(mut objects: Objects) -> Objects {
    let containers = objects
        .pods
        .iter_mut()
        .filter_map(|pod| pod.spec.as_mut())
        .flat_map(|spec| spec.containers.iter_mut());
    for port in containers.flat_map(|c| c.ports.iter_mut().flatten()) {
        if port.name.as_deref() == Some("http") {
            port.container_port = 8080;
        }
    }
    objects
}

#[test]
fn engine_and_reference_agree_on_every_connection_of_testgen_clusters() {
    for style in styles() {
        let objects = testgen_objects(style, 11);
        let found = compare(&objects, &mut Default::default());
        assert!(
            found.is_empty(),
            "{style}: {} disagreement(s), the first ones:\n{}",
            found.len(),
            found[..found.len().min(8)].join("\n")
        );
    }
}

/// Both ends of every port segment over which no answer of the cluster can
/// change: a segment starts at each policy port, after each range (read
/// from the objects as written) and at each container port (named ports
/// resolve to those); and a sample of the ports between.
fn probe_ports(objects: &Objects) -> Vec<u16> {
    let mut edges = BTreeSet::from([1u16, u16::MAX]);
    for spec in objects.policies.iter().filter_map(|p| p.spec.as_ref()) {
        let ingress = spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.ports.iter().flatten());
        let egress = spec
            .egress
            .iter()
            .flatten()
            .flat_map(|r| r.ports.iter().flatten());
        for port in ingress.chain(egress) {
            if let Some(IntOrString::Int(number)) = port.port {
                edges.extend(u16::try_from(number).ok());
            }
            if let Some(end) = port.end_port {
                edges.extend(u16::try_from(end).ok().and_then(|e| e.checked_add(1)));
            }
        }
    }
    let containers = objects
        .pods
        .iter()
        .filter_map(|pod| pod.spec.as_ref())
        .flat_map(|spec| &spec.containers);
    for port in containers.flat_map(|c| c.ports.iter().flatten()) {
        edges.extend(u16::try_from(port.container_port).ok());
    }
    let mut ports: BTreeSet<u16> = (1..=u16::MAX).step_by(8191).collect();
    for edge in edges {
        ports.extend([edge.saturating_sub(1).max(1), edge]);
    }
    ports.into_iter().collect()
}

fn holds(ranges: &PortRanges, port: u16) -> bool {
    ranges
        .iter()
        .any(|&(start, end)| (start..=end).contains(&port))
}

/// Where the connectivity map of `objects` and the reference disagree.
fn map_disagreements(objects: &Objects) -> Vec<String> {
    let cluster = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
    let mut map: BTreeMap<(String, String, Protocol), (PortRanges, PortRanges)> = BTreeMap::new();
    for_each_pair(&cluster, assumed_pod_cidrs(), |pair| {
        let name = |end: &crate::reach::Endpoint<'_>| format!("{}/{}", end.namespace, end.pod.name);
        let ports = (pair.allowed.clone(), pair.cni_dependent.clone());
        let key = (name(&pair.source), name(&pair.destination), pair.protocol);
        assert!(map.insert(key, ports).is_none(), "a pair is listed twice");
    });
    let reference = Reference::new(&objects.namespaces, &objects.pods, &objects.policies);
    let names: Vec<String> = objects
        .pods
        .iter()
        .map(|pod| {
            let meta = &pod.metadata;
            format!(
                "{}/{}",
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let ports = probe_ports(objects);
    let mut found = Vec::new();
    for (a, from) in names.iter().enumerate() {
        for (b, to) in names.iter().enumerate().filter(|&(b, _)| b != a) {
            for protocol in Protocol::ALL {
                let listed = map.get(&(from.clone(), to.clone(), protocol));
                let name = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                };
                for &port in &ports {
                    let probe = Probe {
                        protocol: name,
                        port,
                    };
                    let wanted = expected(&reference, Party::Pod(a), Party::Pod(b), probe);
                    let got = match listed {
                        Some((allowed, _)) if holds(allowed, port) => Reach::Allowed,
                        Some((_, cni)) if holds(cni, port) => Reach::CniDependent,
                        _ => Reach::Denied,
                    };
                    if got != wanted {
                        found.push(format!(
                            "{from} -> {to} {port}/{name}: map {got:?}, reference {wanted:?}"
                        ));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn connectivity_by_pod_class_agrees_with_the_reference_pod_pair_by_pod_pair() {
    for seed in [11, 12] {
        let objects = testgen_objects(Style::Realistic, seed);
        check_map(&objects, &format!("realistic, seed {seed}"));
        let objects = with_one_http_port(objects);
        check_map(&objects, &format!("realistic, one http port, seed {seed}"));
    }
    // One cluster of each other style keeps the test quick.
    for style in Style::ALL.into_iter().filter(|&s| s != Style::Realistic) {
        check_map(&testgen_objects(style, 11), &format!("{style}, seed 11"));
    }
}

fn check_map(objects: &Objects, which: &str) {
    let found = map_disagreements(objects);
    assert!(
        found.is_empty(),
        "{which}: {} disagreement(s), the first ones:\n{}",
        found.len(),
        found[..found.len().min(8)].join("\n")
    );
}
