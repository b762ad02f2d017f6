//! The operator's Prometheus metrics, exposed in the OpenMetrics text format.
//!
//! Operational counters and gauges are ordinary prometheus-client metrics.
//! The posture series (per namespace and for the cluster's CNI) are instead
//! written at scrape time from one shared table by [`PostureCollector`]: a
//! namespace that leaves the table leaves the output, so no stale series can
//! outlive it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::failure::Failure;
use netposture_engine::compliance::{self, CONTROLS};
use netposture_engine::posture::ids;
use netposture_engine::{CheckStatus, CniStatus, NamespacePosture};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::freshness::{AgeCollector, Unevaluated};

/// Labels of the error and event counters; `reason` is a short fixed code,
/// never a free-form message, to keep the number of series bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindReasonLabels {
    kind: String,
    reason: String,
}

pub struct Metrics {
    registry: Registry,
    posture: Arc<RwLock<PostureTable>>,
    evaluation_duration: Histogram,
    report_writes: Counter,
    report_deletes: Counter,
    report_write_errors: Family<ReasonLabels, Counter>,
    policy_report_writes: Counter,
    policy_report_write_errors: Family<ReasonLabels, Counter>,
    events: Family<ReasonLabels, Counter>,
    watch_events: Family<KindLabels, Counter>,
    watch_errors: Family<KindReasonLabels, Counter>,
    reconcile_errors: Family<ReasonLabels, Counter>,
    last_full_evaluation: Gauge<f64, AtomicU64>,
    store_objects: Family<KindLabels, Gauge>,
    watch_failing: Family<KindLabels, Gauge>,
    leader: Gauge,
    /// Changes no evaluation has seen yet, by namespace.
    pub changes: Arc<Unevaluated>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let posture = Arc::new(RwLock::new(PostureTable::default()));
        registry.register_collector(Box::new(PostureCollector(Arc::clone(&posture))));
        let changes = Arc::new(Unevaluated::default());
        registry.register_collector(Box::new(AgeCollector(Arc::clone(&changes))));

        // 0.1 ms doubling up to 1.6 s: one namespace takes well under a
        // millisecond, a large cluster's full pass can take most of a second.
        let evaluation_duration = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register_with_unit(
            "netposture_evaluation_duration",
            "Time taken to evaluate the posture of one or more namespaces",
            Unit::Seconds,
            evaluation_duration.clone(),
        );
        let report_writes = Counter::default();
        registry.register(
            "netposture_report_writes",
            "NetworkPostureReport objects created or updated",
            report_writes.clone(),
        );
        let report_deletes = Counter::default();
        registry.register(
            "netposture_report_deletes",
            "NetworkPostureReport objects deleted",
            report_deletes.clone(),
        );
        let report_write_errors: Family<ReasonLabels, Counter> = Family::default();
        // Error counters start at zero for every reason: a series that
        // appears only with the first error leaves dashboards and rate()
        // alerts empty instead of showing 0.
        for failure in Failure::ALL {
            let _ = report_write_errors.get_or_create(&reason_labels(failure.as_str()));
        }
        registry.register(
            "netposture_report_write_errors",
            "Failed NetworkPostureReport writes, by reason",
            report_write_errors.clone(),
        );
        let policy_report_writes = Counter::default();
        registry.register(
            "netposture_policy_report_writes",
            "wgpolicyk8s.io PolicyReport objects created or updated (with --policy-reports)",
            policy_report_writes.clone(),
        );
        let policy_report_write_errors = Family::default();
        for failure in Failure::ALL {
            let _ = policy_report_write_errors.get_or_create(&reason_labels(failure.as_str()));
        }
        registry.register(
            "netposture_policy_report_write_errors",
            "Failed PolicyReport writes, by reason",
            policy_report_write_errors.clone(),
        );
        let events = Family::default();
        registry.register(
            "netposture_events",
            "Kubernetes Events published, by reason",
            events.clone(),
        );
        let watch_events = Family::default();
        registry.register(
            "netposture_watch_events",
            "Watch events received, by object kind",
            watch_events.clone(),
        );
        let watch_errors = Family::default();
        registry.register(
            "netposture_watch_errors",
            "Watch errors, by object kind and reason",
            watch_errors.clone(),
        );
        let reconcile_errors = Family::default();
        registry.register(
            "netposture_reconcile_errors",
            "Failed reconciliations, by reason",
            reconcile_errors.clone(),
        );
        let last_full_evaluation = Gauge::default();
        registry.register_with_unit(
            "netposture_last_full_evaluation_timestamp",
            "Unix time at which every namespace was last evaluated",
            Unit::Seconds,
            last_full_evaluation.clone(),
        );
        let store_objects = Family::default();
        registry.register(
            "netposture_store_objects",
            "Objects held in the watch caches, by kind",
            store_objects.clone(),
        );
        let watch_failing = Family::default();
        registry.register(
            "netposture_watch_failing",
            "1 while the watch of a kind fails (forbidden, not served, or down longer than a minute), else 0",
            watch_failing.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "netposture_leader",
            "1 while this replica holds the leader lease, else 0",
            leader.clone(),
        );

