//! Reconciles and evaluations: how many ran, how long they took, which
//! failed and why, and when every namespace was last evaluated.

use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::{ReasonLabels, reason_labels};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

const SUCCESS: ResultLabels = ResultLabels { result: "success" };
const ERROR: ResultLabels = ResultLabels { result: "error" };

pub struct ReconcileMetrics {
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Histogram,
    errors: Family<ReasonLabels, Counter>,
    evaluation_duration: Histogram,
    last_full_evaluation: Gauge<f64, AtomicU64>,
}

impl ReconcileMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = ReconcileMetrics {
            reconciles: Family::default(),
            // 1 ms doubling up to 16 s: an unchanged report is an evaluation
            // only, a changed one adds up to three API requests.
            reconcile_duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            errors: Family::default(),
            // 0.1 ms doubling up to 1.6 s: one namespace takes well under a
            // millisecond, a large cluster's full pass can take most of a second.
            evaluation_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
            last_full_evaluation: Gauge::default(),
        };
        // Both results from the start, so an error ratio is 0, not missing.
        let _ = metrics.reconciles.get_or_create(&SUCCESS);
        let _ = metrics.reconciles.get_or_create(&ERROR);
        registry.register(
            "reconcile",
            "Reconciles of one namespace, by result",
            metrics.reconciles.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Time taken by one reconcile: evaluation and any writes",
            Unit::Seconds,
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciliations, by reason",
            metrics.errors.clone(),
        );
        registry.register_with_unit(
            "evaluation_duration",
            "Time taken to evaluate the posture of one or more namespaces",
            Unit::Seconds,
            metrics.evaluation_duration.clone(),
        );
        registry.register_with_unit(
            "last_full_evaluation_timestamp",
            "Unix time at which every namespace was last evaluated",
            Unit::Seconds,
            metrics.last_full_evaluation.clone(),
        );
        metrics
    }

    /// Times one reconcile until the returned timer is dropped.
    pub fn start(&self) -> ReconcileTimer<'_> {
        ReconcileTimer {
            metrics: self,
            started: Instant::now(),
            succeeded: false,
        }
    }

    pub fn error(&self, reason: &str) {
        self.errors.get_or_create(&reason_labels(reason)).inc();
    }

    pub fn observe_evaluation(&self, seconds: f64) {
        self.evaluation_duration.observe(seconds);
    }

    pub fn full_evaluation_done(&self) {
        // A clock before 1970 is a broken host, not a reason to stop; it reads as 0.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_full_evaluation.set(now.as_secs_f64());
    }
}

/// Counts and times one reconcile when dropped: as an error unless
/// [`ReconcileTimer::succeeded`] was called, so an early return or a
/// cancelled reconcile never counts as a success.
pub struct ReconcileTimer<'a> {
    metrics: &'a ReconcileMetrics,
    started: Instant,
    succeeded: bool,
}

impl ReconcileTimer<'_> {
    pub fn succeeded(&mut self) {
        self.succeeded = true;
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let result = if self.succeeded { &SUCCESS } else { &ERROR };
        self.metrics.reconciles.get_or_create(result).inc();
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics.reconcile_duration.observe(seconds);
    }
}
