//! One task per watched kind, the same for every kind: it feeds the
//! engine's index (whose `apply` / `delete` / `reset` say which namespaces a
//! change reaches) and tells the controller which namespaces to re-evaluate.
//! A watch that loses access or its resource starts over with a fresh list,
//! so recovery never depends on an event that may never come.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::watcher};
use kube::{Api, Resource, ResourceExt};
use netposture_engine::changes::{IndexKind, ObjectKey};
use netposture_engine::{Affected, Cluster, Settings};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;
use tracing::Instrument;

use super::context::Context;
use super::failure::Failure;
use super::health::WatchState;

const RELIST_BACKOFF_MIN: Duration = Duration::from_secs(1);
const RELIST_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A watch failing this long without an event is reported not ready: the
/// watcher's own retries (up to about 30 s apart) had their chance.
const OUTAGE_BOUND: Duration = Duration::from_secs(60);

/// One watch: the kind it indexes and what the operator does around it.
pub struct Watch<I: IndexKind> {
    pub kind: I,
    /// The resource's plural, for messages.
    pub plural: String,
    /// Drops what neither the index nor a store needs, before it is kept.
    pub strip: fn(&mut I::Object),
    /// A reflector feeding the controller, for kinds it reads whole.
    pub forward: Option<Sender<Event<I::Object>>>,
    /// Called for each object that left the index (deleted, or missing from a relist).
    pub gone: fn(&Context, &ObjectKey),
    /// Whether the store gauge counts the index; false for a kind counted where its store is fed.
    pub counted: bool,
}

impl<I: IndexKind> Watch<I> {
    /// A watch of a typed kind feeding the index only.
    pub fn typed(kind: I, strip: fn(&mut I::Object)) -> Self
    where
        I::Object: Resource<DynamicType = ()>,
    {
        Watch {
            kind,
            plural: I::Object::plural(&()).to_string(),
            strip,
            forward: None,
            gone: |_, _| {},
            counted: true,
        }
    }
}

/// A kind that only feeds a reflector store (reports): the index holds none.
pub struct Unindexed<K>(pub &'static str, pub PhantomData<fn() -> K>);

impl<K> IndexKind for Unindexed<K> {
    type Object = K;

    fn name(&self) -> String {
        self.0.to_string()
    }

    fn apply(&self, _: &mut Cluster, _: &Settings, _: &K) -> Affected {
        Affected::Nothing
    }

    fn delete(&self, _: &mut Cluster, _: &Settings, _: &ObjectKey) -> Affected {
        Affected::Nothing
    }

    fn held(&self, _: &Cluster) -> BTreeSet<ObjectKey> {
        BTreeSet::new()
    }
}

/// The kind name of reports in logs, metrics and readiness.
pub const REPORT_KIND: &str = "NetworkPostureReport";

pub(super) fn key<K: Resource>(object: &K) -> ObjectKey {
    (object.namespace().unwrap_or_default(), object.name_any())
}

/// Watches one kind until the process ends, in a span naming the kind:
/// applies every event to the index, passes it on to the watch's reflector
/// when it has one, and triggers re-evaluation of what it reaches.
pub async fn run<I>(
    api: Api<I::Object>,
    config: watcher::Config,
    ctx: Arc<Context>,
    watch: Watch<I>,
) where
    I: IndexKind,
    I::Object: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let span = tracing::info_span!("watch", kind = %watch.kind.name());
    relist_forever(api, config, ctx, watch)
        .instrument(span)
        .await
}

async fn relist_forever<I>(
    api: Api<I::Object>,
    config: watcher::Config,
    ctx: Arc<Context>,
    watch: Watch<I>,
) where
    I: IndexKind,
    I::Object: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    ctx.metrics.watches.started(&watch.kind.name());
    let mut backoff = RELIST_BACKOFF_MIN;
    loop {
        let stream = watcher(api.clone(), config.clone())
            .default_backoff()
            .modify(watch.strip);
        if follow(stream, &ctx, &watch).await {
            backoff = RELIST_BACKOFF_MIN;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RELIST_BACKOFF_MAX);
    }
}

