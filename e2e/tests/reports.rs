//! Reports follow the cluster: creation, verdict changes, kubectl views,
//! metrics, deletion, restoration, and no writes without change.

use std::time::Duration;

use netposture_e2e::*;

fn remove_calico() {
    kubectl_ok(&[
        "-n",
        "kube-system",
        "delete",
        "pod",
        "calico-node-e2e",
        "--ignore-not-found",
    ]);
}

#[test]
fn report_follows_policies_dns_and_cni_until_covered() {
    install();
    remove_calico();
    let _operator = Operator::start_leading("reports-a");
    let ns = TestNamespace::new("e2e-verdicts");
    ns.apply(WEB_POD);

    let first = report_where(&ns.name, "not covered, no default deny", |r| {
        status_flag(r, "covered") == Some(false)
            && status_flag(r, "defaultDenyIngress") == Some(false)
    });
    assert_eq!(first["spec"]["namespace"], ns.name.as_str());
    let owner = &first["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str()),
        (Some("Namespace"), Some(ns.name.as_str()))
    );

    ns.apply(DENY_ALL);
    report_where(&ns.name, "default deny both ways, DNS blocked", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
            && status_flag(r, "defaultDenyEgress") == Some(true)
            && status_flag(r, "dnsAllowed") == Some(false)
    });

    ns.apply(ALLOW_DNS);
    report_where(&ns.name, "DNS allowed", |r| {
        status_flag(r, "dnsAllowed") == Some(true)
    });
    let not_yet = report(&ns.name).expect("report exists");
    assert_ne!(not_yet["status"]["cni"]["capable"], "True");
    assert_eq!(status_flag(&not_yet, "covered"), Some(false));

    apply(CALICO_NODE);
    report_where(&ns.name, "CNI capable and covered", |r| {
        r["status"]["cni"]["capable"] == "True" && status_flag(r, "covered") == Some(true)
    });
    kubectl_ok(&[
        "wait",
        &format!("networkposture/{}", ns.name),
        "--for=condition=Covered",
        "--timeout=20s",
    ]);

    // Gaining coverage is announced on the namespace.
    eventually("a CoverageGained event", Duration::from_secs(20), || {
        let events = kubectl_ok(&["-n", &ns.name, "get", "events.events.k8s.io", "-o", "json"]);
        events.contains("CoverageGained").then_some(())
    });
}

#[test]
fn kubectl_get_prints_the_printer_columns_under_both_names() {
    install();
    let _operator = Operator::start_leading("reports-b");
    let ns = TestNamespace::new("e2e-columns");
    report_where(&ns.name, "exists", |_| true);
    for resource in ["networkpostures", "npr"] {
        let table = kubectl_ok(&["get", resource, &ns.name]);
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            [
                "NAME",
                "COVERED",
                "DENY-IN",
                "DENY-OUT",
                "EGRESS-OPEN",
                "DNS",
                "CNI",
                "SCORE",
                "AGE"
            ],
            "{table}"
        );
        let row = table.lines().nth(1).unwrap();
        assert!(row.starts_with(&ns.name), "{table}");
        assert!(row.contains("false"), "{table}");
    }
}

#[test]
fn metrics_agree_with_reports_and_leave_with_the_namespace() {
    install();
    let operator = Operator::start_leading("reports-c");
    let ns = TestNamespace::new("e2e-metrics");
    ns.apply(WEB_POD);
    ns.apply(DENY_ALL);
    let written = report_where(&ns.name, "default deny", |r| {
        status_flag(r, "defaultDenyEgress") == Some(true)
    });
    let labels = [("namespace", ns.name.as_str())];
    eventually("metrics of the namespace", Duration::from_secs(20), || {
        operator
            .metric("netposture_namespace_pods", &labels)
            .filter(|v| *v == 1.0)
    });
    let status = &written["status"];
    let flag = |field: &str| if status[field] == true { 1.0 } else { 0.0 };
    assert_eq!(
        operator.metric("netposture_namespace_covered", &labels),
        Some(flag("covered"))
    );
    assert_eq!(
        operator.metric(
            "netposture_namespace_default_deny",
            &[("namespace", &ns.name), ("direction", "egress")]
        ),
        Some(flag("defaultDenyEgress"))
    );
    assert_eq!(
        operator.metric("netposture_namespace_egress_open", &labels),
        Some(flag("egressOpen"))
    );
    assert_eq!(
        operator.metric("netposture_namespace_dns_allowed", &labels),
        Some(flag("dnsAllowed"))
    );
    assert_eq!(
        operator.metric("netposture_namespace_score", &labels),
        status["score"].as_f64()
    );

    let name = ns.name.clone();
    drop(ns);
    eventually(
        "the report to be deleted with its namespace",
        Duration::from_secs(60),
        || report(&name).is_none().then_some(()),
    );
    eventually(
        "the namespace's series to disappear",
        Duration::from_secs(30),
        || {
            (!operator
                .metrics_text()
                .contains(&format!("namespace=\"{name}\"")))
            .then_some(())
        },
    );
}

