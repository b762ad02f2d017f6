//! What the watch tasks, the reconciler and the HTTP server share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;
use netposture_api::NetworkPostureReport;
use netposture_engine::{Affected, Cluster, Settings};

use super::health::Health;
use super::leader::Leadership;
use super::metrics::Metrics;
use super::policy_report::PolicyReports;
use super::triggers::Triggers;
use crate::config::Exclusion;

pub struct Context {
    pub client: Client,
    /// The engine's index, fed by the watch tasks; the only copy of pods and policies.
    cluster: RwLock<Cluster>,
    pub settings: Settings,
    pub exclusion: Exclusion,
    pub resync: Duration,
    pub reports: Store<NetworkPostureReport>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub leadership: Leadership,
    pub recorder: Recorder,
    pub triggers: Arc<Triggers>,
    /// Every kind has listed once: the index is complete enough to publish.
    loaded: AtomicBool,
    /// PolicyReport output, when asked for; it writes only while the CRD exists.
    pub policy_reports: Option<PolicyReports>,
    pub policy_reports_available: AtomicBool,
}

pub struct ContextParts {
    pub client: Client,
    pub settings: Settings,
    pub exclusion: Exclusion,
    pub resync: Duration,
    pub reports: Store<NetworkPostureReport>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub leadership: Leadership,
    pub recorder: Recorder,
    pub triggers: Arc<Triggers>,
    pub policy_reports: Option<PolicyReports>,
}

impl Context {
    pub fn new(parts: ContextParts) -> Self {
        Context {
            client: parts.client,
            cluster: RwLock::new(Cluster::default()),
            settings: parts.settings,
            exclusion: parts.exclusion,
            resync: parts.resync,
            reports: parts.reports,
            metrics: parts.metrics,
            health: parts.health,
            leadership: parts.leadership,
            recorder: parts.recorder,
            triggers: parts.triggers,
            loaded: AtomicBool::new(false),
            policy_reports: parts.policy_reports,
            policy_reports_available: AtomicBool::new(false),
        }
    }

    /// Whether every kind has listed at least once. A later failure of one
    /// watch keeps the rest of the index usable, so this never turns false.
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Called after each (re)list; true the first time every kind is synced.
    pub fn mark_loaded_if_synced(&self) -> bool {
        self.health.all_synced() && !self.loaded.swap(true, Ordering::AcqRel)
    }

    // A panic while holding the lock leaves the index as the last complete
    // update made it; using it is better than stopping every evaluation.
    pub fn cluster(&self) -> RwLockReadGuard<'_, Cluster> {
        self.cluster.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn cluster_mut(&self) -> RwLockWriteGuard<'_, Cluster> {
        self.cluster.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for the affected namespaces to be re-evaluated once the
    /// debounce window ends. Until every watch has listed, nothing is asked:
    /// the full pass after the last list covers it, and evaluating a
    /// half-loaded index would publish wrong reports. Namespaces without a
    /// Namespace object have no report and are never reconciled.
    pub fn trigger(&self, affected: Affected) {
        if !self.loaded() || affected == Affected::Nothing {
            return;
        }
        let names: Vec<String> = {
            let cluster = self.cluster();
            affected
                .resolve(&cluster)
                .into_iter()
                .filter(|name| cluster.namespace(name).is_some_and(|state| state.declared))
                .collect()
        };
        self.metrics.changes.changed(&names, Instant::now());
        self.triggers.changed(names);
    }

    pub fn policy_reports_available(&self) -> bool {
        self.policy_reports_available.load(Ordering::Acquire)
    }

    /// Re-checks whether PolicyReports can be written; when the CRD appears,
    /// every namespace is reconciled so each gets its PolicyReport.
    pub async fn refresh_policy_reports(&self) {
        let Some(reports) = &self.policy_reports else {
            return;
        };
        let available = reports.available().await;
        let was = self
            .policy_reports_available
            .swap(available, Ordering::AcqRel);
        if available && !was {
            tracing::info!("PolicyReport CRD found: writing a PolicyReport per namespace");
            reports.reset();
            self.trigger(Affected::All);
        } else if !available && was {
            tracing::warn!("PolicyReport CRD gone: no PolicyReports are written until it returns");
        }
    }
}

/// A context for tests of the watch and reconcile logic: no API server
/// behind its client (requests fail), never leading, watching `kinds`.
#[cfg(test)]
pub fn test_context(kinds: &[&str]) -> Arc<Context> {
    let config = kube::Config::new("http://127.0.0.1:9".parse().expect("a valid URL"));
    let client = Client::try_from(config).expect("a client needs no connection to be built");
    let metrics = Arc::new(Metrics::new());
    Arc::new(Context::new(ContextParts {
        client: client.clone(),
        settings: Settings::default(),
        exclusion: Exclusion::default(),
        resync: Duration::from_secs(300),
        reports: kube::runtime::reflector::store().0,
        metrics,
        health: Arc::new(Health::new(kinds)),
        leadership: Leadership::never(),
        recorder: Recorder::new(client, "netposture-test".into()),
        triggers: Arc::new(Triggers::new(Duration::from_secs(1))),
        policy_reports: None,
    }))
}
