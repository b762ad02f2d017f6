//! Leader election on a `coordination.k8s.io/v1` Lease, the client-go way, with
//! one stronger promise: a replica counts itself leader only until
//! `renew_deadline` after sending its last successful write, on its own
//! monotonic clock. Other replicas wait `leaseDurationSeconds` (longer) from
//! when they first saw that write, so a leader cut off from the API server
//! steps down before anyone else can take over. Wall clocks are never compared
//! across replicas: the times written to the lease are for humans only. The
//! one assumption is that the replicas' clocks run at about the same rate.

mod kube_lease;
mod record;

use std::future::{Future, pending};
use std::pin::pin;
use std::time::Duration;

use kube::api::Api;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{Instrument, info, warn};

use kube_lease::KubeLease;

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

#[cfg(test)]
mod tests;
