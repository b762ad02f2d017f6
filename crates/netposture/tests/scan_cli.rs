//! Runs the real `netposture` binary on the bundled examples and on bad
//! input: verdicts, output formats, exit codes.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{netposture, repo};
use serde_json::Value;

fn scan_json(dir: &str) -> Vec<Value> {
    let path = repo(dir);
    let out = netposture(&["scan", "-f", path.to_str().unwrap(), "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(list["kind"], "List");
    list["items"].as_array().unwrap().clone()
}

fn status<'a>(items: &'a [Value], namespace: &str) -> &'a Value {
    let item = items
        .iter()
        .find(|i| i["metadata"]["name"] == namespace)
        .unwrap_or_else(|| panic!("report for {namespace}"));
    assert_eq!(item["apiVersion"], "netposture.io/v1alpha1");
    assert_eq!(item["kind"], "NetworkPostureReport");
    &item["status"]
}

#[test]
fn example_cluster_verdicts_match_each_seed_situation() {
    let items = scan_json("examples/cluster");
    let shop = status(&items, "shop");
    assert_eq!(
        shop["covered"], true,
        "three-tier app with default deny: {shop}"
    );
    assert_eq!(shop["egressOpen"], false);

    let payments = status(&items, "payments");
    assert_eq!(payments["covered"], true);
    assert_eq!(
        payments["egressOpen"], true,
        "HTTPS to 0.0.0.0/0 minus private ranges is open"
    );

    let dev = status(&items, "dev");
    assert_eq!(dev["defaultDenyIngress"], false);
    assert_eq!(dev["defaultDenyEgress"], false);
    assert_eq!(dev["egressOpen"], true);
    assert_eq!(dev["unprotectedPods"].as_array().unwrap().len(), 3);
    let check = |status: &Value, id: &str| {
        status["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id} check"))
            .clone()
    };
    assert_eq!(
        check(dev, "ingress-tls")["evidence"][0],
        "ingress/docs: host docs.dev.example.com without TLS"
    );
    assert_eq!(
        check(dev, "ingress-backends")["evidence"][0],
        "ingress/docs -> service/docs:http -> pod/deployment/docs: no ingress policy selects it"
    );

    let monitoring = status(&items, "monitoring");
    assert_eq!(monitoring["covered"], false);
    assert_eq!(monitoring["pods"]["hostNetwork"], 1);
    assert_eq!(monitoring["unprotectedPods"][0], "daemonset/node-exporter");
    assert_eq!(
        check(monitoring, "host-ports")["evidence"][0],
        "pod/daemonset/statsd: hostPort 8125/UDP"
    );

    let analytics = status(&items, "analytics");
    assert_eq!(analytics["defaultDenyEgress"], true);
    assert_eq!(
        analytics["dnsAllowed"], false,
        "DNS rule misses kube-system's labels"
    );

    assert_eq!(shop["cni"]["name"], "calico");
    assert_eq!(shop["cni"]["capable"], "True");
}

#[test]
fn flannel_cluster_is_never_covered_even_with_textbook_policies() {
    let items = scan_json("examples/flannel-cluster");
    let web = status(&items, "web");
    assert_eq!(web["defaultDenyIngress"], true);
    assert_eq!(web["dnsAllowed"], true);
    assert_eq!(web["cni"]["capable"], "False");
    assert_eq!(web["covered"], false);
    let covered = web["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Covered")
        .unwrap();
    assert_eq!(covered["reason"], "CniNotEnforcing");
}

#[test]
fn fail_on_names_the_exposure_findings_of_the_examples() {
    let path = repo("examples/cluster");
    let out = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "--fail-on",
        "host-ports,ingress-without-tls,ingress-backends-open,dashboard-exposed,mtls-not-strict",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "fail-on: monitoring: host-ports",
        "fail-on: dev: ingress-without-tls",
        "fail-on: dev: ingress-backends-open",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    assert!(!stderr.contains("dashboard-exposed"), "{stderr}");
    assert!(!stderr.contains("mtls-not-strict"), "no Istio: {stderr}");
    assert!(!stderr.contains("shop:"), "{stderr}");
}

#[test]
fn fail_on_exits_1_and_names_namespace_and_condition() {
    let path = repo("examples/cluster");
    let out = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "--fail-on",
        "dns-blocked",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fail-on: analytics: dns-blocked"),
        "{stderr}"
    );
    assert!(!stderr.contains("shop: dns-blocked"), "{stderr}");

    let shop_only = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "-n",
        "shop",
        "--fail-on",
        "uncovered,egress-open",
        "--min-score",
        "100",
    ]);
    assert_eq!(
        shop_only.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&shop_only.stderr)
    );
}

#[test]
fn table_output_has_kubectl_like_columns() {
    let path = repo("examples/cluster");
    let out = netposture(&["scan", "-f", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let header: Vec<&str> = stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "COVERED",
            "DENY-IN",
            "DENY-OUT",
            "EGRESS-OPEN",
            "DNS",
            "CNI",
            "SCORE",
            "PODS",
            "UNPROTECTED"
        ]
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("shop ") && l.contains(" true ")),
        "{stdout}"
    );
}