        Metrics {
            registry,
            posture,
            evaluation_duration,
            report_writes,
            report_deletes,
            report_write_errors,
            policy_report_writes,
            policy_report_write_errors,
            events,
            watch_events,
            watch_errors,
            reconcile_errors,
            last_full_evaluation,
            store_objects,
            watch_failing,
            leader,
            changes,
        }
    }

    pub fn set_namespace(&self, namespace: &str, posture: &NamespacePosture) {
        let summary = NamespaceSummary::from(posture);
        self.write_posture()
            .namespaces
            .insert(namespace.to_string(), summary);
    }

    /// The namespace is gone or excluded: no series, and no change waits for it.
    pub fn remove_namespace(&self, namespace: &str) {
        self.write_posture().namespaces.remove(namespace);
        self.changes.evaluated(namespace, std::time::Instant::now());
    }

    pub fn set_cni(&self, cni: &CniStatus) {
        self.write_posture().cni = Some(CniLabels {
            name: cni.name.clone(),
            capable: cni.capable.as_str(),
        });
    }

    pub fn observe_evaluation(&self, seconds: f64) {
        self.evaluation_duration.observe(seconds);
    }

    pub fn report_written(&self) {
        self.report_writes.inc();
    }

    pub fn report_deleted(&self) {
        self.report_deletes.inc();
    }

    pub fn report_write_failed(&self, reason: &str) {
        self.report_write_errors
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

    pub fn watch_event(&self, kind: &str) {
        self.watch_events.get_or_create(&kind_labels(kind)).inc();
    }

    /// A watch of `kind` starts: its error series exist from now on, at
    /// zero, and it is not failing.
    pub fn watch_started(&self, kind: &str) {
        self.set_watch_failing(kind, false);
        for failure in Failure::ALL {
            let _ = self.watch_errors.get_or_create(&KindReasonLabels {
                kind: kind.to_string(),
                reason: failure.as_str().to_string(),
            });
        }
    }

    pub fn watch_error(&self, kind: &str, reason: &str) {
        let labels = KindReasonLabels {
            kind: kind.to_string(),
            reason: reason.to_string(),
        };
        self.watch_errors.get_or_create(&labels).inc();
    }

    pub fn reconcile_error(&self, reason: &str) {
        self.reconcile_errors
            .get_or_create(&reason_labels(reason))
            .inc();
    }

    pub fn full_evaluation_done(&self) {
        // A clock before 1970 is a broken host, not a reason to stop; it reads as 0.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.last_full_evaluation.set(now.as_secs_f64());
    }

    pub fn set_store_objects(&self, kind: &str, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.store_objects
            .get_or_create(&kind_labels(kind))
            .set(count);
    }

    pub fn set_watch_failing(&self, kind: &str, failing: bool) {
        self.watch_failing
            .get_or_create(&kind_labels(kind))
            .set(i64::from(failing));
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition, `# EOF` included.
    /// For parts that register their own metrics before the operator starts (admission).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding only fails when the writer does, and a String never does");
        text
    }

    /// The table stays usable after a panic elsewhere: each write replaces
    /// whole entries, so a poisoned lock cannot hold a half-written one.
    fn write_posture(&self) -> std::sync::RwLockWriteGuard<'_, PostureTable> {
        self.posture.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn reason_labels(reason: &str) -> ReasonLabels {
    ReasonLabels {
        reason: reason.to_string(),
    }
}

fn kind_labels(kind: &str) -> KindLabels {
    KindLabels {
        kind: kind.to_string(),
    }
}

/// What the scrape needs of one namespace's posture, without its checks and pod names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NamespaceSummary {
    covered: bool,
    default_deny_ingress: bool,
    default_deny_egress: bool,
    egress_open: bool,
    dns_allowed: bool,
    score: u8,
    pods: u32,
    unprotected_pods: u64,
    /// Bit `i` set when the namespace fails `compliance::CONTROLS[i]`.
    failing_controls: u64,
    /// Bit `i` set when a check with id `ids::ALL[i]` has status Fail.
    failing_checks: u32,
}

