//! Writes that collide or are cut off: other writers fighting over a report,
//! replicas racing for the lease, and the operator killed while it writes.
//! Each test records its time to recover: from the end of the fault until
//! the reports are right again.

use std::time::{Duration, Instant};

use netposture_e2e::*;
use serde_json::Value;

fn writes(operator: &Operator) -> f64 {
    operator
        .metric("netposture_report_writes_total", &[])
        .unwrap_or(0.0)
}

/// Server-side apply of report status by another field manager, with force.
fn force_apply_status(name: &str, manager: &str, status: Value) {
    let object = serde_json::json!({
        "apiVersion": "netposture.io/v1alpha1",
        "kind": "NetworkPostureReport",
        "metadata": {"name": name},
        "status": status,
    });
    let output = kubectl_with_input(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            manager,
            "--subresource=status",
            // kubectl would want the spec, which a status write leaves alone.
            "--validate=false",
            "-f",
            "-",
        ],
        Some(&object.to_string()),
    );
    assert!(
        output.status.success(),
        "forced apply by {manager}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `kubectl replace` of the report's status with `report` as it stands.
fn replace_status(report: &Value) -> std::process::Output {
    kubectl_with_input(
        &["replace", "--subresource=status", "-f", "-"],
        Some(&report.to_string()),
    )
}

#[test]
fn writers_fighting_over_a_report_end_with_the_operators_report() {
    install();
    let operator = Operator::start_leading("writes-conflicts");
    let ns = TestNamespace::new("e2e-conflicts");
    ns.apply(DENY_ALL);
    let stale = report_where(&ns.name, "default deny", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });

    // An update based on a resourceVersion the operator has since replaced
    // is refused by the API server...
    ns.apply(ALLOW_DNS);
    report_where(&ns.name, "DNS allowed", |r| {
        status_flag(r, "dnsAllowed") == Some(true)
    });
    let refused = replace_status(&stale);
    assert!(!refused.status.success(), "a stale update was accepted");
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("Conflict") || error.contains("has been modified"),
        "{error}"
    );
    // ...and the same update without a resourceVersion overwrites; the
    // operator puts its verdict back.
    let mut unconditional = stale.clone();
    unconditional["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("resourceVersion");
    let output = replace_status(&unconditional);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let overwritten = Instant::now();
    reports_agree_with_scan(&[&ns.name]);
    record_recovery(
        "write conflict: status replaced by another client",
        overwritten.elapsed(),
    );

    // Another field manager takes fields over with a forced apply.
    force_apply_status(
        &ns.name,
        "intruder",
        serde_json::json!({"defaultDenyIngress": false, "score": 0}),
    );
    let taken = Instant::now();
    reports_agree_with_scan(&[&ns.name]);
    record_recovery(
        "write conflict: forced apply by another field manager",
        taken.elapsed(),
    );

    // Hand edits of spec and status while the operator writes a burst of
    // changes to the same report.
    let edits = 20;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let patch = ["patch", "networkposture", &ns.name, "--type=merge", "-p"];
            for i in 0..edits {
                if i % 2 == 0 {
                    kubectl_ok(
                        &[
                            &patch[..],
                            &[r#"{"status":{"score":1}}"#, "--subresource=status"],
                        ]
                        .concat(),
                    );
                } else {
                    kubectl_ok(&[&patch[..], &[r#"{"spec":{"namespace":"elsewhere"}}"#]].concat());
                }
            }
        });
        for i in 0..edits {
            if i % 2 == 0 {
                kubectl_ok(&["-n", &ns.name, "delete", "networkpolicy", "allow-dns"]);
            } else {
                ns.apply(ALLOW_DNS);
            }
        }
    });
    let burst_ended = Instant::now();
    reports_agree_with_scan(&[&ns.name]);
    record_recovery(
        "write conflict: hand edits during a burst of operator writes",
        burst_ended.elapsed(),
    );
    assert_eq!(
        status_flag(&report(&ns.name).expect("report"), "dnsAllowed"),
        Some(true),
        "the last change of the burst re-created allow-dns"
    );
    operator.assert_no_panic();
}

