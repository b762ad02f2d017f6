use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

use super::record::*;
use super::*;

const ME: &str = "replica-a";
const OTHER: &str = "replica-b";
const DEFAULT_DURATION: Duration = Duration::from_secs(15);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn lease_of(holder: Option<&str>, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: holder.map(str::to_owned),
        lease_duration_seconds: Some(15),
        acquire_time: Some(MicroTime(at(0))),
        renew_time: Some(MicroTime(at(5))),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

fn decide_after(spec: &LeaseSpec, elapsed: Duration) -> Action {
    let changed_at = Instant::now();
    decide(spec, changed_at, changed_at + elapsed, ME, DEFAULT_DURATION)
}

#[test]
fn expired_lease_of_another_holder_is_acquired_with_transition_count_incremented() {
    let current = lease_of(Some(OTHER), 3);
    assert_eq!(
        decide_after(&current, Duration::from_secs(15)),
        Action::Acquire
    );
    let taken = held_spec(Some(&current), ME, 15, at(100));
    assert_eq!(taken.holder_identity.as_deref(), Some(ME));
    assert_eq!(taken.lease_transitions, Some(4));
    assert_eq!(taken.acquire_time, Some(MicroTime(at(100))));
    assert_eq!(taken.renew_time, Some(MicroTime(at(100))));
    assert_eq!(taken.lease_duration_seconds, Some(15));
}

#[test]
fn unexpired_lease_of_another_holder_is_left_alone() {
    let current = lease_of(Some(OTHER), 3);
    assert_eq!(
        decide_after(&current, Duration::from_millis(14_999)),
        Action::Wait
    );
}

#[test]
fn expiry_counts_from_when_the_record_was_seen_to_change_not_from_its_renew_time() {
    // Written "long ago" by another replica's wall clock, but just seen.
    let mut current = lease_of(Some(OTHER), 0);
    current.renew_time = Some(MicroTime(at(-3600)));
    assert_eq!(decide_after(&current, Duration::from_secs(1)), Action::Wait);
}

#[test]
fn lease_without_a_duration_expires_after_our_own() {
    let mut current = lease_of(Some(OTHER), 0);
    current.lease_duration_seconds = None;
    assert_eq!(
        decide_after(&current, Duration::from_secs(14)),
        Action::Wait
    );
    assert_eq!(decide_after(&current, DEFAULT_DURATION), Action::Acquire);
}

#[test]
fn lease_without_a_holder_is_acquired_at_once() {
    for holder in [None, Some("")] {
        let current = lease_of(holder, 2);
        assert_eq!(decide_after(&current, Duration::ZERO), Action::Acquire);
        assert_eq!(
            held_spec(Some(&current), ME, 15, at(9)).lease_transitions,
            Some(3)
        );
    }
}

#[test]
fn own_lease_is_renewed() {
    let current = lease_of(Some(ME), 3);
    assert_eq!(decide_after(&current, Duration::ZERO), Action::Renew);
    let renewed = held_spec(Some(&current), ME, 15, at(100));
    assert_eq!(renewed.holder_identity.as_deref(), Some(ME));
    assert_eq!(renewed.lease_transitions, Some(3));
    assert_eq!(renewed.acquire_time, Some(MicroTime(at(0))));
    assert_eq!(renewed.renew_time, Some(MicroTime(at(100))));
}

#[test]
fn new_lease_starts_with_no_transitions() {
    let created = held_spec(None, ME, 15, at(1));
    assert_eq!(created.holder_identity.as_deref(), Some(ME));
    assert_eq!(created.lease_transitions, Some(0));
    assert_eq!(created.acquire_time, Some(MicroTime(at(1))));
}

#[test]
fn released_lease_has_no_holder_and_a_one_second_duration() {
    let released = released_spec(&lease_of(Some(ME), 3), at(7));
    assert_eq!(holder(&released), None);
    assert_eq!(released.lease_duration_seconds, Some(1));
    assert_eq!(released.lease_transitions, Some(3));
    assert_eq!(released.renew_time, Some(MicroTime(at(7))));
}

#[test]
fn observation_time_is_kept_while_only_metadata_changes() {
    let first_seen = Instant::now();
    let mut lease = Lease {
        metadata: ObjectMeta {
            resource_version: Some("1".into()),
            ..ObjectMeta::default()
        },
        spec: Some(lease_of(Some(OTHER), 0)),
    };
    let seen = Seen {
        lease: lease.clone(),
        changed_at: first_seen,
    };
    let later = first_seen + Duration::from_secs(5);
    lease.metadata.resource_version = Some("2".into());
    assert_eq!(changed_at(Some(&seen), &lease, later), first_seen);
    lease.spec = Some(lease_of(Some(OTHER), 1));
    assert_eq!(changed_at(Some(&seen), &lease, later), later);
    assert_eq!(changed_at(None, &lease, later), later);
}

#[test]
fn settings_need_retry_period_below_renew_deadline_below_lease_duration() {
    let defaults = LeaseSettings::new("ns", "lease", ME);
    assert_eq!(defaults.lease_duration_seconds(), Ok(15));
    let secs = Duration::from_secs;
    for (retry, renew, lease) in [(2, 15, 15), (10, 10, 15), (0, 10, 15), (3, 2, 15)] {
        let settings = LeaseSettings {
            retry_period: secs(retry),
            renew_deadline: secs(renew),
            lease_duration: secs(lease),
            ..defaults.clone()
        };
        assert!(
            matches!(
                settings.lease_duration_seconds().map(|_| ()),
                Err(InvalidLeaseSettings::Order { .. })
            ),
            "{retry}/{renew}/{lease}"
        );
    }
    let fractional = LeaseSettings {
        lease_duration: Duration::from_millis(15_500),
        ..defaults.clone()
    };
    assert!(fractional.lease_duration_seconds().is_err());
    let nameless = LeaseSettings {
        identity: String::new(),
        ..defaults
    };
    assert_eq!(
        nameless.lease_duration_seconds().map(|_| ()),
        Err(InvalidLeaseSettings::Empty)
    );
}

/// What a scripted attempt does.
#[derive(Clone, Copy)]
enum Step {
    Hold,
    SeeOtherHolder,
    /// Never answers, like a dead API server.
    Hang,
}

/// Plays `steps`, then hangs; records whether it was still leader when
/// asked to release.
struct ScriptedLease {
    steps: VecDeque<Step>,
    leadership: Leadership,
    leader_at_release: Arc<Mutex<Option<bool>>>,
}

impl LeaseStore for ScriptedLease {
    async fn try_acquire_or_renew(&mut self) -> Attempt {
        match self.steps.pop_front().unwrap_or(Step::Hang) {
            Step::Hold => Attempt::Held {
                write_sent_at: Instant::now(),
            },
            Step::SeeOtherHolder => Attempt::HeldByOther,
            Step::Hang => pending().await,
        }
    }

    async fn release(&mut self) {
        *self.leader_at_release.lock().unwrap() = Some(self.leadership.is_leader());
    }
}

struct Scripted {
    leadership: Leadership,
    leader_at_release: Arc<Mutex<Option<bool>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<()>,
    started: Instant,
}

// tokio's paused clock: time advances only when every task waits, so
// these are the exact instants the loop acts at, on any machine.
const RETRY: Duration = Duration::from_secs(2);
const RENEW: Duration = Duration::from_secs(10);

fn run_scripted(steps: &[Step]) -> Scripted {
    let (tx, rx) = watch::channel(false);
    let leadership = Leadership { rx };
    let leader_at_release = Arc::new(Mutex::new(None));
    let store = ScriptedLease {
        steps: steps.iter().copied().collect(),
        leadership: leadership.clone(),
        leader_at_release: leader_at_release.clone(),
    };
    let timing = Timing {
        renew_deadline: RENEW,
        retry_period: RETRY,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let task = tokio::spawn(run(store, timing, tx, async {
        let _ = stopped.await;
    }));
    Scripted {
        leadership,
        leader_at_release,
        stop,
        task,
        started,
    }
}

#[tokio::test(start_paused = true)]
async fn leadership_ends_at_renew_deadline_without_renewal() {
    // Renewed at 0 s; from the attempt at 2 s on each attempt hangs
    // until its 2 s bound, so only the deadline timer can end
    // leadership, at 10 s.
    let mut run = run_scripted(&[Step::Hold]);
    assert_eq!(run.leadership.changed().await, Some(true));
    assert_eq!(run.leadership.changed().await, Some(false));
    assert_eq!(run.started.elapsed(), RENEW);
    run.task.abort();
}

#[tokio::test(start_paused = true)]
async fn leadership_lasts_while_renewals_succeed() {
    let mut run = run_scripted(&[Step::Hold; 4]);
    assert_eq!(run.leadership.changed().await, Some(true));
    // Four renewals, 2 s apart, carry it to 6 + 10 s.
    tokio::time::sleep(RETRY * 4).await;
    assert!(run.leadership.is_leader());
    assert_eq!(run.leadership.changed().await, Some(false));
    assert_eq!(run.started.elapsed(), RETRY * 3 + RENEW);
    run.task.abort();
}

#[tokio::test(start_paused = true)]
async fn another_holder_seen_ends_leadership_at_once() {
    let mut run = run_scripted(&[Step::Hold, Step::SeeOtherHolder]);
    assert_eq!(run.leadership.changed().await, Some(true));
    assert_eq!(run.leadership.changed().await, Some(false));
    assert_eq!(run.started.elapsed(), RETRY);
    run.task.abort();
}

#[tokio::test(start_paused = true)]
async fn shutdown_steps_down_before_releasing_and_ends_the_task() {
    let mut run = run_scripted(&[Step::Hold; 100]);
    assert_eq!(run.leadership.changed().await, Some(true));
    run.stop.send(()).unwrap();
    run.task.await.unwrap();
    assert_eq!(*run.leader_at_release.lock().unwrap(), Some(false));
    assert!(!run.leadership.is_leader());
    assert_eq!(run.leadership.changed().await, Some(false));
    assert_eq!(run.leadership.changed().await, None);
    assert_eq!(run.leadership.changed().await, None);
}

#[tokio::test(start_paused = true)]
async fn aborted_elector_leads_nothing() {
    let mut run = run_scripted(&[Step::Hold; 100]);
    assert_eq!(run.leadership.changed().await, Some(true));
    run.task.abort();
    assert!(run.task.await.unwrap_err().is_cancelled());
    assert!(!run.leadership.is_leader());
}

#[tokio::test(start_paused = true)]
async fn follower_sees_a_lease_lost_and_regained_between_two_looks_and_ends_with_the_elector() {
    let (tx, rx) = watch::channel(false);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let follower = {
        let seen = seen.clone();
        tokio::spawn(Leadership { rx }.follow(move |leader| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(leader);
                // A full pass takes a while: changes meanwhile merge.
                tokio::time::sleep(RETRY).await;
            }
        }))
    };
    set_leader(&tx, true);
    tokio::time::sleep(RETRY / 2).await;
    set_leader(&tx, false);
    set_leader(&tx, true);
    tokio::time::sleep(RETRY * 3).await;
    assert_eq!(*seen.lock().unwrap(), [true, true]);
    assert!(!follower.is_finished(), "a merged flip is no stop");
    drop(tx);
    follower.await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [true, true]);
}
