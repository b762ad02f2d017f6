//! `impact`: after one change to a random cluster, every namespace whose
//! report differs is in the affected set, computed the way the operator's
//! watches compute it (the object's `affected_by_*` before the change,
//! merged with the same after it). A namespace left out would keep a stale
//! report.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Service};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use serde_json::json;

use super::generate::{self, ClusterShape, Objects};
use super::{config, index};
use crate::{Affected, Cluster, Evaluator, NamespacePosture, Settings};

/// One change, with what it takes from a second random cluster.
#[derive(Clone, Debug)]
enum Change {
    /// A pod of the other cluster: a new pod, or a new version of one.
    PutPod(Index),
    DeletePod(Index),
    PutPolicy(Index),
    DeletePolicy(Index),
    /// A Namespace of the other cluster: new labels, or a new namespace.
    PutNamespace(Index),
    DeleteNamespace(Index),
    /// A Node with one of a few pod CIDRs, or none.
    PutNode(Index),
    DeleteNode,
    /// A LoadBalancer Service selecting the labels of a pod of the other cluster.
    PutService(Index),
}

const NODE_CIDRS: [&[&str]; 4] = [&["10.0.0.0/16"], &["172.20.0.0/16"], &["fd00::/64"], &[]];

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<Index>().prop_map(Change::PutPod),
        any::<Index>().prop_map(Change::DeletePod),
        any::<Index>().prop_map(Change::PutPolicy),
        any::<Index>().prop_map(Change::DeletePolicy),
        any::<Index>().prop_map(Change::PutNamespace),
        any::<Index>().prop_map(Change::DeleteNamespace),
        any::<Index>().prop_map(Change::PutNode),
        Just(Change::DeleteNode),
        any::<Index>().prop_map(Change::PutService),
    ]
}

fn name_of(
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (String, String) {
    (
        metadata.namespace.clone().unwrap_or_default(),
        metadata.name.clone().unwrap_or_default(),
    )
}

fn node(cidrs: &[&str]) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1"},
        "spec": {"podCIDRs": cidrs},
    }))
    .expect("a valid Node")
}

/// Applies `change` as the operator's watch would, returning what it affects.
fn apply(
    cluster: &mut Cluster,
    settings: &Settings,
    change: &Change,
    other: &Objects,
    own: &Objects,
) -> Affected {
    let pick = |index: &Index, len: usize| (len > 0).then(|| index.index(len));
    match change {
        Change::PutPod(i) => {
            let Some(i) = pick(i, other.pods.len()) else {
                return Affected::Nothing;
            };
            let pod = &other.pods[i];
            let (namespace, name) = name_of(&pod.metadata);
            let before = cluster.affected_by_pod(settings, &namespace, &name);
            cluster.apply_pod(pod);
            before.merge(cluster.affected_by_pod(settings, &namespace, &name))
        }
        Change::DeletePod(i) => {
            let Some(i) = pick(i, own.pods.len()) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&own.pods[i].metadata);
            let before = cluster.affected_by_pod(settings, &namespace, &name);
            cluster.delete_pod(&namespace, &name);
            before
        }
        Change::PutPolicy(i) => {
            let Some(i) = pick(i, other.policies.len()) else {
                return Affected::Nothing;
            };
            let policy = &other.policies[i];
            let (namespace, name) = name_of(&policy.metadata);
            let before = cluster.affected_by_policy(settings, &namespace, &name);
            cluster.apply_policy(policy);
            before.merge(cluster.affected_by_policy(settings, &namespace, &name))
        }
        Change::DeletePolicy(i) => {
            let Some(i) = pick(i, own.policies.len()) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&own.policies[i].metadata);
            let before = cluster.affected_by_policy(settings, &namespace, &name);
            cluster.delete_policy(&namespace, &name);
            before
        }
        Change::PutNamespace(i) => {
            let Some(i) = pick(i, other.namespaces.len()) else {
                return Affected::Nothing;
            };
            let namespace = &other.namespaces[i];
            let (_, name) = name_of(&namespace.metadata);
            let before = cluster.affected_by_namespace(&name);
            cluster.apply_namespace(namespace);
            before.merge(cluster.affected_by_namespace(&name))
        }
        Change::DeleteNamespace(i) => {
            let name = generate::NAMESPACE_NAMES[i.index(generate::NAMESPACE_NAMES.len())];
            let affected = cluster.affected_by_namespace(name);
            cluster.delete_namespace(name);
            affected
        }
        Change::PutNode(i) => cluster.apply_node(&node(NODE_CIDRS[i.index(NODE_CIDRS.len())])),
        Change::DeleteNode => cluster.delete_node("node-1"),
        Change::PutService(i) => {
            let Some(i) = pick(i, other.pods.len()) else {
                return Affected::Nothing;
            };
            let pod = &other.pods[i];
            let (namespace, _) = name_of(&pod.metadata);
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let service: Service = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"type": "LoadBalancer", "selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            }))
            .expect("a valid Service");
            let before = cluster.affected_by_service(&namespace, "web");
            cluster.apply_service(&service);
            before.merge(cluster.affected_by_service(&namespace, "web"))
        }
    }
}

fn reports(cluster: &Cluster, settings: &Settings) -> Vec<(String, NamespacePosture)> {
    Evaluator::new(cluster, settings).all()
}

/// Namespaces whose report changed (or appeared, or went) but which the
/// change did not name.
fn missed(shape: &ClusterShape, other: &ClusterShape, change: &Change) -> Vec<String> {
    let (own, other) = (shape.objects(), other.objects());
    let settings = Settings::default();
    let mut cluster = index(&own);
    let before = reports(&cluster, &settings);
    let affected = apply(&mut cluster, &settings, change, &other, &own);
    let after = reports(&cluster, &settings);
    let named: BTreeSet<String> = match affected {
        Affected::All => before
            .iter()
            .chain(&after)
            .map(|(n, _)| n.clone())
            .collect(),
        other => other.resolve(&cluster),
    };
    let names: BTreeSet<&String> = before.iter().chain(&after).map(|(n, _)| n).collect();
    let report = |list: &[(String, NamespacePosture)], name: &str| {
        list.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone())
    };
    names
        .into_iter()
        .filter(|name| report(&before, name) != report(&after, name))
        .filter(|name| !named.contains(*name))
        .cloned()
        .collect()
}

#[test]
fn every_namespace_whose_report_changes_is_affected() {
    let mut runner = TestRunner::new(config(300));
    let strategy = (generate::cluster(), generate::cluster(), change());
    let result = runner.run(&strategy, |(shape, other, change)| {
        match missed(&shape, &other, &change).as_slice() {
            [] => Ok(()),
            missed => Err(TestCaseError::fail(format!(
                "{change:?} changed the reports of {missed:?}, which it did not name"
            ))),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (shape, other, change))) => panic!(
            "{reason}\n--- cluster ---\n{}\n--- change {change:?} from ---\n{}",
            shape.objects().yaml(),
            other.objects().yaml()
        ),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
}