#[test]
fn replicas_racing_for_the_lease_end_with_exactly_one_leader() {
    install();
    // No lease yet: every replica tries to create it at once.
    kubectl_ok(&[
        "-n",
        OPERATOR_NAMESPACE,
        "delete",
        "lease",
        "netposture-operator",
        "--ignore-not-found",
    ]);
    let started = Instant::now();
    let replicas: Vec<Operator> = (1..=3)
        .map(|i| Operator::start(&format!("race-{i}"), &[]))
        .collect();
    let leaders = |replicas: &[Operator]| -> Vec<String> {
        replicas
            .iter()
            .filter(|r| r.metric("netposture_leader", &[]) == Some(1.0))
            .map(|r| r.identity.clone())
            .collect()
    };
    let leader = eventually("one leader", Duration::from_secs(40), || {
        let now = leaders(&replicas);
        (now.len() == 1).then(|| now[0].clone())
    });
    record_recovery(
        "lease race of 3 replicas started at once",
        started.elapsed(),
    );
    // And it stays that way across several renewals (retry period 2 s).
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(leaders(&replicas), vec![leader.clone()]);
    }
    let holder = kubectl_ok(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "lease",
        "netposture-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert_eq!(holder, leader);

    let ns = TestNamespace::new("e2e-race");
    ns.apply(DENY_ALL);
    reports_agree_with_scan(&[&ns.name]);
    for replica in &replicas {
        if replica.identity != leader {
            assert_eq!(writes(replica), 0.0, "{} wrote", replica.identity);
        }
        replica.assert_no_panic();
    }
}

/// What the reports lack, as the writes it takes to complete them: two for a
/// missing report (its spec, then its status), one for a status that is
/// missing or differs from a fresh scan. Namespaces being deleted are left
/// out: the operator writes no report for them.
fn writes_needed() -> (usize, usize, usize) {
    let terminating = kubectl_ok(&[
        "get",
        "namespaces",
        "-o",
        "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{\"\\n\"}{end}",
    ]);
    let terminating: Vec<&str> = terminating.lines().collect();
    let scanned = scanned_reports();
    let written = written_reports();
    let mut missing = 0;
    let mut wrong = 0;
    for (name, truth) in &scanned {
        if terminating.contains(&name.as_str()) {
            continue;
        }
        match written.get(name) {
            None => missing += 1,
            Some(report) if report != truth => wrong += 1,
            Some(_) => {}
        }
    }
    (missing, wrong, 2 * missing + wrong)
}

#[test]
fn operator_killed_mid_write_restarts_and_writes_only_what_is_missing() {
    install();
    let identity = "writes-killed";
    let mut operator = Operator::start_leading(identity);
    let prefix = format!("e2e-killed-{}", std::process::id());
    let names: Vec<String> = (0..100).map(|i| format!("{prefix}-{i}")).collect();
    // The namespaces first, then a default deny in each, in one request.
    let mut items: Vec<Value> = names
        .iter()
        .map(|n| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))
        .collect();
    items.extend(names.iter().map(|n| {
        serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": n},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    }));
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let before = writes(&operator);
    let output = kubectl_with_input(&["create", "-f", "-"], Some(&list.to_string()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Killed once the writes have begun, before they can have finished:
    // polled more often than `eventually` does, as they take well under a second.
    let deadline = Instant::now() + Duration::from_secs(30);
    while writes(&operator) < before + 10.0 {
        assert!(Instant::now() < deadline, "no report writes after 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    operator.kill();
    // Requests the API server had already received finish meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    let (missing, wrong, needed) = writes_needed();
    eprintln!("killed mid-write: {missing} reports missing, {wrong} incomplete or stale");
    assert!(needed > 0, "the kill came after every write");

    let restarted = Instant::now();
    let operator = Operator::start_leading(identity);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    reports_agree_with_scan(&name_refs);
    record_recovery(
        "operator killed mid-write (100 new namespaces), restarted",
        restarted.elapsed(),
    );
    // Exactly one report per namespace, owned by that namespace.
    let reports: Value =
        serde_json::from_str(&kubectl_ok(&["get", "networkpostures", "-o", "json"]))
            .expect("kubectl prints JSON");
    for name in &names {
        let owned: Vec<&Value> = reports["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["spec"]["namespace"] == name.as_str())
            .collect();
        assert_eq!(owned.len(), 1, "reports of {name}");
        let uid = kubectl_ok(&["get", "namespace", name, "-o", "jsonpath={.metadata.uid}"]);
        assert_eq!(
            owned[0]["metadata"]["ownerReferences"][0]["uid"],
            uid.as_str()
        );
    }
    // Its first full pass wrote what was missing or stale, nothing else.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        writes(&operator),
        needed as f64,
        "writes after the restart, for {missing} missing and {wrong} incomplete reports"
    );
    operator.assert_no_panic();
    for name in &names {
        let _ = kubectl(&["delete", "namespace", name, "--wait=false"]);
    }
}
