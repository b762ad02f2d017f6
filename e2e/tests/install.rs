//! What an install gives people besides the operator: reports readable
//! through the built-in roles or `netposture-view`, `kubectl explain` on the
//! report's fields, and the binary as a kubectl plugin.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

use netposture_e2e::{
    TestNamespace, admin_kubeconfig, eventually, install, kubectl, kubectl_ok, operator_binary,
    repo_root,
};
use std::process::Command;
use std::time::Duration;

/// `kubectl auth can-i VERB networkpostures` as a ServiceAccount.
fn can(account: &str, verb: &str) -> bool {
    let out = kubectl(&[
        "auth",
        "can-i",
        verb,
        "networkpostures.netposture.io",
        &format!("--as={account}"),
    ]);
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

fn service_account_bound_to(namespace: &str, account: &str, cluster_role: &str) -> String {
    kubectl_ok(&["-n", namespace, "create", "serviceaccount", account]);
    kubectl_ok(&[
        "create",
        "clusterrolebinding",
        &format!("{namespace}-{account}"),
        &format!("--clusterrole={cluster_role}"),
        &format!("--serviceaccount={namespace}:{account}"),
    ]);
    format!("system:serviceaccount:{namespace}:{account}")
}

#[test]
fn people_read_reports_through_netposture_view_and_the_built_in_view_role() {
    install();
    let ns = TestNamespace::new("readers");
    let reader = service_account_bound_to(&ns.name, "reader", "netposture-view");
    let viewer = service_account_bound_to(&ns.name, "viewer", "view");
    let nobody = format!("system:serviceaccount:{}:nobody", ns.name);

    for verb in ["get", "list", "watch"] {
        assert!(can(&reader, verb), "netposture-view cannot {verb}");
    }
    for verb in ["create", "update", "patch", "delete"] {
        assert!(!can(&reader, verb), "netposture-view may {verb}");
    }
    assert!(!can(&nobody, "list"), "an unbound account may list reports");
    // kube-controller-manager's aggregation controller copies the rule into
    // the built-in role some time after the ClusterRole appears.
    eventually(
        "view aggregates netposture-view",
        Duration::from_secs(30),
        || can(&viewer, "list").then_some(()),
    );
    assert!(!can(&viewer, "update"), "view may update reports");
    for role in ["view", "admin"] {
        let rules = kubectl_ok(&["get", "clusterrole", role, "-o", "jsonpath={.rules}"]);
        assert!(rules.contains("networkpostures"), "{role}: {rules}");
    }
    for account in ["reader", "viewer"] {
        kubectl(&[
            "delete",
            "clusterrolebinding",
            &format!("{}-{account}", ns.name),
        ]);
    }
}

#[test]
fn kubectl_explain_shows_the_status_fields() {
    install();
    // The API server publishes a new CRD's OpenAPI a few seconds after it is
    // established.
    let text = eventually(
        "kubectl explain networkposture.status",
        Duration::from_secs(60),
        || {
            let out = kubectl(&["explain", "networkposture.status"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (out.status.success() && text.contains("FIELDS")).then_some(text)
        },
    );
    for field in [
        "covered",
        "defaultDenyIngress",
        "dnsAllowed",
        "checks",
        "score",
    ] {
        assert!(text.contains(field), "{field} missing:\n{text}");
    }
    let text = kubectl_ok(&["explain", "networkposture.status.checks"]);
    assert!(text.contains("remediation"), "{text}");
}

#[test]
fn the_binary_works_as_a_kubectl_plugin() {
    let bin_dir = tempfile_dir();
    std::os::unix::fs::symlink(operator_binary(), bin_dir.join("kubectl-netposture")).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl_in = |args: &[&str]| {
        Command::new("kubectl")
            .env("PATH", &path)
            .env("KUBECONFIG", admin_kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs")
    };

    let listed = kubectl_in(&["plugin", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("kubectl-netposture"),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let examples = repo_root().join("examples/cluster");
    let scan = kubectl_in(&["netposture", "scan", "-f", examples.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&scan.stdout);
    assert!(
        scan.status.success() && text.contains("analytics") && text.contains("shop"),
        "{text}{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    // Against the live cluster, with kubectl's kubeconfig.
    let live = kubectl_in(&["netposture", "scan", "-n", "kube-system"]);
    assert!(
        String::from_utf8_lossy(&live.stdout).contains("kube-system"),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    std::fs::remove_dir_all(bin_dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netposture-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