#[test]
fn hand_edits_are_undone_and_an_unchanged_resync_writes_nothing() {
    install();
    let operator = Operator::start_leading("reports-d");
    let ns = TestNamespace::new("e2e-restore");
    ns.apply(DENY_ALL);
    report_where(&ns.name, "default deny", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });

    // Settle, then two resync periods (3 s each) must change no report.
    std::thread::sleep(Duration::from_secs(2));
    let writes = operator.metric("netposture_report_writes_total", &[]);
    let before = resource_versions();
    let full_passes_before =
        operator.metric("netposture_last_full_evaluation_timestamp_seconds", &[]);
    std::thread::sleep(Duration::from_secs(7));
    assert_ne!(
        operator.metric("netposture_last_full_evaluation_timestamp_seconds", &[]),
        full_passes_before,
        "a resync ran"
    );
    assert_eq!(
        resource_versions(),
        before,
        "no report changed across resyncs"
    );
    assert_eq!(
        operator.metric("netposture_report_writes_total", &[]),
        writes
    );

    kubectl_ok(&[
        "patch",
        "networkposture",
        &ns.name,
        "--type=merge",
        "--subresource=status",
        "-p",
        r#"{"status":{"defaultDenyIngress":false,"score":1}}"#,
    ]);
    report_where(&ns.name, "status restored", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true) && r["status"]["score"] != 1
    });
    kubectl_ok(&[
        "patch",
        "networkposture",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"namespace":"elsewhere"}}"#,
    ]);
    report_where(&ns.name, "spec restored", |r| {
        r["spec"]["namespace"] == ns.name.as_str()
    });
    kubectl_ok(&["delete", "networkposture", &ns.name]);
    report_where(&ns.name, "re-created after deletion", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });
}

#[test]
fn excluded_and_opted_out_namespaces_get_no_report() {
    install();
    let _operator = Operator::start_leading("reports-e");
    let ns = TestNamespace::new("e2e-optout");
    report_where(&ns.name, "exists", |_| true);
    kubectl_ok(&[
        "annotate",
        "namespace",
        &ns.name,
        "netposture.io/exclude=true",
    ]);
    eventually(
        "the report of an opted-out namespace to go",
        Duration::from_secs(30),
        || report(&ns.name).is_none().then_some(()),
    );
    kubectl_ok(&["annotate", "namespace", &ns.name, "netposture.io/exclude-"]);
    kubectl_ok(&[
        "annotate",
        "namespace",
        &ns.name,
        "netposture.io/accept=NoDefaultDenyIngress",
        "netposture.io/accept-reason=public demo",
    ]);
    let report = report_where(&ns.name, "back, with the accepted risk", |r| {
        r["status"]["acceptedRisks"][0]["reason"] == "public demo"
    });
    assert_eq!(
        report["status"]["acceptedRisks"][0]["risk"],
        "NoDefaultDenyIngress"
    );
}

fn policy_report_rule(namespace: &str, rule: &str) -> Option<String> {
    let output = kubectl(&[
        "-n",
        namespace,
        "get",
        "policyreports.wgpolicyk8s.io",
        "netposture",
        "-o",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    report["results"]
        .as_array()?
        .iter()
        .find(|r| r["rule"] == rule)
        .and_then(|r| r["result"].as_str().map(str::to_string))
}

#[test]
fn policy_reports_appear_with_their_crd_and_follow_the_verdicts() {
    install();
    let crd = repo_root().join("e2e/fixtures/policyreport-crd.yaml");
    let crd = crd.to_str().unwrap();
    let _ = kubectl(&["delete", "-f", crd, "--ignore-not-found"]);
    let operator = Operator::start_leading_with("reports-polr", &["--policy-reports"]);
    let ns = TestNamespace::new("e2e-polr");
    report_where(&ns.name, "exists", |_| true);

    kubectl_ok(&["apply", "-f", crd]);
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/policyreports.wgpolicyk8s.io",
        "--timeout=30s",
    ]);
    eventually(
        "a PolicyReport once the CRD exists",
        Duration::from_secs(30),
        || {
            (policy_report_rule(&ns.name, "default-deny-ingress").as_deref() == Some("fail"))
                .then_some(())
        },
    );
    ns.apply(DENY_ALL);
    eventually(
        "the PolicyReport to follow the verdict",
        Duration::from_secs(30),
        || {
            (policy_report_rule(&ns.name, "default-deny-ingress").as_deref() == Some("pass"))
                .then_some(())
        },
    );
    assert!(
        !operator.log().contains("could not write PolicyReport"),
        "{}",
        operator.log()
    );
    // PolicyReports have their own counter: report writes count NetworkPostureReports only.
    assert!(
        operator
            .metric("netposture_policy_report_writes_total", &[])
            .is_some_and(|writes| writes >= 2.0),
        "{}",
        operator.metrics_text()
    );
    kubectl_ok(&["delete", "-f", crd]);
}

/// Check `id` of a report's status.
fn report_check<'a>(report: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    report["status"]["checks"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
}

fn check_status<'a>(report: &'a serde_json::Value, id: &str) -> Option<&'a str> {
    report_check(report, id)?["status"].as_str()
}

#[test]
fn node_port_service_fails_the_exposure_check_until_a_default_deny_guards_its_pods() {
    install();
    let _operator = Operator::start_leading("reports-f");
    let ns = TestNamespace::new("e2e-exposure");
    ns.apply(WEB_POD);
    report_where(&ns.name, "no exposed Service yet", |r| {
        check_status(r, "exposed-services") == Some("NotApplicable")
    });

    ns.apply(WEB_NODE_PORT);
    let exposed = report_where(&ns.name, "the NodePort exposes an unisolated pod", |r| {
        check_status(r, "exposed-services") == Some("Fail")
    });
    assert_eq!(
        report_check(&exposed, "exposed-services").unwrap()["evidence"][0],
        "service/web (NodePort) -> pod/web: no ingress policy selects it"
    );

    ns.apply(DENY_ALL);
    report_where(&ns.name, "the default deny guards the exposed pod", |r| {
        check_status(r, "exposed-services") == Some("Pass")
    });
}
