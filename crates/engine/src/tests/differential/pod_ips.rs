//! Rule 10's invariant, which keeps `scan -f` (workload templates, no pod
//! IPs) and a live scan (pods with IPs) of the same objects in agreement:
//! without pod IPs a verdict is never more definite than, nor opposite to,
//! the verdict with them. Allowed or Denied without IPs must be the answer
//! with IPs; CNI-dependent (or undetermined) may turn either way. The
//! generated pod addresses lie inside the pod CIDRs the engine assumes.
//! `layers.rs` holds layered clusters to the same invariant.

use super::generate::Objects;
use super::{Engine, check, connections, describe, index};
use crate::posture::CheckStatus;
use crate::reach::Reach;
use crate::{Evaluator, Settings};

pub(super) fn without_ips(objects: &Objects) -> Objects {
    let mut stripped = objects.clone();
    for pod in &mut stripped.pods {
        pod.status = None;
    }
    stripped
}

/// Whether `without` (no IPs) may stand for `with`: equal, or an answer
/// that commits to neither (a layer CIDR may or may not hold the IP).
pub(super) fn refines(without: Reach, with: Reach) -> bool {
    matches!(without, Reach::CniDependent | Reach::Undetermined) || without == with
}

/// Where the verdicts of `objects` without their pod IPs say more than, or
/// the opposite of, the verdicts with them.
fn contradictions(objects: &Objects) -> Vec<String> {
    let stripped = without_ips(objects);
    let (with_ips, without) = (index(objects), index(&stripped));
    let mut found = Vec::new();
    let (engine_with, engine_without) = (
        Engine::new(&with_ips, objects),
        Engine::new(&without, &stripped),
    );
    for (from, to, probe) in connections(objects.pods.len()) {
        let (a, b) = (
            engine_with.reach(from, to, probe),
            engine_without.reach(from, to, probe),
        );
        if !refines(b, a) {
            found.push(format!(
                "{} -> {} {}/{}: {b:?} without pod IPs, {a:?} with them",
                describe(objects, from),
                describe(objects, to),
                probe.protocol,
                probe.port
            ));
        }
    }
    let settings = Settings::default();
    let (with_ips, without) = (
        Evaluator::new(&with_ips, &settings).all(),
        Evaluator::new(&without, &settings).all(),
    );
    for ((namespace, a), (_, b)) in with_ips.iter().zip(&without) {
        for id in ["dns-allowed", "dns-tcp-allowed"] {
            let status = |p: &crate::NamespacePosture| p.check(id).map(|c| c.status);
            let (a, b) = (status(a), status(b));
            if b != Some(CheckStatus::Warn) && a != b {
                found.push(format!(
                    "{namespace} {id}: {b:?} without pod IPs, {a:?} with them"
                ));
            }
        }
    }
    found
}

#[test]
fn verdicts_without_pod_ips_are_never_more_definite_than_with_them() {
    check(300, |objects| {
        let found = contradictions(objects);
        match found.as_slice() {
            [] => Ok(()),
            _ => Err(format!(
                "{} contradiction(s), the first ones:\n{}",
                found.len(),
                found[..found.len().min(8)].join("\n")
            )),
        }
    });
}
