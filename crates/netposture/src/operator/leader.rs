//! Leader election on a `coordination.k8s.io/v1` Lease, the client-go way, with
//! one stronger promise: a replica counts itself leader only until
//! `renew_deadline` after sending its last successful write, on its own
//! monotonic clock. Other replicas wait `leaseDurationSeconds` (longer) from
//! when they first saw that write, so a leader cut off from the API server
//! steps down before anyone else can take over. Wall clocks are never compared
//! across replicas: the times written to the lease are for humans only. The
//! one assumption is that the replicas' clocks run at about the same rate.

use std::future::{Future, pending};
use std::pin::pin;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{Instrument, debug, info, warn};

/// Which lease to hold, as whom, and how fast.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// Must be unique per process (e.g. the pod name): two processes with one
    /// identity would both hold the lease.
    pub identity: String,
    /// Written as `leaseDurationSeconds`: how long the others wait, after seeing
    /// the last write, before taking over. Whole seconds.
    pub lease_duration: Duration,
    /// How long after sending its last successful write this replica still
    /// counts itself leader.
    pub renew_deadline: Duration,
    /// Time between attempts, and the bound on each attempt.
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// `leaseDurationSeconds` for these settings, once they are known to be sound.
    fn lease_duration_seconds(&self) -> Result<i32, InvalidLeaseSettings> {
        if self.namespace.is_empty() || self.name.is_empty() || self.identity.is_empty() {
            return Err(InvalidLeaseSettings::Empty);
        }
        if self.retry_period.is_zero()
            || self.retry_period >= self.renew_deadline
            || self.renew_deadline >= self.lease_duration
        {
            return Err(InvalidLeaseSettings::Order {
                retry_period: self.retry_period,
                renew_deadline: self.renew_deadline,
                lease_duration: self.lease_duration,
            });
        }
        // Rounding would break the promise above (down) or surprise (up).
        if self.lease_duration.subsec_nanos() != 0 {
            return Err(InvalidLeaseSettings::LeaseDuration(self.lease_duration));
        }
        i32::try_from(self.lease_duration.as_secs())
            .map_err(|_| InvalidLeaseSettings::LeaseDuration(self.lease_duration))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidLeaseSettings {
    #[error("lease namespace, name and identity must not be empty")]
    Empty,
    #[error(
        "lease timings need 0 < retry_period ({retry_period:?}) < renew_deadline \
         ({renew_deadline:?}) < lease_duration ({lease_duration:?})"
    )]
    Order {
        retry_period: Duration,
        renew_deadline: Duration,
        lease_duration: Duration,
    },
    #[error("lease_duration ({0:?}) must be a whole number of seconds that fits an i32")]
    LeaseDuration(Duration),
}

/// Whether this replica leads right now. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    pub fn is_leader(&self) -> bool {
        // A stopped (or aborted) elector leads nothing, whatever it sent last.
        self.rx.has_changed().is_ok() && *self.rx.borrow()
    }

    /// Waits for the next change and returns the latest value; `None` once
    /// the elector has stopped. The elector sends only values that differ
    /// from the last, so a value equal to the one seen before is a flip and
    /// its reversal merged into one wake-up (leadership lost and regained).
    pub async fn changed(&mut self) -> Option<bool> {
        self.rx.changed().await.ok()?;
        let leader = *self.rx.borrow_and_update();
        Some(leader && self.rx.has_changed().is_ok())
    }

    /// A replica that never leads, for tests without an elector.
    #[cfg(test)]
    pub fn never() -> Self {
        let (_, rx) = watch::channel(false);
        Leadership { rx }
    }

    /// Runs `on_change` with each new value until the elector stops.
    pub async fn follow<F: Future<Output = ()>>(mut self, mut on_change: impl FnMut(bool) -> F) {
        while let Some(leader) = self.changed().await {
            on_change(leader).await;
        }
    }
}

