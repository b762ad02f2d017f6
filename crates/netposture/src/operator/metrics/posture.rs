//! The posture series (per namespace and for the cluster's CNI), written at
//! scrape time from one shared table by [`PostureCollector`]: a namespace
//! that leaves the table leaves the output, so no stale series can outlive
//! it. The collector writes whole names (`netposture_namespace_...`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use netposture_engine::compliance::{self, CONTROLS};
use netposture_engine::posture::ids;
use netposture_engine::{CheckStatus, CniStatus, NamespacePosture};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The posture table behind the posture series.
pub struct PostureMetrics {
    table: Arc<RwLock<PostureTable>>,
}

impl PostureMetrics {
    /// Registers the collector on `registry`, which must have no prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let table = Arc::new(RwLock::new(PostureTable::default()));
        registry.register_collector(Box::new(PostureCollector(Arc::clone(&table))));
        PostureMetrics { table }
    }

    pub fn set_namespace(&self, namespace: &str, posture: &NamespacePosture) {
        let summary = NamespaceSummary::from(posture);
        self.write()
            .namespaces
            .insert(namespace.to_string(), summary);
    }

    pub fn remove_namespace(&self, namespace: &str) {
        self.write().namespaces.remove(namespace);
    }

    pub fn set_cni(&self, cni: &CniStatus) {
        self.write().cni = Some(CniLabels {
            name: cni.name.clone(),
            capable: cni.capable.as_str(),
        });
    }

    /// The table stays usable after a panic elsewhere: each write replaces
    /// whole entries, so a poisoned lock cannot hold a half-written one.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, PostureTable> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
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