// One bit per control in `NamespaceSummary::failing_controls`, per check id in `failing_checks`.
const _: () = assert!(CONTROLS.len() <= 64 && ids::ALL.len() <= 32);

impl From<&NamespacePosture> for NamespaceSummary {
    fn from(posture: &NamespacePosture) -> Self {
        // The report lists a capped number of names; the count covers them all.
        let listed = u64::try_from(posture.unprotected_pods.len()).unwrap_or(u64::MAX);
        NamespaceSummary {
            covered: posture.covered,
            default_deny_ingress: posture.default_deny_ingress,
            default_deny_egress: posture.default_deny_egress,
            egress_open: posture.egress_open,
            dns_allowed: posture.dns_allowed,
            score: posture.score,
            pods: posture.pods.total,
            unprotected_pods: listed.saturating_add(u64::from(posture.unprotected_pods_omitted)),
            failing_controls: CONTROLS
                .iter()
                .enumerate()
                .filter(|(_, control)| compliance::namespace_fails(control, posture))
                .fold(0, |bits, (i, _)| bits | (1 << i)),
            failing_checks: ids::ALL
                .iter()
                .enumerate()
                .filter(|(_, id)| {
                    posture
                        .checks
                        .iter()
                        .any(|c| c.id == **id && c.status == CheckStatus::Fail)
                })
                .fold(0, |bits, (i, _)| bits | (1 << i)),
        }
    }
}

#[derive(Clone, Debug)]
struct CniLabels {
    name: String,
    capable: &'static str,
}

#[derive(Debug, Default)]
struct PostureTable {
    namespaces: BTreeMap<String, NamespaceSummary>,
    cni: Option<CniLabels>,
}

/// Writes the posture gauges from the table on each scrape. Help texts end
/// with a period here by hand: `Registry::register` appends one itself.
#[derive(Debug)]
struct PostureCollector(Arc<RwLock<PostureTable>>);

/// Reads one gauge's value off a namespace's summary.
type SummaryValue = fn(&NamespaceSummary) -> u64;

/// The gauges with one series per namespace: name, help, value.
const NAMESPACE_GAUGES: [(&str, &str, SummaryValue); 6] = [
    (
        "netposture_namespace_covered",
        "1 when the namespace has default deny both ways, DNS allowed, an enforcing CNI and no hostNetwork pod.",
        |s| s.covered.into(),
    ),
    (
        "netposture_namespace_egress_open",
        "1 when some pod of the namespace may reach all public addresses on some port.",
        |s| s.egress_open.into(),
    ),
    (
        "netposture_namespace_dns_allowed",
        "1 when every pod of the namespace may send DNS queries to the cluster DNS.",
        |s| s.dns_allowed.into(),
    ),
    (
        "netposture_namespace_score",
        "Posture score of the namespace, 0 to 100.",
        |s| s.score.into(),
    ),
    ("netposture_namespace_pods", "Pods in the namespace.", |s| {
        s.pods.into()
    }),
    (
        "netposture_namespace_unprotected_pods",
        "Pods of the namespace not isolated both ways, or on the host network.",
        |s| s.unprotected_pods,
    ),
];

