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

/// What a brute force says about a namespace's default deny for a direction.
struct BruteForce {
    /// A policy with an empty podSelector lists the direction.
    whole_namespace_policy: bool,
    /// A new unlabelled pod gets nothing from any sampled peer on any probe.
    new_pod_shut: bool,
    /// The rules of those whole-namespace policies, together, leave some
    /// peer denied on some port where ipBlocks match pods (Calico), so on
    /// every CNI.
    something_stays_shut: bool,
    /// Those rules, together, admit every peer on every port even where
    /// ipBlocks ignore pods (Cilium), so on every CNI; decided only when
    /// their selector peers are unconditional, since a union of conditional
    /// selectors covering every possible pod cannot be sampled.
    everything_reopened: Option<bool>,
}

/// A new unlabelled pod in `namespace` (`new-pod`), judged against every pod,
/// a new unlabelled pod in every namespace and in one nobody declared
/// (`new-peer`), and addresses.
fn brute_force(objects: &Objects, namespace: &str, direction: Direction) -> BruteForce {
    let mut with_new = objects.clone();
    with_new
        .pods
        .push(generate::unlabelled_pod(namespace, "new-pod"));
    let new_pod = Party::Pod(objects.pods.len());
    let mut namespaces: Vec<&str> = objects
        .pods
        .iter()
        .filter_map(|p| p.metadata.namespace.as_deref())
        .chain(["ns-new"])
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for other in namespaces {
        with_new
            .pods
            .push(generate::unlabelled_pod(other, "new-peer"));
    }
    let reference = Reference::new(&with_new.namespaces, &with_new.pods, &with_new.policies);
    let pods = || {
        (0..with_new.pods.len())
            .map(Party::Pod)
            .filter(|p| *p != new_pod)
    };
    let sampled: Vec<Party> = pods().chain(outside()).collect();
    let boundaries: Vec<Party> = pods()
        .chain(
            generate::boundary_addresses()
                .into_iter()
                .map(Party::Address),
        )
        .collect();
    let boundary_probes: Vec<Probe> = generate::boundary_ports()
        .into_iter()
        .flat_map(|port| ["TCP", "UDP", "SCTP"].map(|protocol| probe(protocol, port)))
        .collect();

    let policies = reference.whole_namespace_policies(namespace, direction);
    let facing = |remote: Party| Side {
        local: new_pod,
        direction,
        remote,
    };
    let union_admits = |other: Party, probe: Probe, blocks: IpBlocks| {
        policies.iter().any(|&policy| {
            (0..reference.rule_count(policy, direction)).any(|rule| {
                reference.rule_number_admits(policy, rule, facing(other), probe, blocks)
            })
        })
    };
    let union_admits_all = |blocks: IpBlocks| {
        boundaries.iter().all(|&other| {
            boundary_probes
                .iter()
                .all(|&probe| union_admits(other, probe, blocks))
        })
    };
    BruteForce {
        whole_namespace_policy: !policies.is_empty(),
        new_pod_shut: sampled.iter().all(|&other| {
            PROBES.iter().all(|&probe| {
                !reference.side_allows(facing(other), probe, IpBlocks::MatchPodAddresses)
            })
        }),
        something_stays_shut: !union_admits_all(IpBlocks::MatchPodAddresses),
        everything_reopened: reference
            .selector_peers_are_unconditional(&policies, direction)
            .then(|| union_admits_all(IpBlocks::IgnorePodAddresses)),
    }
}

/// `defaultDenyIngress`/`defaultDenyEgress` against brute force on a new
/// unlabelled pod. The engine's definition (README: a policy with an empty
/// podSelector lists the direction, and no whole-namespace rules re-open it
/// to every peer on every port) is deliberately weaker than "the new pod
/// gets nothing", so the first property is an implication only:
/// - new pod shut, and an empty-podSelector policy lists the direction
///   => default deny. The converse fails on purpose: a whole-namespace
///   "allow from the frontend on 8080" keeps the default deny, and a policy
///   whose selector merely happens to match an unlabelled pod (`NotIn`,
///   `DoesNotExist`) is not whole-namespace, so its rules neither provide
///   nor cancel one.
///
/// The definition itself is checked both ways, with ports and addresses
/// taken at every boundary of the generated policies (exact for them):
/// - an empty-podSelector policy lists the direction, and those policies'
///   rules together leave something denied even where ipBlocks match pods
///   => default deny;
/// - those rules together admit every peer on every port even where
///   ipBlocks ignore pods => no default deny. Between the two lie rules
///   whose ipBlocks cover every address: they admit every pod only on some
///   CNIs, and the engine keeps the default deny (its CNI-independent
///   reading), which neither property constrains.
/// - default deny => an empty-podSelector policy lists the direction.
#[test]
fn default_deny_verdicts_follow_from_brute_force_on_a_new_pod() {
    // [engine deny, brute-force shut, engine deny while the new pod is
    // reachable, re-opened on every CNI]
    let tally = Cell::new([0usize; 4]);
    check(500, |objects| {
        let cluster = index(objects);
        let settings = Settings::default();
        let evaluator = Evaluator::new(&cluster, &settings);
        let mut counts = tally.get();
        for (namespace, _) in cluster.namespaces() {
            let posture = evaluator
                .namespace(namespace)
                .expect("namespace is indexed");
            for (direction, deny) in [
                (Direction::Ingress, posture.default_deny_ingress),
                (Direction::Egress, posture.default_deny_egress),
            ] {
                let brute = brute_force(objects, namespace, direction);
                counts[0] += usize::from(deny);
                counts[1] += usize::from(brute.whole_namespace_policy && brute.new_pod_shut);
                counts[2] += usize::from(deny && !brute.new_pod_shut);
                counts[3] += usize::from(
                    brute.whole_namespace_policy && brute.everything_reopened == Some(true),
                );
                let which = format!("{namespace} {direction}");
                if brute.whole_namespace_policy && brute.new_pod_shut && !deny {
                    return Err(format!(
                        "{which}: a new pod gets nothing, yet the engine sees no default deny"
                    ));
                }
                if brute.whole_namespace_policy && brute.something_stays_shut && !deny {
                    return Err(format!(
                        "{which}: whole-namespace rules leave a peer denied, yet the engine sees no default deny"
                    ));
                }
                if brute.everything_reopened == Some(true) && deny {
                    return Err(format!(
                        "{which}: whole-namespace rules together admit every peer on every port, yet the engine sees a default deny"
                    ));
                }
                if deny && !brute.whole_namespace_policy {
                    return Err(format!(
                        "{which}: default deny without an empty-podSelector policy listing the direction"
                    ));
                }
            }
        }
        tally.set(counts);
        Ok(())
    });
    let [deny, shut, deny_but_reachable, reopened] = tally.get();
    eprintln!(
        "default-deny verdicts: engine deny {deny}, brute-force shut {shut}, engine deny with the new pod reachable {deny_but_reachable}, re-opened {reopened}"
    );
    assert!(
        shut > 0 && deny_but_reachable > 0 && reopened > 0,
        "the generator no longer produces every kind of default deny"
    );
}
