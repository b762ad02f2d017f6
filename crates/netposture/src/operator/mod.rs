//! `netposture operator`: keeps one `NetworkPostureReport` per namespace and
//! the Prometheus metrics current, from watches of the objects the engine
//! needs. Wiring only; each part lives in its own module.

pub mod admission;
mod args;
mod context;
mod controller;
mod failure;
mod freshness;
mod full_pass;
pub mod health;
pub mod http;
pub mod leader;
mod listener;
mod logging;
pub mod metrics;
mod metrics_auth;
mod optional_kinds;
mod policy_report;
mod publish;
mod reconcile;
mod serving_cert;
mod signals;
mod triggers;
mod watch;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use futures::future::ready;
use k8s_openapi::api::core::v1::{Namespace, Node, NodeSpec};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use netposture_api::NetworkPostureReport;
use netposture_engine::CniStatus;
use netposture_engine::changes::{
    IndexKind, Ingresses, Namespaces, NetworkPolicies, Nodes, Pods, Services,
};
use tokio::sync::{mpsc, watch as signal_watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{Config, parse_duration};
pub use args::OperatorArgs;
use context::{Context, ContextParts};
use health::Health;
use metrics::Metrics;
use watch::{REPORT_KIND, Unindexed, Watch};

/// Objects per list page. A page of whole objects is the largest transient
/// allocation of a start on a big cluster, and the allocator keeps its peak:
/// small pages keep the start's memory close to the steady state's.
const LIST_PAGE_SIZE: u32 = 100;

/// Events buffered between a watch and the controller's stores, and
/// namespaces between the triggers and the controller.
const FORWARD_BUFFER: usize = 256;

/// Kinds whose watches must have listed before the operator is ready.
const WATCHED: [&str; 7] = [
    "Namespace",
    "Node",
    "Pod",
    "NetworkPolicy",
    "Service",
    "Ingress",
    "NetworkPostureReport",
];

pub fn run(args: OperatorArgs) -> anyhow::Result<()> {
    // Configuration errors end the process before anything starts.
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let mut settings = config.settings().map_err(anyhow::Error::msg)?;
    if let Some(cni) = &args.cni {
        settings.cni_override = Some(CniStatus {
            name: cni.name.clone(),
            capable: cni.capable,
            evidence: "set by --cni".into(),
        });
    }
    let exclusion = config.exclusion().map_err(anyhow::Error::msg)?;
    let resync = match &args.resync_period {
        Some(text) => parse_duration(text, "--resync-period"),
        None => config.resync_period(),
    }
    .map_err(anyhow::Error::msg)?;
    let admission = config.admission.rules().map_err(anyhow::Error::msg)?;
    logging::init_logging(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(operate(args, settings, exclusion, resync, admission))
}

async fn operate(
    args: OperatorArgs,
    settings: netposture_engine::Settings,
    exclusion: crate::config::Exclusion,
    resync: Duration,
    admission: crate::config::AdmissionRules,
) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no Kubernetes credentials (in-cluster or KUBECONFIG)")?;
    let identity = args.identity();
    let mut metrics = Metrics::new();
    let admission_metrics =
        admission::metrics::AdmissionMetrics::register(metrics.component_registry());
    let metrics = Arc::new(metrics);
    let health = Arc::new(Health::new(&WATCHED));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding --metrics-addr {}", args.metrics_addr))?;
    tracing::info!(addr = %args.metrics_addr, identity, "netposture operator starting");

    let (stop_tx, stop_rx) = signal_watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            // An error means the sender is gone, which only happens at exit.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let guard = http::Guard::for_args(&args, &client)?;
    let server = tokio::spawn(http::serve(
        listener,
        guard,
        metrics.clone(),
        health.clone(),
        stopped(),
    ));
    let lease = leader::LeaseSettings::new(&args.lease_namespace, &args.lease_name, &identity);
    let (leadership, elector) =
        leader::spawn(client.clone(), lease, stopped()).context("leader election settings")?;

    // Bounded: a full buffer holds the watch back instead of growing.
    let (report_writer_tx, report_events) = mpsc::channel(FORWARD_BUFFER);
    let (namespace_events_tx, namespace_events) = mpsc::channel(FORWARD_BUFFER);
    let (dispatch_tx, dispatched) = mpsc::channel(FORWARD_BUFFER);
    let triggers = Arc::new(triggers::Triggers::new(args.debounce));
    let (report_store, report_writer) = reflector::store();
    let report_count = report_store.clone();
    let (namespace_store, namespace_writer) = reflector::store();

    let ctx = Arc::new(Context::new(ContextParts {
        client: client.clone(),
        settings,
        exclusion,
        resync,
        reports: report_store,
        metrics: metrics.clone(),
        health: health.clone(),
        leadership: leadership.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter::from(format!("netposture/{identity}")),
        ),
        triggers: triggers.clone(),
        policy_reports: args
            .policy_reports
            .then(|| policy_report::PolicyReports::new(client.clone())),
    }));

    let admission_tasks = admission::start(
        args.admission,
        admission,
        ctx.clone(),
        admission_metrics,
        &args.lease_namespace,
        client.clone(),
        stopped(),
    )
    .await?;

    let timeout = u32::try_from(args.watch_timeout.as_secs()).unwrap_or(u32::MAX);
    let config = kube::runtime::watcher::Config::default()
        .timeout(timeout)
        .page_size(LIST_PAGE_SIZE);
    // Before the typed watches: kinds found now must list before anything is published.
    let optional =
        optional_kinds::OptionalWatches::start(client.clone(), config.clone(), ctx.clone()).await;
    let optional_task = tokio::spawn(optional.follow());
    let namespace_watch = Watch {
        forward: Some(namespace_events_tx),
        gone: |ctx, (_, name)| ctx.forget_namespace(name),
        ..Watch::typed(Namespaces, strip_namespace)
    };
    let report_watch = Watch {
        forward: Some(report_writer_tx),
        counted: false,
        ..Watch::typed(Unindexed(REPORT_KIND, PhantomData), strip_report)
    };
    let watches = [
        spawn_watch(&client, &config, &ctx, namespace_watch),
        spawn_watch(&client, &config, &ctx, Watch::typed(Nodes, strip_node)),
        spawn_watch(&client, &config, &ctx, Watch::typed(Pods, |_| {})),
        spawn_watch(
            &client,
            &config,
            &ctx,
            Watch::typed(NetworkPolicies, |_| {}),
        ),
        spawn_watch(&client, &config, &ctx, Watch::typed(Services, |_| {})),
        spawn_watch(&client, &config, &ctx, Watch::typed(Ingresses, |_| {})),
        spawn_watch(&client, &config, &ctx, report_watch),
    ];
    let leadership_task = tokio::spawn(full_pass::follow_leadership(ctx.clone()));
    let resync_task = tokio::spawn(full_pass::resync_loop(ctx.clone()));

    let dispatch_task = tokio::spawn(async move { triggers.dispatch(dispatch_tx).await });

    // Events of a (re)list start no reconcile: the full pass after each list
    // reconciles what differs, and a second reconcile of the same namespace
    // right behind it could read the report store before its first write
    // is there, and write again.
    let namespaces = ReceiverStream::new(namespace_events)
        .map(Ok)
        .reflect(namespace_writer)
        .filter_map(|event| ready(changed_object(event, false)));
    let report_metrics = metrics.clone();
    let reports = ReceiverStream::new(report_events)
        .map(Ok)
        .reflect(report_writer)
        .inspect(move |_| {
            report_metrics
                .watches
                .set_store_objects(REPORT_KIND, report_count.state().len())
        })
        .filter_map(|event| ready(changed_object(event, true)));
    let controller = controller::build(
        namespaces,
        namespace_store,
        reports,
        ReceiverStream::new(dispatched),
        args.concurrency,
    )
    .graceful_shutdown_on(stopped())
    .run(reconcile::reconcile, reconcile::error_policy, ctx.clone())
    .for_each(|outcome| {
        reconcile::log_outcome(outcome);
        ready(())
    });
    let controller = tokio::spawn(controller);

    signals::termination().await;
    tracing::info!("termination requested: finishing in-flight writes, releasing the lease");
    // Both receivers of the stop signal are alive here; a send error cannot lose anything.
    let _ = stop_tx.send(true);
    let _ = controller.await;
    for task in watches.iter().chain(&admission_tasks).chain([
        &optional_task,
        &leadership_task,
        &resync_task,
        &dispatch_task,
    ]) {
        task.abort();
    }
    let _ = elector.await;
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the watch of one kind over the whole cluster.
fn spawn_watch<I>(
    client: &Client,
    config: &watcher::Config,
    ctx: &Arc<Context>,
    watch: Watch<I>,
) -> tokio::task::JoinHandle<()>
where
    I: IndexKind + Send + Sync + 'static,
    I::Object: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(watch::run(
        Api::all(client.clone()),
        config.clone(),
        ctx.clone(),
        watch,
    ))
}