/// Starts electing. Leadership begins `false`; when `shutdown` completes the
/// elector steps down, releases the lease if it holds it, and the task ends.
/// Fails only on invalid settings.
pub fn spawn(
    client: kube::Client,
    settings: LeaseSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(Leadership, JoinHandle<()>), InvalidLeaseSettings> {
    let lease_duration_seconds = settings.lease_duration_seconds()?;
    let (tx, rx) = watch::channel(false);
    let span = tracing::info_span!(
        "leader_election",
        lease = %format_args!("{}/{}", settings.namespace, settings.name),
        identity = %settings.identity,
    );
    let timing = Timing {
        renew_deadline: settings.renew_deadline,
        retry_period: settings.retry_period,
    };
    let store = KubeLease {
        api: Api::namespaced(client, &settings.namespace),
        name: settings.name,
        identity: settings.identity,
        lease_duration: settings.lease_duration,
        lease_duration_seconds,
        seen: None,
    };
    let task = tokio::spawn(run(store, timing, tx, shutdown).instrument(span));
    Ok((Leadership { rx }, task))
}

/// What to do with a lease as last seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Acquire,
    Renew,
    Wait,
}

fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|id| !id.is_empty())
}

/// `spec` was first seen in its current form at `changed_at`; a lease without
/// `leaseDurationSeconds` is given `default_duration`.
fn decide(
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
fn held_spec(
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
fn released_spec(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
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
fn changed_at(previous: Option<&Seen>, lease: &Lease, now: Instant) -> Instant {
    match previous {
        Some(seen) if seen.lease.spec == lease.spec => seen.changed_at,
        _ => now,
    }
}

/// The lease as last read or written, and when its spec last changed on the
/// local clock.
#[derive(Debug)]
struct Seen {
    lease: Lease,
    changed_at: Instant,
}

/// What one attempt on the lease found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attempt {
    /// This replica wrote the lease as its holder; the write was sent then.
    Held { write_sent_at: Instant },
    /// Another replica holds an unexpired lease.
    HeldByOther,
    /// Nothing learned (API error, timeout, lost race): leadership stands
    /// until its deadline.
    Inconclusive,
}

/// The lease operations the election loop needs; a trait so that the loop's
/// timing can be tested without an API server.
trait LeaseStore {
    /// Reads the lease, then acquires or renews it if the rules allow.
    async fn try_acquire_or_renew(&mut self) -> Attempt;
    /// Gives the lease up if this replica holds it.
    async fn release(&mut self);
}

#[derive(Clone, Copy, Debug)]
struct Timing {
    renew_deadline: Duration,
    retry_period: Duration,
}

async fn run(
    mut store: impl LeaseStore,
    timing: Timing,
    leader: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = pin!(shutdown);
    let mut leader_until: Option<Instant> = None;
    let mut next_attempt = Instant::now();
    'attempts: loop {
        let (started, outcome) = {
            let mut attempt = pin!(attempt_at(next_attempt, &mut store, timing.retry_period));
            loop {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break 'attempts,
                    // Fires even while a request hangs.
                    () = deadline(leader_until) => {
                        leader_until = None;
                        set_leader(&leader, false);
                    }
                    result = &mut attempt => break result,
                }
            }
        };
        next_attempt = started + timing.retry_period;
        match outcome {
            Attempt::Held { write_sent_at } => {
                let until = write_sent_at + timing.renew_deadline;
                let valid = until > Instant::now();
                leader_until = valid.then_some(until);
                set_leader(&leader, valid);
            }
            Attempt::HeldByOther => {
                leader_until = None;
                set_leader(&leader, false);
            }
            Attempt::Inconclusive => {}
        }
    }
    set_leader(&leader, false);
    if timeout(timing.retry_period, store.release()).await.is_err() {
        warn!("lease not released within {:?}", timing.retry_period);
    }
}

