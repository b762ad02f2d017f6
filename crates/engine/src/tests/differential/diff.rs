//! `diff` on random clusters: a cluster compared with itself shows nothing,
//! and comparing the other way round swaps every before and after.

use super::generate::Objects;
use super::{assumed_pod_cidrs, check, index};
use crate::diff::{FlowChange, PostureDiff, Presence, flow_changes};
use crate::{Cluster, Evaluator, Settings};

fn diff(base: &Cluster, head: &Cluster) -> PostureDiff {
    let settings = Settings::default();
    let flows = flow_changes(
        (base, assumed_pod_cidrs()),
        (head, assumed_pod_cidrs()),
        usize::MAX,
    );
    PostureDiff::new(
        &Evaluator::new(base, &settings).all(),
        &Evaluator::new(head, &settings).all(),
        flows,
    )
}

/// `objects` without their first policy and without their last namespace
/// and its pods: one policy change and one removed namespace.
fn changed(objects: &Objects) -> Objects {
    let mut changed = objects.clone();
    if !changed.policies.is_empty() {
        changed.policies.remove(0);
    }
    if let Some(gone) = changed.namespaces.pop() {
        let name = gone.metadata.name;
        let outside = |namespace: &Option<String>| *namespace != name;
        changed.pods.retain(|p| outside(&p.metadata.namespace));
        changed.policies.retain(|p| outside(&p.metadata.namespace));
    }
    changed
}

/// A flow change per protocol, without what decides it: each direction
/// asks that of its own head, and groups protocols by it.
fn flow_keys(flows: &[FlowChange]) -> Vec<FlowChange> {
    let mut keys: Vec<FlowChange> = flows
        .iter()
        .flat_map(|flow| {
            flow.protocols.iter().map(|protocol| FlowChange {
                protocols: vec![*protocol],
                decided_by: Vec::new(),
                ..flow.clone()
            })
        })
        .collect();
    keys.sort();
    keys
}

fn swapped(presence: Presence) -> Presence {
    match presence {
        Presence::Added => Presence::Removed,
        Presence::Removed => Presence::Added,
        Presence::Both => Presence::Both,
    }
}

#[test]
fn a_cluster_compared_with_itself_shows_no_change() {
    check(150, |objects| {
        let cluster = index(objects);
        let found = diff(&cluster, &cluster);
        found
            .is_empty()
            .then_some(())
            .ok_or_else(|| format!("changes against itself: {found:#?}"))
    });
}

#[test]
fn comparing_the_other_way_round_swaps_before_and_after() {
    check(150, |objects| {
        let (a, b) = (index(objects), index(&changed(objects)));
        let (forward, backward) = (diff(&a, &b), diff(&b, &a));
        let names = |d: &PostureDiff| -> Vec<String> {
            d.namespaces.iter().map(|n| n.namespace.clone()).collect()
        };
        if names(&forward) != names(&backward) {
            return Err(format!(
                "namespaces differ: {:?} one way, {:?} the other",
                names(&forward),
                names(&backward)
            ));
        }
        for (there, back) in forward.namespaces.iter().zip(&backward.namespaces) {
            let namespace = &there.namespace;
            if back.presence != swapped(there.presence) {
                return Err(format!(
                    "{namespace}: presence {:?} then {:?}",
                    there.presence, back.presence
                ));
            }
            let reversed: Vec<_> = back
                .verdicts
                .iter()
                .map(|v| (v.verdict, v.after.clone(), v.before.clone()))
                .collect();
            let forward_verdicts: Vec<_> = there
                .verdicts
                .iter()
                .map(|v| (v.verdict, v.before.clone(), v.after.clone()))
                .collect();
            if forward_verdicts != reversed {
                return Err(format!(
                    "{namespace}: verdicts {forward_verdicts:?}, reversed {reversed:?}"
                ));
            }
            let statuses = |d: &crate::diff::NamespaceDiff, swap: bool| {
                let mut s: Vec<_> = d
                    .checks
                    .iter()
                    .map(|c| {
                        if swap {
                            (c.id.clone(), c.after, c.before)
                        } else {
                            (c.id.clone(), c.before, c.after)
                        }
                    })
                    .collect();
                s.sort_by(|x, y| x.0.cmp(&y.0));
                s
            };
            if statuses(there, false) != statuses(back, true) {
                return Err(format!(
                    "{namespace}: checks {:?}, reversed {:?}",
                    statuses(there, false),
                    statuses(back, true)
                ));
            }
            if (there.score_before, there.score_after) != (back.score_after, back.score_before) {
                return Err(format!("{namespace}: scores do not swap"));
            }
            if flow_keys(&there.flows.opened) != flow_keys(&back.flows.closed)
                || flow_keys(&there.flows.closed) != flow_keys(&back.flows.opened)
            {
                return Err(format!("{namespace}: flows opened and closed do not swap"));
            }
        }
        Ok(())
    });
}
