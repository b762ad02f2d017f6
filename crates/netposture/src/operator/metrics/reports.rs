//! What the leader wrote: reports, PolicyReports and Events, and the writes
//! that failed, by reason.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::{ReasonLabels, reason_labels};
use crate::operator::failure::Failure;

pub struct ReportMetrics {
    writes: Counter,
    deletes: Counter,
    write_errors: Family<ReasonLabels, Counter>,
    policy_report_writes: Counter,
    policy_report_write_errors: Family<ReasonLabels, Counter>,
    events: Family<ReasonLabels, Counter>,
}

impl ReportMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = ReportMetrics {
            writes: Counter::default(),
            deletes: Counter::default(),
            write_errors: Family::default(),
            policy_report_writes: Counter::default(),
            policy_report_write_errors: Family::default(),
            events: Family::default(),
        };
        // Error counters start at zero for every reason: a series that
        // appears only with the first error leaves dashboards and rate()
        // alerts empty instead of showing 0.
        for failure in Failure::ALL {
            let labels = reason_labels(failure.as_str());
            let _ = metrics.write_errors.get_or_create(&labels);
            let _ = metrics.policy_report_write_errors.get_or_create(&labels);
        }
        registry.register(
            "report_writes",
            "NetworkPostureReport objects created or updated",
            metrics.writes.clone(),
        );
        registry.register(
            "report_deletes",
            "NetworkPostureReport objects deleted",
            metrics.deletes.clone(),
        );
        registry.register(
            "report_write_errors",
            "Failed NetworkPostureReport writes, by reason",
            metrics.write_errors.clone(),
        );
        registry.register(
            "policy_report_writes",
            "wgpolicyk8s.io PolicyReport objects created or updated (with --policy-reports)",
            metrics.policy_report_writes.clone(),
        );
        registry.register(
            "policy_report_write_errors",
            "Failed PolicyReport writes, by reason",
            metrics.policy_report_write_errors.clone(),
        );
        registry.register(
            "events",
            "Kubernetes Events published, by reason",
            metrics.events.clone(),
        );
        metrics
    }

    pub fn written(&self) {
        self.writes.inc();
    }

    pub fn deleted(&self) {
        self.deletes.inc();
    }

    pub fn write_failed(&self, reason: &str) {
        self.write_errors
            .get_or_create(&reason_labels(reason))
            .inc();
    }

    pub fn policy_report_written(&self) {
        self.policy_report_writes.inc();
    }

    pub fn policy_report_write_failed(&self, reason: &str) {
        self.policy_report_write_errors
            .get_or_create(&reason_labels(reason))
            .inc();
    }

    pub fn event_published(&self, reason: &str) {
        self.events.get_or_create(&reason_labels(reason)).inc();
    }
}