#[test]
fn yaml_syntax_error_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [oops\n",
    )
    .unwrap();
    let out = netposture(&["scan", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml:5:"), "{stderr}");
    assert!(out.stdout.is_empty(), "no results on error");
}

#[test]
fn missing_file_and_unknown_namespace_exit_2() {
    assert_eq!(
        netposture(&["scan", "-f", "/nonexistent/x.yaml"])
            .status
            .code(),
        Some(2)
    );
    let path = repo("examples/cluster");
    let out = netposture(&["scan", "-f", path.to_str().unwrap(), "-n", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The stderr lines about endPort of `scan -f` on a file holding `manifest`.
fn end_port_notes(manifest: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policies.yaml");
    std::fs::write(&file, manifest).unwrap();
    let out = netposture(&["scan", "-f", file.to_str().unwrap()]);
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("endPort"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_port_range_through_end_port_is_noted_as_dropped_by_old_servers() {
    let notes = end_port_notes(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: range, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}, {port: 8000, endPort: 8080}]}]}\n",
    );
    assert_eq!(
        notes,
        [
            "note: networkpolicy a/range egress[0] admits 8000-8080/TCP through endPort, which API servers before 1.21 drop: there it admits port 8000 alone, and a live scan differs"
        ]
    );
}

#[test]
fn many_end_port_rules_are_noted_a_few_by_name_and_the_rest_counted() {
    let policies: Vec<String> = (0..25)
        .map(|i| format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: range-{i:02}, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Egress], egress: [{{ports: [{{port: 8000, endPort: 8080}}]}}]}}\n"))
        .collect();
    let notes = end_port_notes(&policies.join("---\n"));
    assert_eq!(notes.len(), 11, "{notes:?}");
    assert!(notes[0].starts_with("note: networkpolicy a/range-00 egress[0] admits 8000-8080/TCP"));
    assert!(notes[9].starts_with("note: networkpolicy a/range-09 "));
    assert_eq!(
        notes[10],
        "note: and 15 more policy rules with endPort, with the same caveat"
    );
}

#[test]
fn stdin_list_with_an_invalid_policy_reports_a_finding_and_keeps_going() {
    let list = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bad","namespace":"a"},
       "spec":{"podSelector":{},"ingress":[{"ports":[{"port":"http","endPort":90}]}]}},
      {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"a"},
       "spec":{"podSelector":{},"policyTypes":["Egress"]}}]}"#;
    let mut child = Command::new(env!("CARGO_BIN_EXE_netposture"))
        .args([
            "scan",
            "-f",
            "-",
            "-o",
            "json",
            "--fail-on",
            "invalid-objects",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NetworkPolicy a/bad is left out"),
        "{stderr}"
    );
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = status(items["items"].as_array().unwrap(), "a");
    assert_eq!(a["defaultDenyEgress"], true);
    assert_eq!(
        a["defaultDenyIngress"], false,
        "the rejected policy does not count"
    );
}

#[test]
fn bad_config_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "dns:\n  podSelectr: {}\n").unwrap();
    let path = repo("examples/cluster");
    let out = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("podSelectr"));
}

#[test]
fn cni_flag_overrides_detection() {
    let path = repo("examples/flannel-cluster");
    let out = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "-o",
        "json",
        "--cni",
        "calico",
    ]);
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    let web = status(items["items"].as_array().unwrap(), "web");
    assert_eq!(web["cni"]["capable"], "True");
    assert_eq!(web["covered"], true);
}

#[test]
fn install_manifests_pass_their_own_checks() {
    let deploy = repo("deploy");
    let out = netposture(&[
        "scan",
        "-f",
        deploy.to_str().unwrap(),
        "--cni",
        "calico",
        "-n",
        "netposture-system",
        "--fail-on",
        "uncovered,egress-open,dns-blocked,unprotected-pods,invalid-objects",
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = &list["items"][0]["status"];
    assert_eq!(status["covered"], true, "{status}");
    // The Deployment's pod template stands in for the operator's pods.
    assert_eq!(status["pods"]["total"], 1, "{status}");
}

#[test]
fn compliance_summary_lists_each_control_with_failing_namespaces() {
    let path = repo("examples/cluster");
    let out = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "--compliance",
        "cis",
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(summary["framework"], "cis");
    let controls = summary["controls"].as_array().unwrap();
    let policies = controls
        .iter()
        .find(|c| c["control"] == "CIS 5.3.2")
        .expect("CIS 5.3.2 is listed");
    assert_eq!(
        policies["status"], "Fail",
        "dev has no default deny: {policies}"
    );
    assert!(
        policies["failingExamples"]
            .as_array()
            .unwrap()
            .contains(&Value::from("dev")),
        "{policies}"
    );

    let table = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "--compliance",
        "pci-dss",
    ]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("CONTROL"), "{text}");
    assert!(text.contains("PCI-DSS 1.3.1"), "{text}");
}

#[test]
fn unknown_compliance_framework_is_a_usage_error() {
    let path = repo("examples/cluster");
    let out = netposture(&[
        "scan",
        "-f",
        path.to_str().unwrap(),
        "--compliance",
        "hipaa",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pci-dss"));
}
