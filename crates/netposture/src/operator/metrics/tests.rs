//! The exposition as Prometheus, the rules and the dashboard read it:
//! names, labels and types, per component.

use netposture_engine::posture::ids;
use netposture_engine::{Capability, CheckStatus, CniStatus, NamespacePosture, PodCounts};

use super::*;
use crate::operator::failure::Failure;

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
    metrics
        .posture
        .set_namespace("shop", &posture(false, &["pod/a", "pod/b"], 3));
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
    metrics.posture.set_namespace("open", &open);
    metrics.posture.set_namespace("other", &open);
    metrics
        .posture
        .set_namespace("closed", &posture(true, &[], 0));
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
    metrics.posture.set_namespace("tools", &exposed);
    metrics
        .posture
        .set_namespace("shop", &posture(true, &[], 0));
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
    metrics
        .posture
        .set_namespace("shop", &posture(true, &[], 0));
    metrics
        .posture
        .set_namespace("gone", &posture(false, &["pod/x"], 0));
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
    metrics
        .posture
        .set_namespace("shop", &posture(false, &[], 0));
    metrics
        .posture
        .set_namespace("shop", &posture(true, &[], 0));
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
    metrics.posture.set_cni(&cni("flannel", Capability::False));
    metrics
        .posture
        .set_cni(&cni("calico+flannel", Capability::Unknown));
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
    metrics.reports.write_failed("conflict");
    metrics.reports.write_failed("conflict");
    metrics.reports.write_failed("forbidden");
    metrics.reports.event_published("CoverageLost");
    metrics.watches.event("Pod");
    metrics.watches.event("Pod");
    metrics.watches.error("NetworkPolicy", "forbidden");
    metrics.reconciles.error("api");
    metrics.reports.written();
    metrics.reports.deleted();
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
    metrics.reports.policy_report_written();
    metrics.reports.policy_report_write_failed("conflict");
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
    metrics.reconciles.observe_evaluation(0.0003);
    metrics.reconciles.full_evaluation_done();
    metrics.watches.set_store_objects("Pod", 42);
    metrics.watches.set_failing("Service", true);
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
    metrics.watches.started("Pod");
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
    metrics
        .posture
        .set_namespace("shop", &posture(true, &[], 0));
    metrics.posture.set_cni(&cni("cilium", Capability::True));
    metrics.reconciles.observe_evaluation(0.01);
    metrics.watches.error("Pod", "timeout");
    metrics.watches.set_store_objects("Namespace", 3);
    metrics.reports.written();
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

#[test]
fn reconciles_are_counted_by_result_and_timed() {
    let metrics = Metrics::new();
    let before = metrics.encode();
    for zero in [
        r#"netposture_reconcile_total{result="success"} 0"#,
        r#"netposture_reconcile_total{result="error"} 0"#,
    ] {
        assert!(
            samples(&before).contains(&zero),
            "missing {zero} in\n{before}"
        );
    }
    let mut succeeded = metrics.reconciles.start();
    succeeded.succeeded();
    drop(succeeded);
    // Dropped without success: an error, as a reconcile that returned early with one.
    drop(metrics.reconciles.start());
    drop(metrics.reconciles.start());
    let text = metrics.encode();
    let lines = samples(&text);
    for expected in [
        r#"netposture_reconcile_total{result="success"} 1"#,
        r#"netposture_reconcile_total{result="error"} 2"#,
        "netposture_reconcile_duration_seconds_count 3",
    ] {
        assert!(lines.contains(&expected), "missing {expected} in\n{text}");
    }
    assert!(text.contains("# TYPE netposture_reconcile_duration_seconds histogram\n"));
}
