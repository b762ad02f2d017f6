//! The same objects get the same verdict from `scan -f` of their manifests
//! and from a scan of the live cluster holding them: a Pod without an IP
//! yet (the suite's control plane schedules nothing) against the workload
//! template it comes from, and the endPort this v1.20 API server drops.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

use std::process::{Command, Output};

use netposture_e2e::*;
use serde_json::Value;

/// DNS egress only through `ipBlock: 0.0.0.0/0`.
const DNS_THROUGH_IP_BLOCK: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-anywhere, namespace: NAMESPACE}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
";

/// The manifest's workload: its template stands for `WEB_POD` offline.
const WEB_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NAMESPACE}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
";

/// A Node giving the cluster its pod CIDRs (no kubelet runs here).
const NODE: &str = "apiVersion: v1
kind: Node
metadata: {name: e2e-same-verdict}
spec: {podCIDRs: [10.244.0.0/16]}
";

fn netposture(args: &[&str]) -> Output {
    Command::new(operator_binary())
        .args(args)
        .env("KUBECONFIG", admin_kubeconfig())
        .output()
        .expect("netposture runs")
}

fn write_manifest(namespace: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("netposture-e2e-{namespace}.yaml"));
    std::fs::write(&path, text.replace("NAMESPACE", namespace)).unwrap();
    path
}

/// The status of check `id` of `namespace` in `scan -o json` output.
fn check_status(scan: &Output, namespace: &str, id: &str) -> String {
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let list: Value = serde_json::from_slice(&scan.stdout).unwrap();
    let report = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metadata"]["name"] == namespace)
        .unwrap_or_else(|| panic!("no report of {namespace}"));
    let check = report["status"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"));
    check["status"].as_str().unwrap().to_string()
}

#[test]
fn dns_through_an_ip_block_gets_one_verdict_from_manifests_and_live() {
    apply(NODE);
    let ns = TestNamespace::new("e2e-same-verdict");
    ns.apply(&format!("{WEB_POD}---\n{DNS_THROUGH_IP_BLOCK}"));
    let manifest = write_manifest(
        &ns.name,
        &format!("{WEB_DEPLOYMENT}---\n{DNS_THROUGH_IP_BLOCK}"),
    );
    let offline = netposture(&["scan", "-f", manifest.to_str().unwrap(), "-o", "json"]);
    let live = netposture(&["scan", "-o", "json"]);
    for id in ["dns-allowed", "dns-tcp-allowed"] {
        let (offline, live) = (
            check_status(&offline, &ns.name, id),
            check_status(&live, &ns.name, id),
        );
        assert_eq!(
            (id, offline.as_str()),
            (id, "Warn"),
            "CNI-dependent, not failing"
        );
        assert_eq!(offline, live, "{id}: manifests and live agree");
    }
    let _ = kubectl(&["delete", "node", "e2e-same-verdict"]);
}

#[test]
fn end_port_the_server_drops_is_noted_by_the_manifest_scan() {
    let ns = TestNamespace::new("e2e-end-port");
    let policy = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range, namespace: NAMESPACE}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 8000, endPort: 8080}]}]
";
    // kubectl of this version refuses the field itself; the server drops it.
    let applied = kubectl_with_input(
        &["apply", "--validate=false", "-f", "-"],
        Some(&policy.replace("NAMESPACE", &ns.name)),
    );
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let stored = kubectl_ok(&[
        "-n",
        &ns.name,
        "get",
        "networkpolicy",
        "range",
        "-o",
        "json",
    ]);
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored["spec"]["ingress"][0]["ports"][0],
        serde_json::json!({"port": 8000, "protocol": "TCP"}),
        "this v1.20 server drops endPort"
    );
    let manifest = write_manifest(&ns.name, policy);
    let offline = netposture(&["scan", "-f", manifest.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&offline.stderr);
    assert!(
        stderr.contains(&format!(
            "note: networkpolicy {}/range ingress[0] admits 8000-8080/TCP through endPort, which API servers before 1.21 drop",
            ns.name
        )),
        "{stderr}"
    );
}
