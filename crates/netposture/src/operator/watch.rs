//! One task per watched kind: keeps the engine's index (or a reflector store)
//! current and tells the controller which namespaces to re-evaluate. A watch
//! that loses access or its resource starts over with a fresh list, so
//! recovery never depends on an event that may never come.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use std::pin::pin;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::watcher};
use kube::{Api, Resource, ResourceExt};
use netposture_api::NetworkPostureReport;
use netposture_engine::{Affected, Cluster};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

use super::context::Context;
use super::failure::Failure;
use super::health::WatchState;

const RELIST_BACKOFF_MIN: Duration = Duration::from_secs(1);
const RELIST_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A watch failing this long without an event is reported not ready: the
/// watcher's own retries (up to about 30 s apart) had their chance.
const OUTAGE_BOUND: Duration = Duration::from_secs(60);

/// A kind the operator watches, and what its events do to the index.
pub trait Watched:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    const KIND: &'static str;
    /// Updates the index and returns the namespaces whose verdicts may change.
    fn apply(&self, ctx: &Context) -> Affected;
    fn delete(ctx: &Context, namespace: &str, name: &str) -> Affected;
    /// `(namespace, name)` of every object of this kind the index holds.
    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)>;
    /// How many objects of this kind the index holds; `None` for a kind
    /// kept elsewhere.
    fn count(cluster: &Cluster) -> Option<usize>;
}

/// What one watch does with its events. Typed kinds get it from [`Watched`];
/// kinds found by discovery (see `optional_kinds`) implement it themselves.
pub trait Handler<K>: Send + Sync + 'static {
    /// The kind's name in logs, metrics and readiness; unique among watches.
    fn kind(&self) -> String;
    /// The resource's plural, for messages.
    fn plural(&self) -> String;
    fn apply(&self, ctx: &Context, object: &K) -> Affected;
    fn delete(&self, ctx: &Context, namespace: &str, name: &str) -> Affected;
    fn indexed(&self, cluster: &Cluster) -> BTreeSet<(String, String)>;
    /// How many objects of this kind the index holds, for the store gauge;
    /// `None` for a kind kept elsewhere.
    fn count(&self, cluster: &Cluster) -> Option<usize> {
        Some(self.indexed(cluster).len())
    }
}

/// The [`Handler`] of a typed kind.
pub struct Typed<K>(PhantomData<fn() -> K>);

impl<K: Watched> Handler<K> for Typed<K> {
    fn kind(&self) -> String {
        K::KIND.to_string()
    }

    fn plural(&self) -> String {
        K::plural(&()).to_string()
    }

    fn apply(&self, ctx: &Context, object: &K) -> Affected {
        object.apply(ctx)
    }

    fn delete(&self, ctx: &Context, namespace: &str, name: &str) -> Affected {
        K::delete(ctx, namespace, name)
    }

    fn indexed(&self, cluster: &Cluster) -> BTreeSet<(String, String)> {
        K::indexed(cluster)
    }

    fn count(&self, cluster: &Cluster) -> Option<usize> {
        K::count(cluster)
    }
}

pub(super) fn key<K: Resource>(object: &K) -> (String, String) {
    (object.namespace().unwrap_or_default(), object.name_any())
}

impl Watched for Pod {
    const KIND: &'static str = "Pod";

    fn apply(&self, ctx: &Context) -> Affected {
        ctx.cluster_mut().apply_pod_change(&ctx.settings, self)
    }

    fn delete(ctx: &Context, namespace: &str, name: &str) -> Affected {
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_pod(&ctx.settings, namespace, name);
        cluster.delete_pod(namespace, name);
        before
    }

    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)> {
        indexed_names(cluster, "Pod", |state| state.pods.keys())
    }

    fn count(cluster: &Cluster) -> Option<usize> {
        Some(held_count(cluster, "Pod", |state| state.pods.len()))
    }
}

impl Watched for NetworkPolicy {
    const KIND: &'static str = "NetworkPolicy";

    fn apply(&self, ctx: &Context) -> Affected {
        let (namespace, name) = key(self);
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_policy(&ctx.settings, &namespace, &name);
        cluster.apply_policy(self);
        before.merge(cluster.affected_by_policy(&ctx.settings, &namespace, &name))
    }

    fn delete(ctx: &Context, namespace: &str, name: &str) -> Affected {
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_policy(&ctx.settings, namespace, name);
        cluster.delete_policy(namespace, name);
        before
    }

    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)> {
        indexed_names(cluster, "NetworkPolicy", |state| state.policies.keys())
    }

    fn count(cluster: &Cluster) -> Option<usize> {
        Some(held_count(cluster, "NetworkPolicy", |state| {
            state.policies.len()
        }))
    }
}