impl Collector for PostureCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let table = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let namespaces = &table.namespaces;

        for (name, help, value) in NAMESPACE_GAUGES {
            let samples = namespaces
                .iter()
                .map(|(namespace, summary)| ([("namespace", namespace.as_str())], value(summary)));
            encode_gauges(&mut encoder, name, help, samples)?;
        }
        let default_deny = namespaces.iter().flat_map(|(namespace, summary)| {
            [
                ("ingress", summary.default_deny_ingress),
                ("egress", summary.default_deny_egress),
            ]
            .map(|(direction, deny)| {
                let labels = [("namespace", namespace.as_str()), ("direction", direction)];
                (labels, u64::from(deny))
            })
        });
        encode_gauges(
            &mut encoder,
            "netposture_namespace_default_deny",
            "1 when every pod of the namespace, and any new pod, is isolated in this direction.",
            default_deny,
        )?;

        // Both series always, so dashboards see 0 rather than no data.
        let covered = namespaces.values().filter(|s| s.covered).count();
        let counts = [
            ("true", covered),
            ("false", namespaces.len().saturating_sub(covered)),
        ];
        encode_gauges(
            &mut encoder,
            "netposture_namespaces",
            "Namespaces evaluated, by whether they are covered.",
            counts.map(|(label, count)| ([("covered", label)], count)),
        )?;

        // Every control always, so a control nobody fails shows 0, not no data.
        let failing = CONTROLS.iter().enumerate().map(|(i, control)| {
            let count = namespaces
                .values()
                .filter(|s| s.failing_controls & (1 << i) != 0)
                .count();
            let labels = [
                ("framework", control.framework.name()),
                ("control", control.id),
            ];
            (labels, count)
        });
        encode_gauges(
            &mut encoder,
            "netposture_compliance_control_failing_namespaces",
            "Namespaces whose checks fail or warn for this compliance control.",
            failing,
        )?;

        // Only failing checks: one series per namespace and check would be
        // tens of thousands in a big cluster, nearly all of them 0.
        let failing_checks = namespaces.iter().flat_map(|(namespace, summary)| {
            ids::ALL
                .iter()
                .enumerate()
                .filter(move |(i, _)| summary.failing_checks & (1 << i) != 0)
                .map(move |(_, id)| ([("namespace", namespace.as_str()), ("check", *id)], 1u64))
        });
        encode_gauges(
            &mut encoder,
            "netposture_namespace_check_failing",
            "1 for each check that fails in the namespace; checks that pass, warn or are accepted have no series.",
            failing_checks,
        )?;
        // Every check always, so a check nobody fails shows 0, not no data.
        let per_check = ids::ALL.iter().enumerate().map(|(i, id)| {
            let count = namespaces
                .values()
                .filter(|s| s.failing_checks & (1 << i) != 0)
                .count();
            ([("check", *id)], count)
        });
        encode_gauges(
            &mut encoder,
            "netposture_check_failing_namespaces",
            "Namespaces in which the check fails.",
            per_check,
        )?;

        if let Some(cni) = &table.cni {
            // The OpenMetrics info type: the text encoder appends `_info` and the value 1.
            let mut family = encoder.encode_descriptor(
                "netposture_cni",
                "The cluster's CNI and whether it enforces NetworkPolicy.",
                None,
                MetricType::Info,
            )?;
            family.encode_info(&[("name", cni.name.as_str()), ("capable", cni.capable)])?;
        }
        Ok(())
    }
}

