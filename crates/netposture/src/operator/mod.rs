//! `netposture operator`: keeps one `NetworkPostureReport` per namespace and
//! the Prometheus metrics current, from watches of the objects the engine
//! needs. Wiring only; each part lives in its own module.

pub mod admission;
mod context;
mod controller;
mod failure;
mod freshness;
pub mod health;
pub mod http;
pub mod leader;
pub mod metrics;
#[cfg(test)]
mod monitoring_files;
mod optional_kinds;
mod policy_report;
mod reconcile;
mod triggers;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use futures::StreamExt;
use futures::future::ready;
use k8s_openapi::api::core::v1::{Namespace, Node, NodeSpec, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use netposture_api::NetworkPostureReport;
use netposture_engine::CniStatus;
use tokio::sync::{mpsc, watch as signal_watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{CniOverride, Config, parse_duration, parse_duration_or_zero};
use context::{Context, ContextParts};
use health::Health;
use metrics::Metrics;

#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// Configuration file (see config/netposture.yaml).
    #[arg(long, env = "NETPOSTURE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Declare the CNI instead of detecting it: NAME or NAME:True|False|Unknown.
    #[arg(long, env = "NETPOSTURE_CNI", value_name = "NAME[:CAPABLE]", value_parser = CniOverride::parse)]
    cni: Option<CniOverride>,
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "NETPOSTURE_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Re-evaluate every namespace this often without a change (overrides resyncPeriod).
    #[arg(long, env = "NETPOSTURE_RESYNC_PERIOD", value_name = "DURATION")]
    resync_period: Option<String>,
    /// Namespace of the leader-election Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "netposture-system")]
    lease_namespace: String,
    #[arg(
        long,
        env = "NETPOSTURE_LEASE_NAME",
        default_value = "netposture-operator"
    )]
    lease_name: String,
    /// This replica's name in the Lease; defaults to the pod name or host name.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Reconciles running at once.
    #[arg(long, default_value_t = 4)]
    concurrency: u16,
    /// Collect changes for this long before re-evaluating a namespace (0s: re-evaluate at once).
    #[arg(long, default_value = "1s", value_parser = |s: &str| parse_duration_or_zero(s, "--debounce"))]
    debounce: Duration,
    /// How long one watch request lasts before it is renewed (and RBAC checked again).
    #[arg(long, default_value = "290s", value_parser = |s: &str| parse_duration(s, "--watch-timeout"))]
    watch_timeout: Duration,
    /// Also write a wgpolicyk8s.io/v1alpha2 PolicyReport per namespace (when that CRD exists).
    #[arg(long, env = "NETPOSTURE_POLICY_REPORTS")]
    policy_reports: bool,
    #[arg(long, env = "NETPOSTURE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    admission: admission::AdmissionArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

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

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn termination() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let sigterm = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = sigterm => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

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
    init_logging(args.log_format);
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
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let mut metrics = Metrics::new();
    let admission_metrics = admission::metrics::AdmissionMetrics::register(metrics.registry_mut());
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

    let server = tokio::spawn(http::serve(
        listener,
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
    let watches = [
        tokio::spawn(watch::run::<Namespace>(
            Api::all(client.clone()),
            config.clone(),
            ctx.clone(),
            Some(namespace_events_tx),
            strip_namespace,
        )),
        tokio::spawn(watch::run::<Node>(
            Api::all(client.clone()),
            config.clone(),
            ctx.clone(),
            None,
            strip_node,
        )),
        tokio::spawn(watch::run::<Pod>(
            Api::all(client.clone()),
            config.clone(),
            ctx.clone(),
            None,
            |_| {},
        )),
        tokio::spawn(watch::run::<NetworkPolicy>(
            Api::all(client.clone()),
            config.clone(),
            ctx.clone(),
            None,
            |_| {},
        )),
        tokio::spawn(watch::run::<Service>(
            Api::all(client.clone()),
            config.clone(),
            ctx.clone(),
            None,
            |_| {},
        )),
        tokio::spawn(watch::run::<Ingress>(
            Api::all(client.clone()),
            config.clone(),
            ctx.clone(),
            None,
            |_| {},
        )),
        tokio::spawn(watch::run::<NetworkPostureReport>(
            Api::all(client.clone()),
            config,
            ctx.clone(),
            Some(report_writer_tx),
            strip_report,
        )),
    ];
    let leadership_task = tokio::spawn(follow_leadership(ctx.clone()));
    let resync_task = tokio::spawn(resync_loop(ctx.clone()));

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
            report_metrics.set_store_objects(
                <NetworkPostureReport as watch::Watched>::KIND,
                report_count.state().len(),
            )
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
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "controller");
        }
    });
    let controller = tokio::spawn(controller);

    termination().await;
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

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "netposture".into());
    format!("{host}-{}", std::process::id())
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

/// Gaining the lease (also lost and regained between two looks): take over
/// every report at once. Losing it: writes are already refused by the guard
/// in each write. The gauge reads 0 once the elector has stopped.
async fn follow_leadership(ctx: Arc<Context>) {
    ctx.metrics.set_leader(ctx.leadership.is_leader());
    let follower = ctx.clone();
    ctx.leadership
        .clone()
        .follow(move |leader| {
            let ctx = follower.clone();
            async move {
                ctx.metrics.set_leader(leader);
                tracing::info!(leader, "leadership changed");
                if leader && ctx.loaded() {
                    ctx.full_pass().await;
                }
            }
        })
        .await;
    ctx.metrics.set_leader(false);
}

async fn resync_loop(ctx: Arc<Context>) {
    let mut ticks = tokio::time::interval(ctx.resync);
    loop {
        ticks.tick().await;
        ctx.refresh_policy_reports().await;
        if ctx.loaded() {
            ctx.full_pass().await;
        }
    }
}
