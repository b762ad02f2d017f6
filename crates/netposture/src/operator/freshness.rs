//! How long changes wait for their evaluation: per namespace, the first
//! change that no evaluation has seen yet. The age of the oldest one is
//! exported at scrape time, so a namespace left unevaluated shows a growing
//! age even while full passes keep the last-full-evaluation time current.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

pub const AGE_METRIC: &str = "netposture_unevaluated_change_age_seconds";

#[derive(Debug, Default)]
pub struct Unevaluated(Mutex<HashMap<String, Instant>>);

impl Unevaluated {
    /// Notes a change of each namespace, unless an older one still waits.
    pub fn changed<'a>(&self, names: impl IntoIterator<Item = &'a String>, at: Instant) {
        let mut waiting = self.lock();
        for name in names {
            waiting.entry(name.clone()).or_insert(at);
        }
    }

    /// An evaluation of the namespace starts, and sees every change so far
    /// (or the namespace is gone); returns how long its oldest change waited.
    pub fn evaluated(&self, name: &str, at: Instant) -> Option<Duration> {
        self.lock()
            .remove(name)
            .map(|since| at.saturating_duration_since(since))
    }

    /// How long the oldest change not yet evaluated has waited; zero if none.
    pub fn oldest(&self, now: Instant) -> Duration {
        self.lock()
            .values()
            .map(|since| now.saturating_duration_since(*since))
            .max()
            .unwrap_or_default()
    }

    // Each operation leaves the map whole, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes [`AGE_METRIC`] on each scrape.
#[derive(Debug)]
pub struct AgeCollector(pub Arc<Unevaluated>);

impl Collector for AgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let age = self.0.oldest(Instant::now()).as_secs_f64();
        let mut family = encoder.encode_descriptor(
            AGE_METRIC,
            "How long the oldest change not yet evaluated has waited, 0 when none waits.",
            None,
            MetricType::Gauge,
        )?;
        family.encode_gauge(&age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_waiting_change_sets_the_age_until_its_namespace_is_evaluated() {
        let start = Instant::now();
        let later = |seconds| start + Duration::from_secs(seconds);
        let changes = Unevaluated::default();
        assert_eq!(changes.oldest(start), Duration::ZERO);
        changes.changed(&["a".to_string(), "b".to_string()], start);
        // A second change of a waiting namespace does not reset its wait.
        changes.changed(&["a".to_string()], later(5));
        changes.changed(&["c".to_string()], later(5));
        assert_eq!(changes.oldest(later(10)), Duration::from_secs(10));
        assert_eq!(changes.evaluated("a", later(10)), Some(later(10) - start));
        assert_eq!(changes.evaluated("a", later(11)), None);
        assert_eq!(
            changes.oldest(later(10)),
            Duration::from_secs(10),
            "b still waits"
        );
        changes.evaluated("b", later(10));
        assert_eq!(changes.oldest(later(10)), Duration::from_secs(5));
    }
}
