//! Differential tests: the engine against an independent brute-force
//! reference ([`reference`]) on thousands of random clusters ([`generate`]).
//!
//! For every ordered pair of endpoints (every pod, plus addresses outside
//! every pod as source or destination) and every probe (protocol and port),
//! the engine is asked exactly as the operator asks it (a [`Cluster`] built
//! from the objects, `reach::selecting` once per pod, then
//! `reach::connection`), and the reference decides twice: once with ipBlocks
//! matching pod addresses (Calico) and once without (Cilium). The engine's
//! `Allowed` must be "allowed both ways", `Denied` "denied both ways", and
//! `CniDependent` "the two disagree".
//!
//! A failing case shrinks to a small cluster, printed as YAML; each one found
//! is kept as a named test in [`regressions`], and proptest keeps its seed in
//! `proptest-regressions/`. `PROPTEST_CASES` overrides the number of cases;
//! zero is refused, as it would check nothing.
//!
//! Beside connections: [`namespace_verdicts`] checks `dnsAllowed` and
//! `egressOpen` from the `Evaluator` against the reference, [`pod_ips`]
//! that verdicts without pod IPs never contradict those with them, and
//! [`impact`] that a change names every namespace whose report it changes.

mod diff;
mod generate;
mod impact;
mod layers;
mod namespace_verdicts;
mod pod_ips;
mod reference;
mod regressions;
mod testgen_styles;

mod brute_force;

use std::cell::Cell;
use std::net::IpAddr;

use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRunner,
};

use crate::cluster::Cluster;
use crate::model::{Direction, Policy, Protocol};
use crate::reach::{self, Endpoint, LayerEnds, Reach, Remote};
use crate::{Evaluator, Settings};

use super::assumed_pod_cidrs;

use generate::Objects;
use reference::{IpBlocks, Party, Probe, Reference, Side};

const fn probe(protocol: &'static str, port: u16) -> Probe {
    Probe { protocol, port }
}

/// Every container port the generator declares (named ports resolve to
/// these), 8080 over UDP, where the TCP name `http` must not resolve, and
/// 443, which no pod declares.
const PROBES: [Probe; 10] = [
    probe("TCP", 53),
    probe("UDP", 53),
    probe("TCP", 80),
    probe("TCP", 443),
    probe("TCP", 8080),
    probe("UDP", 8080),
    probe("TCP", 9090),
    probe("UDP", 9091),
    probe("TCP", 50051),
    probe("SCTP", 3868),
];

/// Addresses no generated pod has: public, in the pod ranges, in the node
/// range, excepted by some generated ipBlocks, and IPv6.
const OUTSIDE: [&str; 8] = [
    "8.8.8.8",
    "8.8.4.4",
    "10.0.0.250",
    "10.0.2.250",
    "192.168.1.1",
    "2001:db8::1",
    "2001:db8:1::1",
    "fd00::250",
];

/// Every connection the differential tests compare: each ordered pair of
/// the cluster's pods and the outside addresses (address to address left
/// out), on every probe.
fn connections(pods: usize) -> Vec<(Party, Party, Probe)> {
    let parties: Vec<Party> = (0..pods).map(Party::Pod).chain(outside()).collect();
    let mut connections = Vec::new();
    for &from in &parties {
        for &to in &parties {
            if !matches!((from, to), (Party::Address(_), Party::Address(_))) {
                connections.extend(PROBES.into_iter().map(|probe| (from, to, probe)));
            }
        }
    }
    connections
}

fn outside() -> impl Iterator<Item = Party> {
    OUTSIDE
        .iter()
        .map(|a| Party::Address(a.parse::<IpAddr>().expect("valid address")))
}

/// How many random cases to run: `PROPTEST_CASES`, else `default_cases`.
/// Zero cases, or a value that is not a number, would let a property pass
/// without checking anything: refused.
fn cases(setting: Option<&str>, default_cases: u32) -> Result<u32, String> {
    let cases = match setting {
        None => default_cases,
        Some(text) => text
            .parse()
            .map_err(|_| format!("PROPTEST_CASES={text:?} is not a number of cases"))?,
    };
    if cases == 0 {
        return Err("PROPTEST_CASES=0 would check nothing: give at least 1".into());
    }
    Ok(cases)
}

fn config(default_cases: u32) -> Config {
    let setting = std::env::var("PROPTEST_CASES").ok();
    let cases =
        cases(setting.as_deref(), default_cases).unwrap_or_else(|refused| panic!("{refused}"));
    Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        // ChaCha, the default, costs more than the checks in a debug build.
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

/// Runs `test` on random clusters; a failure panics with the shrunk cluster.
fn check(default_cases: u32, test: impl Fn(&Objects) -> Result<(), String>) {
    let mut runner = TestRunner::new(config(default_cases));
    let result = runner.run(&generate::cluster(), |shape| {
        test(&shape.objects()).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, shape)) => {
            panic!(
                "{reason}\n--- minimal cluster ---\n{}",
                shape.objects().yaml()
            )
        }
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
}

/// The engine's index over the objects, with each pod's selecting policies
/// computed once, as the operator does.
struct Engine<'a> {
    pods: Vec<Endpoint<'a>>,
    ingress: Vec<Vec<&'a Policy>>,
    egress: Vec<Vec<&'a Policy>>,
}

