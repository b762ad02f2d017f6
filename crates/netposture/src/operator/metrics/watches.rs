//! The watches: events and errors by kind, objects held, and which kinds fail.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::operator::failure::Failure;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindReasonLabels {
    kind: String,
    reason: String,
}

pub struct WatchMetrics {
    events: Family<KindLabels, Counter>,
    errors: Family<KindReasonLabels, Counter>,
    store_objects: Family<KindLabels, Gauge>,
    failing: Family<KindLabels, Gauge>,
}

impl WatchMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = WatchMetrics {
            events: Family::default(),
            errors: Family::default(),
            store_objects: Family::default(),
            failing: Family::default(),
        };
        registry.register(
            "watch_events",
            "Watch events received, by object kind",
            metrics.events.clone(),
        );
        registry.register(
            "watch_errors",
            "Watch errors, by object kind and reason",
            metrics.errors.clone(),
        );
        registry.register(
            "store_objects",
            "Objects held in the watch caches, by kind",
            metrics.store_objects.clone(),
        );
        registry.register(
            "watch_failing",
            "1 while the watch of a kind fails (forbidden, not served, or down longer than a minute), else 0",
            metrics.failing.clone(),
        );
        metrics
    }

    /// A watch of `kind` starts: its error series exist from now on, at
    /// zero, and it is not failing.
    pub fn started(&self, kind: &str) {
        self.set_failing(kind, false);
        for failure in Failure::ALL {
            let _ = self.errors.get_or_create(&KindReasonLabels {
                kind: kind.to_string(),
                reason: failure.as_str().to_string(),
            });
        }
    }

    pub fn event(&self, kind: &str) {
        self.events.get_or_create(&kind_labels(kind)).inc();
    }

    pub fn error(&self, kind: &str, reason: &str) {
        let labels = KindReasonLabels {
            kind: kind.to_string(),
            reason: reason.to_string(),
        };
        self.errors.get_or_create(&labels).inc();
    }

    pub fn set_store_objects(&self, kind: &str, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.store_objects
            .get_or_create(&kind_labels(kind))
            .set(count);
    }

    pub fn set_failing(&self, kind: &str, failing: bool) {
        self.failing
            .get_or_create(&kind_labels(kind))
            .set(i64::from(failing));
    }
}

fn kind_labels(kind: &str) -> KindLabels {
    KindLabels {
        kind: kind.to_string(),
    }
}