/// One gauge family; left out entirely when it has no samples, as the
/// registry does for an empty `Family`.
fn encode_gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use netposture_engine::{Capability, PodCounts};

    use super::*;

    fn posture(covered: bool, listed: &[&str], omitted: u32) -> NamespacePosture {
        NamespacePosture {
            covered,
            default_deny_ingress: true,
            default_deny_egress: covered,
            egress_open: !covered,
            dns_allowed: true,
            cni: cni("calico", Capability::True),
            pods: PodCounts {
                total: 7,
                ingress_isolated: 7,
                egress_isolated: 2,
                host_network: 0,
            },
            unprotected_pods: listed.iter().map(|p| p.to_string()).collect(),
            unprotected_pods_omitted: omitted,
            score: if covered { 100 } else { 55 },
            checks: Vec::new(),
            accepted_risks: Vec::new(),
        }
    }

    fn cni(name: &str, capable: Capability) -> CniStatus {
        CniStatus {
            name: name.to_string(),
            capable,
            evidence: "test".to_string(),
        }
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn namespace_series_have_the_documented_names_and_labels() {
        let metrics = Metrics::new();
        metrics.set_namespace("shop", &posture(false, &["pod/a", "pod/b"], 3));
        let text = metrics.encode();
        let lines = samples(&text);
        for expected in [
            r#"netposture_namespace_covered{namespace="shop"} 0"#,
            r#"netposture_namespace_default_deny{namespace="shop",direction="ingress"} 1"#,
            r#"netposture_namespace_default_deny{namespace="shop",direction="egress"} 0"#,
            r#"netposture_namespace_egress_open{namespace="shop"} 1"#,
            r#"netposture_namespace_dns_allowed{namespace="shop"} 1"#,
            r#"netposture_namespace_score{namespace="shop"} 55"#,
            r#"netposture_namespace_pods{namespace="shop"} 7"#,
            r#"netposture_namespace_unprotected_pods{namespace="shop"} 5"#,
            r#"netposture_namespaces{covered="true"} 0"#,
            r#"netposture_namespaces{covered="false"} 1"#,
        ] {
            assert!(lines.contains(&expected), "missing {expected} in\n{text}");
        }
        assert!(text.contains("# TYPE netposture_namespace_score gauge\n"));
    }

    #[test]
    fn compliance_controls_count_the_namespaces_failing_them() {
        let failing = |id: &str| netposture_engine::Check {
            id: id.into(),
            status: netposture_engine::CheckStatus::Fail,
            severity: netposture_engine::Severity::High,
            message: String::new(),
            evidence: Vec::new(),
            remediation: String::new(),
            controls: Vec::new(),
        };
        let metrics = Metrics::new();
        let mut open = posture(false, &[], 0);
        open.checks = vec![failing(
            netposture_engine::posture::ids::DEFAULT_DENY_INGRESS,
        )];
        metrics.set_namespace("open", &open);
        metrics.set_namespace("other", &open);
        metrics.set_namespace("closed", &posture(true, &[], 0));
        let text = metrics.encode();
        let lines = samples(&text);
        for expected in [
            r#"netposture_compliance_control_failing_namespaces{framework="cis",control="5.3.2"} 2"#,
            r#"netposture_compliance_control_failing_namespaces{framework="pci-dss",control="1.3.1"} 2"#,
            r#"netposture_compliance_control_failing_namespaces{framework="cis",control="5.3.1"} 0"#,
        ] {
            assert!(lines.contains(&expected), "missing {expected} in\n{text}");
        }
    }

    #[test]
    fn failing_checks_are_counted_per_check_and_listed_per_namespace() {
        let check = |id: &str, status| netposture_engine::Check {
            id: id.into(),
            status,
            severity: netposture_engine::Severity::High,
            message: String::new(),
            evidence: Vec::new(),
            remediation: String::new(),
            controls: Vec::new(),
        };
        let metrics = Metrics::new();
        let mut exposed = posture(false, &[], 0);
        exposed.checks = vec![
            check(ids::DASHBOARD_EXPOSED, CheckStatus::Fail),
            check(ids::HOST_PORTS, CheckStatus::Warn),
            check(ids::MESH_MTLS, CheckStatus::Accepted),
        ];
        metrics.set_namespace("tools", &exposed);
        metrics.set_namespace("shop", &posture(true, &[], 0));
        let text = metrics.encode();
        let lines = samples(&text);
        for expected in [
            r#"netposture_namespace_check_failing{namespace="tools",check="dashboard-exposed"} 1"#,
            r#"netposture_check_failing_namespaces{check="dashboard-exposed"} 1"#,
            r#"netposture_check_failing_namespaces{check="host-ports"} 0"#,
            r#"netposture_check_failing_namespaces{check="mesh-mtls"} 0"#,
        ] {
            assert!(lines.contains(&expected), "missing {expected} in\n{text}");
        }
        let per_namespace = lines
            .iter()
            .filter(|l| l.starts_with("netposture_namespace_check_failing"))
            .count();
        assert_eq!(per_namespace, 1, "only failing checks have series: {text}");
        metrics.remove_namespace("tools");
        assert!(
            !metrics
                .encode()
                .contains("netposture_namespace_check_failing")
        );
    }

    #[test]
    fn removed_namespace_leaves_no_series() {
        let metrics = Metrics::new();
        metrics.set_namespace("shop", &posture(true, &[], 0));
        metrics.set_namespace("gone", &posture(false, &["pod/x"], 0));
        metrics.remove_namespace("gone");
        let text = metrics.encode();
        assert!(!text.contains(r#"namespace="gone""#), "{text}");
        assert!(text.contains(r#"netposture_namespace_covered{namespace="shop"} 1"#));
        let lines = samples(&text);
        assert!(lines.contains(&r#"netposture_namespaces{covered="true"} 1"#));
        assert!(lines.contains(&r#"netposture_namespaces{covered="false"} 0"#));

        metrics.remove_namespace("shop");
        let text = metrics.encode();
        assert!(!text.contains("netposture_namespace_"), "{text}");
        let lines = samples(&text);
        assert!(lines.contains(&r#"netposture_namespaces{covered="true"} 0"#));
        assert!(lines.contains(&r#"netposture_namespaces{covered="false"} 0"#));
    }

    #[test]
    fn updating_a_namespace_replaces_its_series() {
        let metrics = Metrics::new();
        metrics.set_namespace("shop", &posture(false, &[], 0));
        metrics.set_namespace("shop", &posture(true, &[], 0));
        let text = metrics.encode();
        let covered: Vec<&str> = samples(&text)
            .into_iter()
            .filter(|l| l.starts_with("netposture_namespace_covered"))
            .collect();
        assert_eq!(
            covered,
            [r#"netposture_namespace_covered{namespace="shop"} 1"#]
        );
    }

    #[test]
    fn cni_info_appears_once_set_and_set_cni_replaces_it() {
        let metrics = Metrics::new();
        assert!(!metrics.encode().contains("netposture_cni"));
        metrics.set_cni(&cni("flannel", Capability::False));
        metrics.set_cni(&cni("calico+flannel", Capability::Unknown));
        let text = metrics.encode();
        let series: Vec<&str> = samples(&text)
            .into_iter()
            .filter(|l| l.starts_with("netposture_cni"))
            .collect();
        assert_eq!(
            series,
            [r#"netposture_cni_info{name="calico+flannel",capable="Unknown"} 1"#]
        );
        assert!(text.contains("# TYPE netposture_cni info\n"));
    }

    #[test]
    fn labelled_counters_count_each_label_set_apart() {
        let metrics = Metrics::new();
        metrics.report_write_failed("conflict");
        metrics.report_write_failed("conflict");
        metrics.report_write_failed("forbidden");
        metrics.event_published("CoverageLost");
        metrics.watch_event("Pod");
        metrics.watch_event("Pod");
        metrics.watch_error("NetworkPolicy", "forbidden");
        metrics.reconcile_error("api");
        metrics.report_written();
        metrics.report_deleted();
        let text = metrics.encode();
        let lines = samples(&text);
        for expected in [
            r#"netposture_report_write_errors_total{reason="conflict"} 2"#,
            r#"netposture_report_write_errors_total{reason="forbidden"} 1"#,
            r#"netposture_events_total{reason="CoverageLost"} 1"#,
            r#"netposture_watch_events_total{kind="Pod"} 2"#,
            r#"netposture_watch_errors_total{kind="NetworkPolicy",reason="forbidden"} 1"#,
            r#"netposture_reconcile_errors_total{reason="api"} 1"#,
            "netposture_report_writes_total 1",
            "netposture_report_deletes_total 1",
        ] {
            assert!(lines.contains(&expected), "missing {expected} in\n{text}");
        }
        assert!(text.contains("# TYPE netposture_watch_errors counter\n"));
    }

    #[test]
    fn policy_report_writes_are_counted_apart_from_report_writes() {
        let metrics = Metrics::new();
        metrics.policy_report_written();
        metrics.policy_report_write_failed("conflict");
        let text = metrics.encode();
        let lines = samples(&text);
        assert!(
            lines.contains(&"netposture_policy_report_writes_total 1"),
            "{text}"
        );
        assert!(
            lines.contains(&"netposture_report_writes_total 0"),
            "{text}"
        );
        assert!(
            lines.contains(&r#"netposture_policy_report_write_errors_total{reason="conflict"} 1"#),
            "{text}"
        );
        assert!(
            lines.contains(&r#"netposture_report_write_errors_total{reason="conflict"} 0"#),
            "{text}"
        );
    }

    #[test]
    fn operational_gauges_and_histogram_have_the_documented_names() {
        let metrics = Metrics::new();
        metrics.observe_evaluation(0.0003);
        metrics.full_evaluation_done();
        metrics.set_store_objects("Pod", 42);
        metrics.set_watch_failing("Service", true);
        metrics.set_leader(true);
        let text = metrics.encode();
        let lines = samples(&text);
        for expected in [
            r#"netposture_watch_failing{kind="Service"} 1"#,
            "netposture_unevaluated_change_age_seconds 0.0",
            r#"netposture_evaluation_duration_seconds_bucket{le="0.0001"} 0"#,
            r#"netposture_evaluation_duration_seconds_bucket{le="0.0004"} 1"#,
            r#"netposture_evaluation_duration_seconds_bucket{le="+Inf"} 1"#,
            "netposture_evaluation_duration_seconds_count 1",
            r#"netposture_store_objects{kind="Pod"} 42"#,
            "netposture_leader 1",
        ] {
            assert!(lines.contains(&expected), "missing {expected} in\n{text}");
        }
        let timestamp: f64 = lines
            .iter()
            .find_map(|l| l.strip_prefix("netposture_last_full_evaluation_timestamp_seconds "))
            .expect("timestamp series")
            .parse()
            .unwrap();
        assert!(timestamp > 1.7e9, "{timestamp}");
    }

    #[test]
    fn error_counters_are_zero_before_the_first_error() {
        let metrics = Metrics::new();
        metrics.watch_started("Pod");
        let text = metrics.encode();
        for failure in Failure::ALL {
            let reason = failure.as_str();
            for series in [
                format!(r#"netposture_watch_errors_total{{kind="Pod",reason="{reason}"}} 0"#),
                format!(r#"netposture_report_write_errors_total{{reason="{reason}"}} 0"#),
                format!(r#"netposture_policy_report_write_errors_total{{reason="{reason}"}} 0"#),
            ] {
                assert!(text.contains(&series), "{series} missing:\n{text}");
            }
        }
    }

    #[test]
    fn exposition_is_well_formed_openmetrics() {
        let metrics = Metrics::new();
        metrics.set_namespace("shop", &posture(true, &[], 0));
        metrics.set_cni(&cni("cilium", Capability::True));
        metrics.observe_evaluation(0.01);
        metrics.watch_error("Pod", "timeout");
        metrics.set_store_objects("Namespace", 3);
        metrics.report_written();
        assert_well_formed(&metrics.encode());
    }

    /// The OpenMetrics text rules this exposition relies on: each family is
    /// declared once with HELP and TYPE before its samples, samples carry the
    /// family name plus a suffix allowed for its type, values are numbers,
    /// and `# EOF` ends the text.
    fn assert_well_formed(text: &str) {
        let body = text.strip_suffix("# EOF\n").expect("ends with # EOF");
        let mut declared = std::collections::BTreeSet::new();
        let mut family = String::new();
        let mut suffixes: &[&str] = &[];
        for line in body.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                let (name, text) = help.split_once(' ').expect("HELP has a text");
                assert!(!text.is_empty(), "{line}");
                assert!(declared.insert(name.to_string()), "{name} declared twice");
                family = name.to_string();
            } else if let Some(kind) = line.strip_prefix("# TYPE ") {
                let (name, kind) = kind.split_once(' ').expect("TYPE has a type");
                assert_eq!(name, family, "TYPE without HELP: {line}");
                suffixes = match kind {
                    "counter" => &["_total", "_created"],
                    "gauge" => &[""],
                    "info" => &["_info"],
                    "histogram" => &["_bucket", "_sum", "_count", "_created"],
                    other => panic!("unexpected type {other}"),
                };
            } else if let Some(unit) = line.strip_prefix("# UNIT ") {
                let (name, unit) = unit.split_once(' ').expect("UNIT has a unit");
                assert_eq!(name, family);
                assert!(name.ends_with(&format!("_{unit}")), "{line}");
            } else {
                assert!(!line.starts_with('#'), "unexpected comment {line}");
                let (series, value) = line.rsplit_once(' ').expect("sample has a value");
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value: {line}"));
                let name = series.split('{').next().unwrap_or_default();
                assert!(
                    suffixes.iter().any(|s| name == format!("{family}{s}")),
                    "{name} does not belong to {family}"
                );
                if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                }
            }
        }
    }
}
