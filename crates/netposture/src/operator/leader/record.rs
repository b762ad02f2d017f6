//! The election's rules on a lease as last seen: who holds it, whether to
//! acquire, renew or wait, and the specs this replica writes.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

/// What to do with a lease as last seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Acquire,
    Renew,
    Wait,
}

pub(super) fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|id| !id.is_empty())
}

/// `spec` was first seen in its current form at `changed_at`; a lease without
/// `leaseDurationSeconds` is given `default_duration`.
pub(super) fn decide(
    spec: &LeaseSpec,
    changed_at: Instant,
    now: Instant,
    identity: &str,
    default_duration: Duration,
) -> Action {
    match holder(spec) {
        None => Action::Acquire,
        Some(holder) if holder == identity => Action::Renew,
        Some(_) => {
            let duration = spec
                .lease_duration_seconds
                .and_then(|seconds| u64::try_from(seconds).ok())
                .filter(|seconds| *seconds > 0)
                .map_or(default_duration, Duration::from_secs);
            match changed_at.checked_add(duration) {
                Some(expiry) if now >= expiry => Action::Acquire,
                _ => Action::Wait,
            }
        }
    }
}

/// The spec that takes or keeps the lease at `now`; `current` is `None` when
/// the lease does not exist yet.
pub(super) fn held_spec(
    current: Option<&LeaseSpec>,
    identity: &str,
    lease_duration_seconds: i32,
    now: Timestamp,
) -> LeaseSpec {
    let now = MicroTime(now);
    let current = current.cloned();
    let ours = current.as_ref().and_then(holder) == Some(identity);
    // A new holder of an existing lease is a transition, as in client-go.
    let taken_over = current.is_some() && !ours;
    let current = current.unwrap_or_default();
    let transitions = current.lease_transitions.unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(lease_duration_seconds),
        acquire_time: match &current.acquire_time {
            Some(acquired) if ours => Some(acquired.clone()),
            _ => Some(now.clone()),
        },
        renew_time: Some(now),
        lease_transitions: Some(transitions.saturating_add(i32::from(taken_over))),
        ..current
    }
}

/// A lease given up: no holder, and a short (but valid) duration for readers
/// that only look at the times.
pub(super) fn released_spec(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

/// When the lease read at `now` was first seen as it is: a spec unchanged since
/// the previous read keeps that read's time. Metadata (resourceVersion, labels)
/// is ignored so that edits to it cannot keep a dead holder's lease alive.
pub(super) fn changed_at(previous: Option<&Seen>, lease: &Lease, now: Instant) -> Instant {
    match previous {
        Some(seen) if seen.lease.spec == lease.spec => seen.changed_at,
        _ => now,
    }
}

/// The lease as last read or written, and when its spec last changed on the
/// local clock.
#[derive(Debug)]
pub(super) struct Seen {
    pub(super) lease: Lease,
    pub(super) changed_at: Instant,
}
