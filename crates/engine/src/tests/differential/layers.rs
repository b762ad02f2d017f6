//! The policy layers, brute force: random clusters of NetworkPolicies plus
//! AdminNetworkPolicies and ClusterNetworkPolicies (Admin and Baseline tier)
//! and either Calico GlobalNetworkPolicies or Cilium clusterwide policies,
//! decided by a reference written from the APIs' documentation alone and
//! compared with the engine on every connection.
//!
//! The reference, in the order the documentation gives:
//! - Admin tier (network-policy-api): the policies whose subject selects the
//!   pod, lowest priority first, each one's rules in order; the first
//!   matching rule decides (Allow/Accept, Deny), Pass goes on to the
//!   NetworkPolicy tier.
//! - NetworkPolicy tier, by CNI: with Calico, its policies and the
//!   NetworkPolicies (order 1000) by order, the first matching rule of a
//!   policy selecting the pod decides, Pass goes on to the Baseline tier,
//!   and a pod some policy selected is denied what none decided. With
//!   Cilium, a matching deny rule wins over every allow; otherwise any allow
//!   rule or NetworkPolicy rule admits; a pod selected by either is denied
//!   the rest. Without either, NetworkPolicy alone.
//! - Baseline tier: as the Admin tier, for what no earlier tier decided.
//! - Otherwise allowed.
//!
//! Priorities are unique within a tier here: the API leaves ties undefined
//! (the engine answers them "undetermined", tested elsewhere). Every pod has
//! an address, so `networks` peers are decided by address alone.

mod engine;
mod objects;
mod reference;
mod reference_decide;
mod shapes;

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Pod;
use kube_core::{Selector, SelectorExt};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};

use super::generate::{self, ClusterShape, Objects};
use super::pod_ips::{refines, without_ips};
use super::reference::{IpBlocks, Party, Probe, Reference, Side};
use super::{config, connections, describe, index};
use crate::cluster::Cluster;
use crate::layers::{LayerPolicy, layer_kind};
use crate::model::{Direction, Labels, Protocol};
use crate::reach::{self, Endpoint, LayerEnds, LayerSide, Reach, Remote};
use crate::tests::assumed_pod_cidrs;

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

use engine::*;
use objects::*;
use reference::*;
use shapes::*;

// ---------------------------------------------------------------- the test

fn layered_index(layered: &Layered) -> Cluster {
    let mut cluster = index(&layered.objects);
    for object in &layered.layers {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = layer_kind(group, object["kind"].as_str().unwrap_or_default())
            .expect("generated layers are of layer kinds");
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let policy = LayerPolicy::from_object(kind, None, name, object);
        assert!(
            policy.rejected.is_none() && policy.notes.is_empty(),
            "the generator wrote a policy the engine cannot take whole: {name}: {:?} {:?}",
            policy.rejected,
            policy.notes
        );
        cluster.apply_layer_policy(policy);
    }
    cluster
}

/// Rule 10's invariant on layered clusters: where the layered verdicts of
/// `layered` without pod IPs say more than, or the opposite of, those with
/// them (every generated address is inside the assumed pod CIDRs).
/// `checked` counts the connections compared.
fn pod_ip_contradictions(layered: &Layered, checked: &mut usize) -> Vec<String> {
    let stripped = Layered {
        objects: without_ips(&layered.objects),
        cni: layered.cni,
        layers: layered.layers.clone(),
    };
    let (with_ips, without) = (layered_index(layered), layered_index(&stripped));
    let engine_with = LayeredEngine::new(&with_ips, &layered.objects);
    let engine_without = LayeredEngine::new(&without, &stripped.objects);
    let mut found = Vec::new();
    for (from, to, probe) in connections(layered.objects.pods.len()) {
        let with = engine_with.reach(from, to, probe);
        let without = engine_without.reach(from, to, probe);
        *checked += 1;
        if !refines(without, with) {
            found.push(format!(
                "{} -> {} {}/{}: {without:?} without pod IPs, {with:?} with them",
                describe(&layered.objects, from),
                describe(&layered.objects, to),
                probe.protocol,
                probe.port
            ));
        }
    }
    found
}