/// One attempt, started at `at` and bounded by `bound`; returns when it started.
async fn attempt_at(
    at: Instant,
    store: &mut impl LeaseStore,
    bound: Duration,
) -> (Instant, Attempt) {
    sleep_until(at).await;
    let started = Instant::now();
    let outcome = timeout(bound, store.try_acquire_or_renew())
        .await
        .unwrap_or_else(|_| {
            warn!("no answer from the API server within {bound:?}");
            Attempt::Inconclusive
        });
    (started, outcome)
}

async fn deadline(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => pending().await,
    }
}

fn set_leader(leader: &watch::Sender<bool>, value: bool) {
    let flipped = leader.send_if_modified(|current| {
        let differs = *current != value;
        *current = value;
        differs
    });
    if flipped {
        if value {
            info!("became leader");
        } else {
            info!("stepped down");
        }
    }
}

/// The lease on the API server.
struct KubeLease {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
    lease_duration_seconds: i32,
    seen: Option<Seen>,
}

impl KubeLease {
    /// Remembers `lease`; returns when its spec was first seen as it is.
    fn observe(&mut self, lease: Lease) -> Instant {
        let changed_at = changed_at(self.seen.as_ref(), &lease, Instant::now());
        self.seen = Some(Seen { lease, changed_at });
        changed_at
    }

    async fn read(&mut self) -> Result<Option<(Lease, Instant)>, kube::Error> {
        let lease = self.api.get_opt(&self.name).await?;
        Ok(lease.map(|lease| {
            let changed_at = self.observe(lease.clone());
            (lease, changed_at)
        }))
    }

    async fn create(&mut self) -> Result<Attempt, kube::Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(held_spec(
                None,
                &self.identity,
                self.lease_duration_seconds,
                Timestamp::now(),
            )),
        };
        let write_sent_at = Instant::now();
        let created = self.api.create(&PostParams::default(), &lease).await?;
        self.observe(created);
        Ok(Attempt::Held { write_sent_at })
    }

    /// Writes `spec` over `lease` as read, so a concurrent write makes it fail.
    async fn replace(&mut self, lease: Lease, spec: LeaseSpec) -> Result<Attempt, kube::Error> {
        let lease = Lease {
            spec: Some(spec),
            ..lease
        };
        let write_sent_at = Instant::now();
        let written = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        self.observe(written);
        Ok(Attempt::Held { write_sent_at })
    }

    async fn attempt(&mut self) -> Result<Attempt, kube::Error> {
        let (lease, changed_at) = match self.read().await? {
            Some(read) => read,
            None => match self.create().await {
                Err(kube::Error::Api(status)) if status.is_already_exists() => {
                    // Someone else created it first: start watching it now.
                    match self.read().await? {
                        Some(read) => read,
                        None => return Ok(Attempt::Inconclusive),
                    }
                }
                created => return created,
            },
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let action = decide(
            &spec,
            changed_at,
            Instant::now(),
            &self.identity,
            self.lease_duration,
        );
        if action == Action::Wait {
            return Ok(Attempt::HeldByOther);
        }
        let new_spec = held_spec(
            Some(&spec),
            &self.identity,
            self.lease_duration_seconds,
            Timestamp::now(),
        );
        self.replace(lease, new_spec).await
    }
}

impl LeaseStore for KubeLease {
    async fn try_acquire_or_renew(&mut self) -> Attempt {
        match self.attempt().await {
            Ok(attempt) => attempt,
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                debug!("lease changed while writing it; not held this round");
                Attempt::Inconclusive
            }
            Err(error) => {
                warn!(%error, "lease not acquired or renewed");
                Attempt::Inconclusive
            }
        }
    }

    async fn release(&mut self) {
        let lease = match self.api.get_opt(&self.name).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "lease not released: reading it failed");
                return;
            }
        };
        let Some(spec) = lease.spec.as_ref() else {
            return;
        };
        if holder(spec) != Some(self.identity.as_str()) {
            return;
        }
        let released = released_spec(spec, Timestamp::now());
        match self.replace(lease, released).await {
            Ok(_) => info!("released the lease"),
            Err(error) => warn!(%error, "lease not released; others take over once it expires"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

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
}
