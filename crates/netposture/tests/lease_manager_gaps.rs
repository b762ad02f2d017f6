//! Why the operator keeps its own lease election instead of
//! `kube-lease-manager` (0.13): two requirements of ours that it does not
//! meet, shown against it. If one of these tests starts failing, the crate
//! has closed that gap and the choice deserves another look (docs/operator.md,
//! "Leader election"). Our election's side of each requirement is tested in
//! `src/operator/leader.rs`: `leadership_ends_at_renew_deadline_without_renewal`
//! and `expiry_counts_from_when_the_record_was_seen_to_change_not_from_its_renew_time`.
//!
//! These run on real time (the crate reads `SystemTime`, which tokio's paused
//! clock does not move); each assertion holds however slow the machine is.

mod mock_api;

use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube_lease_manager::LeaseManagerBuilder;
use mock_api::{MockApi, NAMESPACE};
use serde_json::json;

const LEASE: &str = "netposture-operator";

async fn manager(
    api: &MockApi,
    identity: &str,
    duration: u64,
    grace: u64,
) -> kube_lease_manager::LeaseManager {
    LeaseManagerBuilder::new(api.client(), LEASE)
        .with_namespace(NAMESPACE)
        .with_identity(identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .expect("a lease manager on the mock API")
}

/// Requirement: a leader that cannot renew steps down before any other
/// replica may take over (ours: at the renew deadline, on its own monotonic
/// clock). kube-lease-manager only changes its answer after a successful read
/// of the lease, so a partitioned leader keeps saying "leader" while the
/// others, seeing the lease expire, elect a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_server_keeps_leading_past_its_lease() {
    let api = MockApi::default();
    let lease_seconds = 2;
    let (mut leading, task) = manager(&api, "replica-a", lease_seconds, 1)
        .await
        .watch()
        .await;
    tokio::time::timeout(Duration::from_secs(60), leading.wait_for(|leader| *leader))
        .await
        .expect("replica-a acquires a free lease")
        .expect("the manager's task runs");

    api.cut_off();
    let cut_off_at = Instant::now();
    // Three lease durations: any other replica would have taken over by now.
    tokio::time::sleep(Duration::from_secs(3 * lease_seconds)).await;

    // Unchanged since it became leader: not even a step down and back.
    let never_stepped_down = !leading.has_changed().unwrap_or(true) && *leading.borrow();
    assert!(
        never_stepped_down && !task.is_finished(),
        "kube-lease-manager stepped down {:?} after losing the API server: \
         it now meets this requirement",
        cut_off_at.elapsed()
    );
    task.abort();
}

/// Requirement: a follower waits a whole `leaseDurationSeconds` after it saw
/// the lease last change before taking over, so replicas' wall clocks are
/// never compared (ours: `changed_at` in leader.rs). kube-lease-manager
/// computes expiry as the holder's `renewTime` plus the duration on the
/// follower's wall clock: a holder whose clock runs behind loses a lease it
/// renewed a moment ago, and for a while both replicas lead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_takes_a_just_renewed_lease_from_a_holder_whose_clock_runs_behind() {
    let api = MockApi::default();
    let lease_seconds = 30;
    // replica-b renewed just now; its clock is 28 s behind the follower's.
    let behind = Timestamp::now() - SignedDuration::from_secs(28);
    api.put_lease(
        LEASE,
        json!({
            "holderIdentity": "replica-b",
            "acquireTime": MicroTime(behind),
            "renewTime": MicroTime(behind),
            "leaseDurationSeconds": lease_seconds,
            "leaseTransitions": 0,
        }),
    );
    let renewed_at = Instant::now();

    let (mut leading, task) = manager(&api, "replica-a", lease_seconds as u64, 1)
        .await
        .watch()
        .await;
    let taken = tokio::time::timeout(
        Duration::from_secs(lease_seconds as u64),
        leading.wait_for(|leader| *leader),
    )
    .await;
    let taken_after = renewed_at.elapsed();
    task.abort();

    assert!(
        taken.is_ok() && api.holder(LEASE).as_deref() == Some("replica-a"),
        "kube-lease-manager waited a whole lease duration: it now meets this requirement"
    );
    assert!(
        taken_after < Duration::from_secs(lease_seconds as u64),
        "taken {taken_after:?} after the holder's last renewal"
    );
}