impl Watched for Service {
    const KIND: &'static str = "Service";

    fn apply(&self, ctx: &Context) -> Affected {
        let (namespace, name) = key(self);
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_service(&namespace, &name);
        cluster.apply_service(self);
        before.merge(cluster.affected_by_service(&namespace, &name))
    }

    fn delete(ctx: &Context, namespace: &str, name: &str) -> Affected {
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_service(namespace, name);
        cluster.delete_service(namespace, name);
        before
    }

    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)> {
        indexed_names(cluster, "Service", |state| state.services.keys())
    }

    fn count(cluster: &Cluster) -> Option<usize> {
        Some(held_count(cluster, "Service", |state| state.services.len()))
    }
}

impl Watched for Ingress {
    const KIND: &'static str = "Ingress";

    fn apply(&self, ctx: &Context) -> Affected {
        let (namespace, name) = key(self);
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_ingress(&namespace, &name);
        cluster.apply_ingress(self);
        before.merge(cluster.affected_by_ingress(&namespace, &name))
    }

    fn delete(ctx: &Context, namespace: &str, name: &str) -> Affected {
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_ingress(namespace, name);
        cluster.delete_ingress(namespace, name);
        before
    }

    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)> {
        indexed_names(cluster, "Ingress", |state| state.ingresses.keys())
    }

    fn count(cluster: &Cluster) -> Option<usize> {
        Some(held_count(cluster, "Ingress", |state| {
            state.ingresses.len()
        }))
    }
}

impl Watched for Namespace {
    const KIND: &'static str = "Namespace";

    fn apply(&self, ctx: &Context) -> Affected {
        let name = self.name_any();
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_namespace(&name);
        cluster.apply_namespace(self);
        before.merge(cluster.affected_by_namespace(&name))
    }

    fn delete(ctx: &Context, _: &str, name: &str) -> Affected {
        let affected = {
            let mut cluster = ctx.cluster_mut();
            let affected = cluster.affected_by_namespace(name);
            cluster.delete_namespace(name);
            affected
        };
        ctx.forget_namespace(name);
        affected
    }

    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)> {
        cluster
            .namespaces()
            .filter(|(_, state)| state.declared)
            .map(|(name, _)| (String::new(), name.clone()))
            .collect()
    }

    fn count(cluster: &Cluster) -> Option<usize> {
        Some(
            cluster
                .namespaces()
                .filter(|(_, state)| state.declared)
                .count(),
        )
    }
}

/// Nodes give the index the cluster's pod CIDRs.
impl Watched for Node {
    const KIND: &'static str = "Node";

    fn apply(&self, ctx: &Context) -> Affected {
        ctx.cluster_mut().apply_node(self)
    }

    fn delete(ctx: &Context, _: &str, name: &str) -> Affected {
        ctx.cluster_mut().delete_node(name)
    }

    fn indexed(cluster: &Cluster) -> BTreeSet<(String, String)> {
        cluster
            .nodes()
            .map(|name| (String::new(), name.clone()))
            .collect()
    }

    fn count(cluster: &Cluster) -> Option<usize> {
        Some(cluster.nodes().count())
    }
}

/// Reports feed the reflector store and the controller, not the index.
impl Watched for NetworkPostureReport {
    const KIND: &'static str = "NetworkPostureReport";

    fn apply(&self, _: &Context) -> Affected {
        Affected::Nothing
    }

    fn delete(_: &Context, _: &str, _: &str) -> Affected {
        Affected::Nothing
    }

    fn indexed(_: &Cluster) -> BTreeSet<(String, String)> {
        BTreeSet::new()
    }

    /// Counted where the controller's report store is fed.
    fn count(_: &Cluster) -> Option<usize> {
        None
    }
}

pub(super) fn indexed_names<'a, I: Iterator<Item = &'a String>>(
    cluster: &'a Cluster,
    kind: &str,
    names: impl Fn(&'a netposture_engine::cluster::NamespaceState) -> I,
) -> BTreeSet<(String, String)> {
    let mut keys = BTreeSet::new();
    for (namespace, state) in cluster.namespaces() {
        keys.extend(names(state).map(|n| (namespace.clone(), n.clone())));
        keys.extend(
            state
                .rejected
                .keys()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| (namespace.clone(), n.clone())),
        );
    }
    keys
}

