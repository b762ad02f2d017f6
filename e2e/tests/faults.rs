//! The operator recovers on its own from control-plane restarts, lost
//! permissions and a deleted CRD, and catches up with what changed meanwhile.
//! Each test records its time to recover: from the end of the fault until
//! the reports are right again.

use std::time::{Duration, Instant};

use netposture_e2e::*;

fn ready(operator: &Operator) -> bool {
    operator.get("/readyz").is_some_and(|(code, _)| code == 200)
}

fn restart_and_catch_up(component: &str) {
    install();
    let mut operator = Operator::start_leading(&format!("faults-{component}"));
    let ns = TestNamespace::new(&format!("e2e-{component}"));
    report_where(&ns.name, "exists", |_| true);

    let started = Instant::now();
    cluster_sh(&format!("restart-{component}"));
    let restarted = Instant::now();
    eprintln!("{component} restart took {:?}", restarted - started);
    // Made right after the restart, while the operator is still reconnecting.
    ns.apply(DENY_ALL);
    report_where(&ns.name, "the change made after the restart", |r| {
        status_flag(r, "defaultDenyEgress") == Some(true)
    });
    record_recovery(&format!("{component} restart"), restarted.elapsed());
    assert!(
        operator.is_running(),
        "the operator survived without a restart"
    );
    eventually("ready again", Duration::from_secs(30), || {
        ready(&operator).then_some(())
    });
    reports_agree_with_scan(&[&ns.name]);
    operator.assert_no_panic();
}

#[test]
fn api_server_restart_is_survived_and_caught_up() {
    restart_and_catch_up("apiserver");
}

#[test]
fn etcd_restart_is_survived_and_caught_up() {
    restart_and_catch_up("etcd");
}

#[test]
fn expired_watch_relists_and_catches_the_deletion_it_missed() {
    install();
    // Watches last 3 s, so a frozen replica holds no open watch for long.
    let operator = Operator::start_leading_with("faults-expiry", &["--watch-timeout", "3s"]);
    let ns = TestNamespace::new("e2e-expiry");
    ns.apply(DENY_ALL);
    report_where(&ns.name, "default deny", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });

    // While the operator is frozen and its watches have ended, the policy
    // goes and the API server restarts: its new watch cache starts after the
    // deletion, so resuming the old watch is answered 410 Gone and only a
    // relist can see the deletion.
    operator.signal("-STOP");
    std::thread::sleep(Duration::from_secs(5));
    kubectl_ok(&["-n", &ns.name, "delete", "networkpolicy", "default-deny"]);
    cluster_sh("restart-apiserver");
    operator.signal("-CONT");
    let thawed = Instant::now();
    report_where(&ns.name, "the deletion missed while frozen", |r| {
        status_flag(r, "defaultDenyIngress") == Some(false)
    });
    record_recovery("watch expired (410 Gone)", thawed.elapsed());
    let expired = operator.metric(
        "netposture_watch_errors_total",
        &[("kind", "NetworkPolicy"), ("reason", "expired")],
    );
    assert!(
        expired.unwrap_or(0.0) >= 1.0,
        "a 410 was seen: {}",
        operator.metrics_text()
    );
    reports_agree_with_scan(&[&ns.name]);
    operator.assert_no_panic();
}

/// Removes the ClusterRole's networkpolicies rule; `apply_crd_and_rbac` restores it.
fn revoke_policy_access() {
    kubectl_ok(&[
        "patch",
        "clusterrole",
        "netposture",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/rules/1"}]"#,
    ]);
}

#[test]
fn lost_permission_makes_it_unready_and_it_recovers_when_granted_again() {
    install();
    revoke_policy_access();
    // Short watches, so the revocation is noticed within seconds, not minutes.
    let operator = Operator::start("faults-rbac", &["--watch-timeout", "5s"]);
    // Before the first list answers, every kind reads "starting": wait for the forbidden one.
    let unready = eventually("not ready while forbidden", Duration::from_secs(30), || {
        operator
            .get("/readyz")
            .filter(|(code, body)| *code == 503 && body.contains("forbidden"))
            .map(|(_, body)| body)
    });
    assert!(
        unready.contains("NetworkPolicy") && unready.contains("forbidden"),
        "{unready}"
    );
    eventually(
        "the forbidden watch counted",
        Duration::from_secs(20),
        || {
            operator
                .metric(
                    "netposture_watch_errors_total",
                    &[("kind", "NetworkPolicy"), ("reason", "forbidden")],
                )
                .filter(|v| *v >= 1.0)
        },
    );
    assert!(operator.log().contains("forbidden"), "the log says why");
    // Leading does not need the lost permission; granting it only once this
    // replica leads keeps the wait for an earlier test's lease out of the
    // recovery time (the forbidden watch's backoff, growing meanwhile, is in it).
    eventually("leading while forbidden", Duration::from_secs(40), || {
        (operator.metric("netposture_leader", &[]) == Some(1.0)).then_some(())
    });

    let ns = TestNamespace::new("e2e-rbac");
    ns.apply(DENY_ALL);
    apply_crd_and_rbac();
    let granted = Instant::now();
    eventually(
        "ready after the permission returns",
        Duration::from_secs(60),
        || ready(&operator).then_some(()),
    );
    report_where(&ns.name, "the policy made while forbidden", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });
    record_recovery("RBAC missing at start, then granted", granted.elapsed());

    // Revoked while running: noticed when the watch is renewed; a policy
    // made meanwhile shows once the permission is back.
    revoke_policy_access();
    eventually(
        "not ready after revocation",
        Duration::from_secs(40),
        || (!ready(&operator)).then_some(()),
    );
    ns.apply(ALLOW_DNS);
    apply_crd_and_rbac();
    let restored = Instant::now();
    eventually("ready again", Duration::from_secs(60), || {
        ready(&operator).then_some(())
    });
    report_where(&ns.name, "the policy made while revoked", |r| {
        status_flag(r, "dnsAllowed") == Some(true)
    });
    record_recovery(
        "RBAC revoked while running, then restored",
        restored.elapsed(),
    );
    reports_agree_with_scan(&[&ns.name]);
    operator.assert_no_panic();
}

#[test]
fn deleted_crd_makes_it_unready_and_reports_return_with_the_crd() {
    install();
    let operator = Operator::start_leading("faults-crd");
    let ns = TestNamespace::new("e2e-crd");
    ns.apply(DENY_ALL);
    report_where(&ns.name, "default deny", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });

    // A bound, so an operator that keeps the CRD from going fails the test.
    kubectl_ok(&[
        "delete",
        "crd",
        "networkpostures.netposture.io",
        "--timeout=60s",
    ]);
    let body = eventually("not ready without the CRD", Duration::from_secs(40), || {
        operator
            .get("/readyz")
            .filter(|(code, _)| *code == 503)
            .map(|(_, body)| body)
    });
    assert!(body.contains("CRD"), "{body}");

    let crd_file = repo_root().join("crds/networkpostures.netposture.io.yaml");
    kubectl_ok(&["apply", "-f", crd_file.to_str().unwrap()]);
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/networkpostures.netposture.io",
        "--timeout=30s",
    ]);
    let restored = Instant::now();
    report_where(&ns.name, "report back after the CRD returns", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });
    eventually("ready again", Duration::from_secs(40), || {
        ready(&operator).then_some(())
    });
    record_recovery("CRD deleted, then re-created", restored.elapsed());
    reports_agree_with_scan(&[&ns.name]);
    operator.assert_no_panic();
}
