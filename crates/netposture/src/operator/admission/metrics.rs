//! The webhook's metrics: requests by result, warnings and denials by
//! condition, and how long an answer takes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// How a request was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed without warnings (also changes of kinds netposture ignores).
    Allowed,
    /// Allowed with at least one warning.
    Warned,
    Denied,
    /// Allowed with the warning that the index is not yet synced.
    NotSynced,
    /// The request could not be read; allowed, as `failurePolicy: Ignore` would.
    Invalid,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Allowed,
        Outcome::Warned,
        Outcome::Denied,
        Outcome::NotSynced,
        Outcome::Invalid,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Warned => "warned",
            Outcome::Denied => "denied",
            Outcome::NotSynced => "not_synced",
            Outcome::Invalid => "invalid",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    condition: String,
}

#[derive(Clone)]
pub struct AdmissionMetrics {
    requests: Family<ResultLabels, Counter>,
    warnings: Family<ConditionLabels, Counter>,
    denials: Family<ConditionLabels, Counter>,
    duration: Histogram,
}

impl AdmissionMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let requests: Family<ResultLabels, Counter> = Family::default();
        // Every result from zero, so rate() has a series before the first request.
        for outcome in Outcome::ALL {
            let _ = requests.get_or_create(&ResultLabels {
                result: outcome.as_str(),
            });
        }
        registry.register(
            "admission_requests",
            "Admission reviews answered, by result",
            requests.clone(),
        );
        let warnings = Family::default();
        registry.register(
            "admission_warnings",
            "Admission warnings given, by condition",
            warnings.clone(),
        );
        let denials = Family::default();
        registry.register(
            "admission_denials",
            "Admission requests denied, by condition",
            denials.clone(),
        );
        // 0.5 ms doubling up to about 4 s, past the webhook's timeout.
        let duration = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register_with_unit(
            "admission_duration",
            "Time taken to answer one admission review",
            Unit::Seconds,
            duration.clone(),
        );
        AdmissionMetrics {
            requests,
            warnings,
            denials,
            duration,
        }
    }

    pub fn record(&self, outcome: Outcome, seconds: f64) {
        self.requests
            .get_or_create(&ResultLabels {
                result: outcome.as_str(),
            })
            .inc();
        self.duration.observe(seconds);
    }

    pub fn warned(&self, condition: &str) {
        let labels = ConditionLabels {
            condition: condition.to_string(),
        };
        self.warnings.get_or_create(&labels).inc();
    }

    pub fn denied(&self, condition: &str) {
        let labels = ConditionLabels {
            condition: condition.to_string(),
        };
        self.denials.get_or_create(&labels).inc();
    }
}