/// Applies one watch stream until it needs a fresh list; true if it
/// completed a list meanwhile. Errors the watcher retries by itself are
/// logged; when they last longer than [`OUTAGE_BOUND`], the kind is marked
/// failing (not ready) until an event arrives again.
async fn follow<I>(
    stream: impl Stream<Item = Result<Event<I::Object>, watcher::Error>>,
    ctx: &Arc<Context>,
    watch: &Watch<I>,
) -> bool
where
    I: IndexKind,
    I::Object: Resource + Clone + Debug + Send + Sync + 'static,
{
    let kind = watch.kind.name();
    let mut stream = pin!(stream);
    let mut listed: BTreeSet<ObjectKey> = BTreeSet::new();
    let mut completed_list = false;
    let mut outage = Outage::default();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                let failure = Failure::of_watch(&error);
                ctx.metrics.watches.error(&kind, failure.as_str());
                if failure.needs_relist() {
                    let reason = unavailable_reason(&kind, &watch.plural, failure, &error);
                    tracing::error!(%reason, "watch stopped; retrying");
                    ctx.health.set(&kind, WatchState::Failing(reason));
                    ctx.metrics.watches.set_failing(&kind, true);
                    break;
                }
                match outage.failed(Instant::now()) {
                    Some(lasted) => {
                        let reason = format!(
                            "{} cannot be watched for {} s: {error}",
                            watch.plural,
                            lasted.as_secs()
                        );
                        tracing::error!(%reason, "watch down; retrying");
                        ctx.health.set(&kind, WatchState::Failing(reason));
                        ctx.metrics.watches.set_failing(&kind, true);
                    }
                    None => tracing::warn!(%error, "watch interrupted; resuming"),
                }
                continue;
            }
        };
        // A relist marks the kind synced when it completes; a resumed watch at once.
        if outage.recovered() && matches!(event, Event::Apply(_) | Event::Delete(_)) {
            tracing::info!("watch resumed");
            ctx.health.set(&kind, WatchState::Synced);
            ctx.metrics.watches.set_failing(&kind, false);
        }
        ctx.metrics.watches.event(&kind);
        match &event {
            Event::Init => listed.clear(),
            Event::InitApply(object) => {
                listed.insert(key(object));
                // Nothing is triggered during a list: the full pass after it covers all.
                ctx.cluster_mut().index(&watch.kind, &ctx.settings, object);
            }
            Event::InitDone => {
                finish_list(ctx, watch, &listed).await;
                completed_list = true;
            }
            Event::Apply(object) => {
                let affected = ctx.cluster_mut().apply(&watch.kind, &ctx.settings, object);
                ctx.trigger(affected);
            }
            Event::Delete(object) => {
                let key = key(object);
                let affected = ctx.cluster_mut().delete(&watch.kind, &ctx.settings, &key);
                (watch.gone)(ctx, &key);
                ctx.trigger(affected);
            }
        }
        if watch.counted && !matches!(event, Event::Init | Event::InitApply(_)) {
            let count = watch.kind.count(&ctx.cluster());
            ctx.metrics.watches.set_store_objects(&kind, count);
        }
        if let Some(forward) = &watch.forward {
            // The controller is gone only at shutdown.
            let _ = forward.send(event).await;
        }
    }
    completed_list
}

/// Errors in a row from a watch the watcher keeps retrying.
#[derive(Debug, Default)]
struct Outage {
    since: Option<Instant>,
    reported: bool,
}

impl Outage {
    /// One more error; how long the outage has lasted, once, when it
    /// passes [`OUTAGE_BOUND`].
    fn failed(&mut self, now: Instant) -> Option<Duration> {
        let lasted = now - *self.since.get_or_insert(now);
        if lasted < OUTAGE_BOUND || self.reported {
            return None;
        }
        self.reported = true;
        Some(lasted)
    }

