//! Default deny, brute force: a namespace's default-deny verdicts follow
//! from trying every connection of a new pod.

use super::*;

/// What a brute force says about a namespace's default deny for a direction.
pub(crate) struct BruteForce {
    /// A policy with an empty podSelector lists the direction.
    pub(crate) whole_namespace_policy: bool,
    /// A new unlabelled pod gets nothing from any sampled peer on any probe.
    pub(crate) new_pod_shut: bool,
    /// The rules of those whole-namespace policies, together, leave some
    /// peer denied on some port where ipBlocks match pods (Calico), so on
    /// every CNI.
    pub(crate) something_stays_shut: bool,
    /// Those rules, together, admit every peer on every port even where
    /// ipBlocks ignore pods (Cilium), so on every CNI; decided only when
    /// their selector peers are unconditional, since a union of conditional
    /// selectors covering every possible pod cannot be sampled.
    pub(crate) everything_reopened: Option<bool>,
}

/// A new unlabelled pod in `namespace` (`new-pod`), judged against every pod,
/// a new unlabelled pod in every namespace and in one nobody declared
/// (`new-peer`), and addresses.
pub(crate) fn brute_force(objects: &Objects, namespace: &str, direction: Direction) -> BruteForce {
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
pub(crate) fn default_deny_verdicts_follow_from_brute_force_on_a_new_pod() {
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
