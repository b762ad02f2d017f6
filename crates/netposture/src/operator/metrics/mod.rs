//! The operator's Prometheus metrics, exposed in the OpenMetrics text
//! format, one component per part of the operator. Each component registers
//! its operational metrics on the `netposture` sub-registry under short
//! names (`report_writes` is exposed as `netposture_report_writes_total`);
//! the collectors written at scrape time (posture, change age) register on
//! the root and write whole names.

mod posture;
mod reconciles;
mod reports;
mod watches;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::freshness::{AgeCollector, Unevaluated};
pub use posture::PostureMetrics;
pub use reconciles::ReconcileMetrics;
pub use reports::ReportMetrics;
pub use watches::WatchMetrics;

/// The prefix of every metric name.
const PREFIX: &str = "netposture";

/// Labels of the error and event counters; `reason` is a short fixed code,
/// never a free-form message, to keep the number of series bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

fn reason_labels(reason: &str) -> ReasonLabels {
    ReasonLabels {
        reason: reason.to_string(),
    }
}

pub struct Metrics {
    registry: Registry,
    pub posture: PostureMetrics,
    pub reports: ReportMetrics,
    pub watches: WatchMetrics,
    pub reconciles: ReconcileMetrics,
    leader: Gauge,
    /// Changes no evaluation has seen yet, by namespace.
    pub changes: Arc<Unevaluated>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let posture = PostureMetrics::register(&mut registry);
        let changes = Arc::new(Unevaluated::default());
        registry.register_collector(Box::new(AgeCollector(Arc::clone(&changes))));
        let prefixed = registry.sub_registry_with_prefix(PREFIX);
        let reports = ReportMetrics::register(prefixed);
        let watches = WatchMetrics::register(prefixed);
        let reconciles = ReconcileMetrics::register(prefixed);
        let leader = Gauge::default();
        prefixed.register(
            "leader",
            "1 while this replica holds the leader lease, else 0",
            leader.clone(),
        );
        Metrics {
            registry,
            posture,
            reports,
            watches,
            reconciles,
            leader,
            changes,
        }
    }

    /// The namespace is gone or excluded: no series, and no change waits for it.
    pub fn remove_namespace(&self, namespace: &str) {
        self.posture.remove_namespace(namespace);
        self.changes.evaluated(namespace, std::time::Instant::now());
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Where a component that starts with the operator (admission) registers
    /// its own metrics, under the same `netposture_` prefix.
    pub fn component_registry(&mut self) -> &mut Registry {
        self.registry.sub_registry_with_prefix(PREFIX)
    }

    /// The OpenMetrics text exposition, `# EOF` included.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding only fails when the writer does, and a String never does");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
