//! The alert rules and the Grafana dashboard in deploy/ against the metrics
//! this operator really exports: every PromQL expression parses (promtool)
//! and names only exported series, and the alert tests pass.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::metrics::Metrics;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

fn yaml(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Every sample name the operator can export, with all families populated.
fn exported_names() -> BTreeSet<String> {
    let metrics = Metrics::new();
    let mut cluster = netposture_engine::Cluster::default();
    cluster.apply_namespace(
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "a"}})).unwrap(),
    );
    let settings = netposture_engine::Settings::default();
    let evaluator = netposture_engine::Evaluator::new(&cluster, &settings);
    metrics
        .posture
        .set_namespace("a", &evaluator.namespace("a").unwrap());
    metrics.posture.set_cni(evaluator.cni());
    metrics.reconciles.observe_evaluation(0.001);
    metrics.reports.written();
    metrics.reports.deleted();
    metrics.reports.write_failed("forbidden");
    metrics.reports.policy_report_written();
    metrics.reports.policy_report_write_failed("forbidden");
    metrics.reports.event_published("CoverageLost");
    metrics.watches.event("Pod");
    metrics.watches.error("Pod", "forbidden");
    metrics.reconciles.error("conflict");
    metrics.reconciles.full_evaluation_done();
    metrics.watches.set_store_objects("Pod", 1);
    metrics.watches.set_failing("Pod", false);
    metrics.set_leader(true);
    metrics
        .encode()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("netposture_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn rule_expressions() -> Vec<String> {
    yaml("prometheus/rules.yaml")["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["expr"].as_str().unwrap().to_string())
        .collect()
}

fn dashboard_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(deploy("grafana/netposture-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().iter())
        .map(|target| target["expr"].as_str().unwrap().to_string())
        .collect()
}

fn promtool(args: &[&str]) -> std::process::Output {
    Command::new("promtool").args(args).output().unwrap_or_else(|e| {
        panic!("promtool is needed for this test (Debian package prometheus; scripts/bootstrap installs it): {e}")
    })
}

#[test]
fn every_expression_names_only_exported_metrics() {
    let exported = exported_names();
    assert!(
        exported.contains("netposture_namespace_covered"),
        "{exported:?}"
    );
    for expr in rule_expressions().iter().chain(&dashboard_expressions()) {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr} uses no netposture metric");
        for name in names {
            assert!(
                exported.contains(&name),
                "{name} in `{expr}` is not exported; exported: {exported:?}"
            );
        }
    }
}

#[test]
fn dashboard_expressions_parse_as_promql() {
    // promtool parses rule files only, so each expression becomes a recording
    // rule, with Grafana's variables replaced by values they can take.
    let rules: Vec<serde_json::Value> = dashboard_expressions()
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$namespace", ".*");
            serde_json::json!({"record": format!("dashboard:expr_{i}"), "expr": expr})
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    let groups = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(file.path(), serde_json::to_string(&groups).unwrap()).unwrap();
    let out = promtool(&["check", "rules", file.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_parse_and_their_promtool_tests_pass() {
    let out = promtool(&[
        "check",
        "rules",
        deploy("prometheus/rules.yaml").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tests = deploy("prometheus/tests/alerts-test.yaml");
    let out = promtool(&["test", "rules", tests.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_rule_object_carries_the_tested_rules() {
    let object = yaml("prometheus/prometheusrule.yaml");
    assert_eq!(
        object["spec"]["groups"],
        yaml("prometheus/rules.yaml")["groups"]
    );
}

#[test]
fn every_alert_has_summary_description_and_a_documented_runbook() {
    let runbooks = std::fs::read_to_string(deploy("../docs/alerts.md")).unwrap();
    for rule in yaml("prometheus/rules.yaml")["groups"][0]["rules"]
        .as_array()
        .unwrap()
    {
        let name = rule["alert"].as_str().unwrap();
        let annotations = &rule["annotations"];
        assert!(
            annotations["summary"].is_string() && annotations["description"].is_string(),
            "{name}"
        );
        let anchor = format!("#{}", name.to_ascii_lowercase());
        assert!(
            annotations["runbook_url"]
                .as_str()
                .unwrap()
                .ends_with(&anchor),
            "{name}"
        );
        assert!(
            runbooks.contains(&format!("## {name}")),
            "docs/alerts.md has no section for {name}"
        );
    }
}