    /// An event arrived; true if the outage had been reported.
    fn recovered(&mut self) -> bool {
        self.since = None;
        std::mem::take(&mut self.reported)
    }
}

/// After a (re)list: forget what the list no longer has, mark the kind
/// synced, and once every kind is, evaluate everything once.
async fn finish_list<I: IndexKind>(
    ctx: &Arc<Context>,
    watch: &Watch<I>,
    listed: &BTreeSet<ObjectKey>,
) {
    let relisted = ctx.cluster_mut().reset(&watch.kind, &ctx.settings, listed);
    for key in &relisted.removed {
        (watch.gone)(ctx, key);
    }
    let kind = watch.kind.name();
    ctx.health.set(&kind, WatchState::Synced);
    ctx.metrics.watches.set_failing(&kind, false);
    tracing::info!(
        objects = listed.len(),
        removed = relisted.removed.len(),
        "listed"
    );
    if ctx.mark_loaded_if_synced() {
        tracing::info!("every watch has listed; evaluating all namespaces");
        if ctx.policy_reports_available() {
            // Unchanged reports are not reconciled, but each PolicyReport is checked once.
            ctx.trigger(Affected::All);
        }
    }
    // After the first complete load, every relist may have changed anything:
    // the full pass covers what the relist's changes reached.
    if ctx.loaded() {
        ctx.full_pass().await;
    }
}

fn unavailable_reason(
    kind: &str,
    plural: &str,
    failure: Failure,
    error: &watcher::Error,
) -> String {
    match failure {
        Failure::Forbidden => format!(
            "forbidden to list/watch {plural}: grant the ClusterRole from deploy/ ({error})"
        ),
        Failure::NotFound if kind == REPORT_KIND => {
            "CRD networkpostures.netposture.io is not installed: kubectl apply -f crds/".into()
        }
        _ => format!("{plural} not served: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::test_context;
    use super::*;
    use netposture_engine::changes::Pods;

    fn connection_lost() -> watcher::Error {
        watcher::Error::WatchFailed(kube::Error::ReadEvents(std::io::Error::other(
            "connection reset by peer",
        )))
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_down_longer_than_the_bound_is_not_ready_until_it_resumes() {
        let ctx = test_context(&["Pod"]);
        let (events, stream) = tokio::sync::mpsc::unbounded_channel();
        let follower = {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(stream);
                follow(stream, &ctx, &Watch::typed(Pods, |_| {})).await
            })
        };
        events.send(Ok(Event::Init)).unwrap();
        events.send(Ok(Event::InitDone)).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(ctx.health.readiness(), Ok(()));

        // Errors that are no API status: the watcher retries them by itself.
        let retry = Duration::from_secs(10);
        let mut down = Duration::ZERO;
        while down < OUTAGE_BOUND {
            events.send(Err(connection_lost())).unwrap();
            tokio::time::sleep(retry).await;
            down += retry;
            assert_eq!(
                ctx.health.readiness(),
                Ok(()),
                "a short outage is no failure"
            );
        }
        events.send(Err(connection_lost())).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let not_ready = ctx.health.readiness().unwrap_err();
        assert!(
            not_ready.starts_with("Pod: failing: pods cannot be watched for 60 s"),
            "{not_ready}"
        );
        assert!(
            ctx.metrics
                .encode()
                .contains("netposture_watch_failing{kind=\"Pod\"} 1")
        );

        let pod = serde_json::from_value(
            serde_json::json!({"metadata": {"name": "web", "namespace": "a"}}),
        )
        .unwrap();
        events.send(Ok(Event::Apply(pod))).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(ctx.health.readiness(), Ok(()));
        assert!(
            ctx.metrics
                .encode()
                .contains("netposture_watch_failing{kind=\"Pod\"} 0")
        );
        // The store gauge follows each event, not only full passes.
        assert!(
            ctx.metrics
                .encode()
                .contains("netposture_store_objects{kind=\"Pod\"} 1")
        );
        drop(events);
        assert!(follower.await.unwrap(), "the list completed");
    }
}