impl<'a> Engine<'a> {
    fn new(cluster: &'a Cluster, objects: &Objects) -> Self {
        let mut engine = Engine {
            pods: Vec::new(),
            ingress: Vec::new(),
            egress: Vec::new(),
        };
        for pod in &objects.pods {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            let (namespace, state) = cluster
                .namespaces()
                .find(|(n, _)| n.as_str() == namespace)
                .expect("the index holds every namespace");
            let pod = &state.pods[name];
            engine.pods.push(Endpoint {
                namespace,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs: assumed_pod_cidrs(),
            });
            engine
                .ingress
                .push(reach::selecting(state, pod, Direction::Ingress));
            engine
                .egress
                .push(reach::selecting(state, pod, Direction::Egress));
        }
        engine
    }

    fn reach(&self, from: Party, to: Party, probe: Probe) -> Reach {
        let protocol = Protocol::parse(probe.protocol).expect("probes use valid protocols");
        let port = probe.port;
        match (from, to) {
            (Party::Pod(a), Party::Pod(b)) => reach::connection(
                &self.pods[a],
                &self.egress[a],
                &Remote::Pod(self.pods[b]),
                &self.ingress[b],
                &LayerEnds::NONE,
                protocol,
                port,
            ),
            (Party::Pod(a), Party::Address(address)) => reach::connection(
                &self.pods[a],
                &self.egress[a],
                &Remote::Address(address),
                &[],
                &LayerEnds::NONE,
                protocol,
                port,
            ),
            // From outside only the destination's ingress is enforced, which
            // is one side in the engine.
            (Party::Address(address), Party::Pod(b)) => reach::side(
                &self.ingress[b],
                self.pods[b].namespace,
                Direction::Ingress,
                &Remote::Address(address),
                protocol,
                port,
                Some(self.pods[b].pod),
            ),
            (Party::Address(_), Party::Address(_)) => {
                unreachable!("no policy applies between two outside addresses")
            }
        }
    }
}

/// The reference's answer in the engine's terms.
fn expected(reference: &Reference, from: Party, to: Party, probe: Probe) -> Reach {
    let calico = reference.allows(from, to, probe, IpBlocks::MatchPodAddresses);
    let cilium = reference.allows(from, to, probe, IpBlocks::IgnorePodAddresses);
    match (calico, cilium) {
        (true, true) => Reach::Allowed,
        (false, false) => Reach::Denied,
        (true, false) => Reach::CniDependent,
        (false, true) => {
            panic!("reference bug: matching more addresses denied {from:?} -> {to:?} {probe:?}")
        }
    }
}

fn describe(objects: &Objects, party: Party) -> String {
    match party {
        Party::Pod(index) => {
            let meta = &objects.pods[index].metadata;
            format!(
                "{}/{}",
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default()
            )
        }
        Party::Address(address) => address.to_string(),
    }
}

fn index(objects: &Objects) -> Cluster {
    let cluster = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
    let rejected: Vec<String> = cluster
        .namespaces()
        .flat_map(|(_, state)| state.rejected.values())
        .map(|r| format!("{} {}: {}", r.kind, r.name, r.reason))
        .collect();
    assert!(
        rejected.is_empty(),
        "the generator wrote objects the API server rejects: {rejected:?}"
    );
    cluster
}

/// How many answers of each kind the engine gave: `[Denied, CniDependent, Allowed]`.
type Tally = [usize; 3];

/// Compares every connection of the cluster; returns the disagreements.
fn compare(objects: &Objects, tally: &mut Tally) -> Vec<String> {
    let cluster = index(objects);
    let engine = Engine::new(&cluster, objects);
    let reference = Reference::new(&objects.namespaces, &objects.pods, &objects.policies);
    let mut found = Vec::new();
    for (from, to, probe) in connections(objects.pods.len()) {
        let answer = engine.reach(from, to, probe);
        tally[match answer {
            Reach::Denied => 0,
            Reach::CniDependent => 1,
            Reach::Allowed => 2,
            Reach::Undetermined => unreachable!("NetworkPolicy alone is always evaluated"),
        }] += 1;
        let wanted = expected(&reference, from, to, probe);
        if answer != wanted {
            found.push(format!(
                "{} -> {} {}/{}: engine {answer:?}, reference {wanted:?}",
                describe(objects, from),
                describe(objects, to),
                probe.protocol,
                probe.port
            ));
        }
    }
    found
}

#[test]
fn zero_cases_or_an_unreadable_count_is_refused_not_passed() {
    assert_eq!(cases(None, 500), Ok(500));
    assert_eq!(cases(Some("20"), 500), Ok(20));
    assert!(cases(Some("0"), 500).is_err());
    assert!(cases(Some("many"), 500).is_err());
}

/// Agreement on one fixture, for the regression tests.
pub(super) fn disagreements(yaml: &str) -> Vec<String> {
    compare(&Objects::from_yaml(yaml), &mut Tally::default())
}

#[test]
fn engine_and_reference_agree_on_every_connection_of_random_clusters() {
    let tally = Cell::new(Tally::default());
    check(2_000, |objects| {
        let mut counts = tally.get();
        let found = compare(objects, &mut counts);
        tally.set(counts);
        match found.as_slice() {
            [] => Ok(()),
            _ => Err(format!(
                "{} disagreement(s), the first ones:\n{}",
                found.len(),
                found[..found.len().min(8)].join("\n")
            )),
        }
    });
    // The generator must produce every answer often enough to test it.
    let [denied, cni_dependent, allowed] = tally.get();
    let total = denied + cni_dependent + allowed;
    eprintln!(
        "connections checked: {total} (denied {denied}, CNI-dependent {cni_dependent}, allowed {allowed})"
    );
    for (count, answer) in [
        (denied, "denied"),
        (cni_dependent, "CNI-dependent"),
        (allowed, "allowed"),
    ] {
        assert!(
            count * 1000 >= total,
            "only {count} of {total} connections were {answer}: the generator no longer exercises it"
        );
    }
}