/// Objects of `kind` held, valid or rejected, without collecting their names.
fn held_count(
    cluster: &Cluster,
    kind: &str,
    valid: impl Fn(&netposture_engine::cluster::NamespaceState) -> usize,
) -> usize {
    cluster
        .namespaces()
        .map(|(_, state)| valid(state) + state.rejected.keys().filter(|(k, _)| *k == kind).count())
        .sum()
}

/// Watches `K` until the process ends: applies every event to the index,
/// passes it on to `forward` (a reflector feeding the controller) when given,
/// and triggers re-evaluation of what it affects.
pub async fn run<K: Watched>(
    api: Api<K>,
    config: watcher::Config,
    ctx: Arc<Context>,
    forward: Option<Sender<Event<K>>>,
    strip: fn(&mut K),
) {
    run_with(api, config, ctx, forward, strip, Typed(PhantomData)).await
}

/// [`run`] for any kind, with its events handled by `handler`.
pub async fn run_with<K, H>(
    api: Api<K>,
    config: watcher::Config,
    ctx: Arc<Context>,
    forward: Option<Sender<Event<K>>>,
    strip: fn(&mut K),
    handler: H,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    H: Handler<K>,
{
    ctx.metrics.watch_started(&handler.kind());
    let mut backoff = RELIST_BACKOFF_MIN;
    loop {
        let stream = watcher(api.clone(), config.clone())
            .default_backoff()
            .modify(strip);
        if follow(stream, &ctx, forward.as_ref(), &handler).await {
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
async fn follow<K, H>(
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>>,
    ctx: &Arc<Context>,
    forward: Option<&Sender<Event<K>>>,
    handler: &H,
) -> bool
where
    K: Resource + Clone + Debug + Send + Sync + 'static,
    H: Handler<K>,
{
    let kind = handler.kind();
    let mut stream = pin!(stream);
    let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
    let mut completed_list = false;
    let mut outage = Outage::default();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                let failure = Failure::of_watch(&error);
                ctx.metrics.watch_error(&kind, failure.as_str());
                if failure.needs_relist() {
                    let reason = unavailable_reason(&kind, &handler.plural(), failure, &error);
                    tracing::error!(kind, %reason, "watch stopped; retrying");
                    ctx.health.set(&kind, WatchState::Failing(reason));
                    ctx.metrics.set_watch_failing(&kind, true);
                    break;
                }
                match outage.failed(Instant::now()) {
                    Some(lasted) => {
                        let reason = format!(
                            "{} cannot be watched for {} s: {error}",
                            handler.plural(),
                            lasted.as_secs()
                        );
                        tracing::error!(kind, %reason, "watch down; retrying");
                        ctx.health.set(&kind, WatchState::Failing(reason));
                        ctx.metrics.set_watch_failing(&kind, true);
                    }
                    None => tracing::warn!(kind, %error, "watch interrupted; resuming"),
                }
                continue;
            }
        };
        // A relist marks the kind synced when it completes; a resumed watch at once.
        if outage.recovered() && matches!(event, Event::Apply(_) | Event::Delete(_)) {
            tracing::info!(kind, "watch resumed");
            ctx.health.set(&kind, WatchState::Synced);
            ctx.metrics.set_watch_failing(&kind, false);
        }
        ctx.metrics.watch_event(&kind);
        match &event {
            Event::Init => listed.clear(),
            Event::InitApply(object) => {
                listed.insert(key(object));
                handler.apply(ctx, object);
            }
            Event::InitDone => {
                finish_list(ctx, handler, &listed).await;
                completed_list = true;
            }
            Event::Apply(object) => ctx.trigger(handler.apply(ctx, object)),
            Event::Delete(object) => {
                let (namespace, name) = key(object);
                ctx.trigger(handler.delete(ctx, &namespace, &name));
            }
        }
        if !matches!(event, Event::Init | Event::InitApply(_))
            && let Some(count) = handler.count(&ctx.cluster())
        {
            ctx.metrics.set_store_objects(&kind, count);
        }
        if let Some(forward) = forward {
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
async fn finish_list<K, H: Handler<K>>(
    ctx: &Arc<Context>,
    handler: &H,
    listed: &BTreeSet<(String, String)>,
) {
    let gone = vanished(&handler.indexed(&ctx.cluster()), listed);
    for (namespace, name) in &gone {
        handler.delete(ctx, namespace, name);
    }
    let kind = handler.kind();
    ctx.health.set(&kind, WatchState::Synced);
    ctx.metrics.set_watch_failing(&kind, false);
    tracing::info!(kind, objects = listed.len(), removed = gone.len(), "listed");
    if ctx.mark_loaded_if_synced() {
        tracing::info!("every watch has listed; evaluating all namespaces");
        if ctx.policy_reports_available() {
            // Unchanged reports are not reconciled, but each PolicyReport is checked once.
            ctx.trigger(Affected::All);
        }
    }
    // After the first complete load, every relist may have changed anything.
    if ctx.loaded() {
        ctx.full_pass().await;
    }
}

/// Objects the index holds that a fresh list no longer has: deleted while
/// the watch was down or expired, so no Delete event will ever come.
fn vanished(
    indexed: &BTreeSet<(String, String)>,
    listed: &BTreeSet<(String, String)>,
) -> Vec<(String, String)> {
    indexed.difference(listed).cloned().collect()
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
        Failure::NotFound if kind == NetworkPostureReport::KIND => {
            "CRD networkpostures.netposture.io is not installed: kubectl apply -f crds/".into()
        }
        _ => format!("{plural} not served: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::test_context;
    use super::*;

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
                follow(stream, &ctx, None, &Typed::<Pod>(PhantomData)).await
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

    fn index(objects: &[serde_json::Value]) -> Cluster {
        let mut cluster = Cluster::default();
        for object in objects {
            match object["kind"].as_str() {
                Some("Pod") => cluster.apply_pod(&serde_json::from_value(object.clone()).unwrap()),
                Some("NetworkPolicy") => {
                    cluster.apply_policy(&serde_json::from_value(object.clone()).unwrap())
                }
                Some("Service") => {
                    cluster.apply_service(&serde_json::from_value(object.clone()).unwrap())
                }
                Some("Ingress") => {
                    cluster.apply_ingress(&serde_json::from_value(object.clone()).unwrap())
                }
                _ => unreachable!(),
            }
        }
        cluster
    }

    fn keys(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        list.iter()
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .collect()
    }

    #[test]
    fn relist_finds_objects_deleted_while_unwatched_including_rejected_ones() {
        let cluster = index(&[
            serde_json::json!({"kind": "Pod", "metadata": {"name": "kept", "namespace": "a"}}),
            serde_json::json!({"kind": "Pod", "metadata": {"name": "gone", "namespace": "a"}}),
            // Rejected (bad label value): held as a finding, and must go too.
            serde_json::json!({"kind": "Pod", "metadata": {"name": "bad", "namespace": "b", "labels": {"x": "not valid!"}}}),
            serde_json::json!({"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "a"}, "spec": {"podSelector": {}}}),
        ]);
        assert_eq!(
            Pod::indexed(&cluster),
            keys(&[("a", "gone"), ("a", "kept"), ("b", "bad")])
        );
        assert_eq!(NetworkPolicy::indexed(&cluster), keys(&[("a", "p")]));
        let listed = keys(&[("a", "kept")]);
        assert_eq!(
            vanished(&Pod::indexed(&cluster), &listed),
            [
                ("a".to_string(), "gone".to_string()),
                ("b".to_string(), "bad".to_string())
            ]
        );
    }

    #[test]
    fn services_held_are_every_valid_and_every_rejected_one() {
        let cluster = index(&[
            serde_json::json!({"kind": "Service", "metadata": {"name": "lb", "namespace": "a"}, "spec": {"type": "LoadBalancer", "selector": {"app": "web"}}}),
            serde_json::json!({"kind": "Service", "metadata": {"name": "internal", "namespace": "a"}, "spec": {"selector": {"app": "web"}}}),
            serde_json::json!({"kind": "Service", "metadata": {"name": "bad", "namespace": "b"}, "spec": {"type": "Nope"}}),
        ]);
        assert_eq!(
            Service::indexed(&cluster),
            keys(&[("a", "internal"), ("a", "lb"), ("b", "bad")]),
            "a cluster-internal Service can be an Ingress backend"
        );
        let listed = keys(&[("a", "lb"), ("a", "internal")]);
        assert_eq!(
            vanished(&Service::indexed(&cluster), &listed),
            [("b".to_string(), "bad".to_string())]
        );
    }

    #[test]
    fn ingresses_held_include_rejected_ones() {
        let cluster = index(&[
            serde_json::json!({"kind": "Ingress", "metadata": {"name": "shop", "namespace": "a"}, "spec": {"rules": [{"host": "shop.example.com"}]}}),
            serde_json::json!({"kind": "Ingress", "metadata": {"name": "bad", "namespace": "b"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {}}}}}),
        ]);
        assert_eq!(
            Ingress::indexed(&cluster),
            keys(&[("a", "shop"), ("b", "bad")])
        );
    }
}