/// The object of an Apply event (or a Delete one, with `deletes`), never of
/// a (re)list.
fn changed_object<K>(
    event: Result<watcher::Event<K>, watcher::Error>,
    deletes: bool,
) -> Option<Result<K, watcher::Error>> {
    match event {
        Ok(watcher::Event::Apply(object)) => Some(Ok(object)),
        Ok(watcher::Event::Delete(object)) => deletes.then_some(Ok(object)),
        Ok(watcher::Event::Init | watcher::Event::InitApply(_) | watcher::Event::InitDone) => None,
        Err(error) => Some(Err(error)),
    }
}

/// The controller's namespace store keeps only what reconcile reads.
fn strip_namespace(namespace: &mut Namespace) {
    namespace.metadata.managed_fields = None;
    namespace.spec = None;
    namespace.status = None;
}

/// Of a Node the index keeps only its pod CIDRs; the rest changes often
/// (status, heartbeats) and would only cost memory.
fn strip_node(node: &mut Node) {
    node.metadata.managed_fields = None;
    node.metadata.annotations = None;
    node.metadata.labels = None;
    node.status = None;
    node.spec = node.spec.take().map(|spec| NodeSpec {
        pod_cidr: spec.pod_cidr,
        pod_cidrs: spec.pod_cidrs,
        ..NodeSpec::default()
    });
}

fn strip_report(report: &mut NetworkPostureReport) {
    report.metadata.managed_fields = None;
    report.metadata.annotations = None;
}
