//! The install manifests build with kustomize as the README says to apply
//! them (no cluster needed; the e2e install also dry-runs them on the server).
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

use netposture_e2e::repo_root;
use std::process::Command;

fn kinds(dir: &str) -> Vec<String> {
    let out = Command::new("kubectl")
        .args(["kustomize", repo_root().join(dir).to_str().unwrap()])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut kinds: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .map(str::to_string)
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn install_builds_with_everything_the_operator_needs() {
    let kinds = kinds("deploy");
    for kind in [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "CustomResourceDefinition",
        "Deployment",
        "Namespace",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    assert!(!kinds.iter().any(|k| k == "PrometheusRule"), "{kinds:?}");
}

#[test]
fn prometheus_variant_adds_scraping_and_alerts() {
    let kinds = kinds("deploy/with-prometheus");
    for kind in ["ServiceMonitor", "PrometheusRule", "Deployment"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
}

#[test]
fn grafana_dashboard_is_a_labelled_config_map() {
    let out = Command::new("kubectl")
        .args([
            "kustomize",
            repo_root().join("deploy/grafana").to_str().unwrap(),
        ])
        .output()
        .expect("kubectl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("grafana_dashboard: \"1\""), "{text}");
    assert!(text.contains("netposture-dashboard.json"), "{text}");
}