#[test]
fn layered_verdicts_without_pod_ips_are_never_more_definite_than_with_them() {
    let mut runner = TestRunner::new(config(200));
    let checked = std::cell::Cell::new(0);
    let result = runner.run(&layered(), |shape| {
        let mut count = checked.get();
        let found = pod_ip_contradictions(&shape.layered(), &mut count);
        checked.set(count);
        match found.as_slice() {
            [] => Ok(()),
            found => Err(TestCaseError::fail(format!(
                "{} contradiction(s), the first ones:\n{}",
                found.len(),
                found[..found.len().min(8)].join("\n")
            ))),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, shape)) => panic!(
            "{reason}\n--- minimal cluster ---\n{}",
            shape.layered().yaml()
        ),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
    assert!(
        checked.get() > 0,
        "the generated clusters had no connection to compare"
    );
}

/// How many answers of each kind the engine gave: `[Denied, CniDependent, Allowed]`.
type Tally = [usize; 3];

fn compare(shape: &LayeredShape, tally: &mut Tally) -> Vec<String> {
    let layered = shape.layered();
    let cluster = layered_index(&layered);
    let engine = LayeredEngine::new(&cluster, &layered.objects);
    let reference = LayeredReference::new(&layered, shape);
    let mut found = Vec::new();
    for (from, to, probe) in connections(layered.objects.pods.len()) {
        let answer = engine.reach(from, to, probe);
        match answer {
            Reach::Denied => tally[0] += 1,
            Reach::CniDependent => tally[1] += 1,
            Reach::Allowed => tally[2] += 1,
            Reach::Undetermined => {}
        }
        let calico = reference.allows(from, to, probe, IpBlocks::MatchPodAddresses);
        let cilium = reference.allows(from, to, probe, IpBlocks::IgnorePodAddresses);
        let wanted = match (calico, cilium) {
            (true, true) => Reach::Allowed,
            (false, false) => Reach::Denied,
            _ => Reach::CniDependent,
        };
        if answer != wanted {
            found.push(format!(
                "{} -> {} {}/{}: engine {answer:?}, reference {wanted:?}",
                describe(&layered.objects, from),
                describe(&layered.objects, to),
                probe.protocol,
                probe.port
            ));
        }
    }
    found
}

#[test]
fn engine_and_layered_reference_agree_on_every_connection() {
    let mut runner = TestRunner::new(config(300));
    let tally = std::cell::Cell::new(Tally::default());
    let result = runner.run(&layered(), |shape| {
        let mut counts = tally.get();
        let found = compare(&shape, &mut counts);
        tally.set(counts);
        match found.as_slice() {
            [] => Ok(()),
            found => Err(TestCaseError::fail(format!(
                "{} disagreement(s), the first ones:\n{}",
                found.len(),
                found[..found.len().min(8)].join("\n")
            ))),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, shape)) => panic!(
            "{reason}\n--- minimal cluster ---\n{}",
            shape.layered().yaml()
        ),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
    let [denied, cni_dependent, allowed] = tally.get();
    let total = denied + cni_dependent + allowed;
    eprintln!(
        "layered connections checked: {total} (denied {denied}, CNI-dependent {cni_dependent}, allowed {allowed})"
    );
    assert!(total > 0, "no connection was checked (PROPTEST_CASES=0?)");
    // The generator must produce every answer often enough to test it.
    for (count, answer) in [
        (denied, "denied"),
        (allowed, "allowed"),
        (cni_dependent, "CNI-dependent"),
    ] {
        assert!(
            count * 1000 >= total,
            "only {count} of {total} connections were {answer}: the generator no longer exercises it"
        );
    }
}
