//! The alert rules and the dashboard in a real Prometheus that scrapes the
//! operator: alerts fire with the labels and annotations the rules promise and
//! resolve after the fix, and no dashboard panel stays empty. The rules' `for:`
//! durations are cut to 5 s in the copy Prometheus loads (e2e/prometheus.sh).

use std::time::Duration;

use netposture_e2e::prometheus::Prometheus;
use netposture_e2e::*;
use serde_json::Value;

const ALERT_DEADLINE: Duration = Duration::from_secs(60);

/// An enforcing CNI, so that a namespace with default deny and DNS is covered.
fn calico() {
    apply(CALICO_NODE);
}

fn covered_namespace(prefix: &str) -> TestNamespace {
    let ns = TestNamespace::new(prefix);
    ns.apply(WEB_POD);
    ns.apply(DENY_ALL);
    ns.apply(ALLOW_DNS);
    report_where(&ns.name, "covered", |r| {
        status_flag(r, "covered") == Some(true)
    });
    ns
}

fn scraped(prometheus: &Prometheus, promql: &str, want: f64) {
    eventually(
        &format!("Prometheus to see {promql} == {want}"),
        ALERT_DEADLINE,
        || {
            prometheus
                .query(promql)
                .first()
                .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok())
                .filter(|v| *v == want)
                .map(|_| ())
        },
    );
}

fn firing(prometheus: &Prometheus, alert: &str, labels: &[(&str, &str)]) -> Value {
    eventually(
        &format!("{alert} {labels:?} to fire"),
        ALERT_DEADLINE,
        || prometheus.firing(alert, labels),
    )
}

fn resolved(prometheus: &Prometheus, alert: &str, labels: &[(&str, &str)]) {
    eventually(
        &format!("{alert} {labels:?} to resolve"),
        ALERT_DEADLINE,
        || prometheus.alerts(alert, labels).is_empty().then_some(()),
    );
}

fn delete_policy(ns: &TestNamespace, name: &str) {
    kubectl_ok(&["-n", &ns.name, "delete", "networkpolicy", name]);
}

#[test]
fn uncovered_and_dns_alerts_fire_and_resolve() {
    install();
    calico();
    let operator = Operator::start_leading("prometheus-alerts");
    let prometheus = Prometheus::start(&[operator.metrics_port]);
    let ns = covered_namespace("e2e-alerts");
    let labels = [("namespace", ns.name.as_str())];
    scraped(
        &prometheus,
        &format!("netposture_namespace_covered{{namespace=\"{}\"}}", ns.name),
        1.0,
    );
    assert!(
        prometheus
            .alerts("NetpostureNamespaceUncovered", &labels)
            .is_empty()
    );

    // The namespace loses its default deny.
    delete_policy(&ns, "default-deny");
    let alert = firing(&prometheus, "NetpostureNamespaceUncovered", &labels);
    assert_eq!(alert["labels"]["severity"], "warning", "{alert}");
    let summary = alert["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(&ns.name), "{alert}");
    let runbook = alert["annotations"]["runbook_url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        runbook.ends_with("docs/alerts.md#netposturenamespaceuncovered"),
        "{alert}"
    );
    ns.apply(DENY_ALL);
    resolved(&prometheus, "NetpostureNamespaceUncovered", &labels);

    // DNS breaks: default deny egress stays, the DNS rule goes.
    delete_policy(&ns, "allow-dns");
    let alert = firing(&prometheus, "NetpostureDnsBlocked", &labels);
    assert!(
        alert["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("#netposturednsblocked")),
        "{alert}"
    );
    ns.apply(ALLOW_DNS);
    resolved(&prometheus, "NetpostureDnsBlocked", &labels);
    operator.assert_no_panic();
}

#[test]
fn operator_down_alert_fires_when_the_operator_stops() {
    install();
    let mut operator = Operator::start_leading("prometheus-down");
    let prometheus = Prometheus::start(&[operator.metrics_port]);
    scraped(&prometheus, "max(netposture_leader)", 1.0);
    // Pending from before the first scrape until the rules see the leader.
    resolved(&prometheus, "NetpostureOperatorDown", &[]);

    operator.terminate();
    let alert = firing(&prometheus, "NetpostureOperatorDown", &[]);
    assert_eq!(alert["labels"]["severity"], "critical", "{alert}");
}

/// Each panel's queries with the dashboard's variables as Grafana fills them
/// for "All" over the last minute.
fn dashboard_queries() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(repo_root().join("deploy/grafana/netposture-dashboard.json"))
            .expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut queries = Vec::new();
    let mut panels: Vec<&Value> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    while let Some(panel) = panels.pop() {
        panels.extend(panel["panels"].as_array().into_iter().flatten());
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let expr = expr
                    .replace("$namespace", ".*")
                    .replace("$__rate_interval", "1m");
                queries.push((panel["title"].as_str().unwrap_or("?").to_string(), expr));
            }
        }
    }
    queries
}

#[test]
fn every_dashboard_panel_shows_data_for_a_populated_cluster() {
    install();
    calico();
    let operator = Operator::start_leading("prometheus-dashboard");
    let prometheus = Prometheus::start(&[operator.metrics_port]);
    let _covered = covered_namespace("e2e-dash-covered");
    let open = TestNamespace::new("e2e-dash-open");
    open.apply(WEB_POD);
    report_where(&open.name, "not covered", |r| {
        status_flag(r, "covered") == Some(false)
    });

    let queries = dashboard_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    // Rates need two scrapes in their window: poll until every query has
    // answered at least once, then name the panels that never did.
    let mut empty: Vec<(String, String)> = queries;
    let deadline = std::time::Instant::now() + ALERT_DEADLINE;
    while !empty.is_empty() && std::time::Instant::now() < deadline {
        empty.retain(|(_, expr)| prometheus.query(expr).is_empty());
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(empty.is_empty(), "panels without data: {empty:#?}");
    // The namespace variable lists the namespaces.
    let namespaces = prometheus.query("count(max by (namespace) (netposture_namespace_covered))");
    assert!(!namespaces.is_empty());
}
