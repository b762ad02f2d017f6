//! Two replicas: one writer at a time, handover when the leader dies, and a
//! clean exit on SIGTERM that frees the lease at once.

use std::time::{Duration, Instant};

use netposture_e2e::*;

fn leader_value(operator: &Operator) -> Option<f64> {
    operator.metric("netposture_leader", &[])
}

fn lease_holder() -> String {
    kubectl_ok(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "lease",
        "netposture-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])
}

#[test]
fn only_the_leader_writes_and_killing_it_hands_over() {
    install();
    let mut first = Operator::start_leading("replica-1");
    let second = Operator::start("replica-2", &[]);
    second.wait_ready();
    assert_eq!(leader_value(&second), Some(0.0));

    let ns = TestNamespace::new("e2e-replicas");
    ns.apply(DENY_ALL);
    report_where(&ns.name, "written by the leader", |r| {
        status_flag(r, "defaultDenyIngress") == Some(true)
    });
    // The follower evaluates (its metrics agree) but never writes.
    eventually("follower metrics", Duration::from_secs(20), || {
        second
            .metric(
                "netposture_namespace_default_deny",
                &[("namespace", &ns.name), ("direction", "ingress")],
            )
            .filter(|v| *v == 1.0)
    });
    assert_eq!(
        second.metric("netposture_report_writes_total", &[]),
        Some(0.0)
    );
    assert!(
        first
            .metric("netposture_report_writes_total", &[])
            .unwrap_or(0.0)
            >= 1.0
    );
    assert_eq!(lease_holder(), "replica-1");

    let killed = Instant::now();
    first.kill();
    // Made while nobody leads: the new leader must catch up with it.
    ns.apply(ALLOW_DNS);
    eventually("the follower to take over", Duration::from_secs(40), || {
        (leader_value(&second) == Some(1.0)).then_some(())
    });
    eprintln!(
        "handover after SIGKILL of the leader: {:?}",
        killed.elapsed()
    );
    report_where(&ns.name, "written by the new leader", |r| {
        status_flag(r, "dnsAllowed") == Some(true)
    });
    record_recovery(
        "leader killed (SIGKILL), the follower takes over",
        killed.elapsed(),
    );
    assert!(
        second
            .metric("netposture_report_writes_total", &[])
            .unwrap_or(0.0)
            >= 1.0
    );
    reports_agree_with_scan(&[&ns.name]);
    first.assert_no_panic();
    second.assert_no_panic();
}

#[test]
fn sigterm_exits_zero_and_frees_the_lease_for_the_next_replica() {
    install();
    let mut first = Operator::start_leading("graceful-1");
    let second = Operator::start("graceful-2", &[]);
    second.wait_ready();
    let stopped = Instant::now();
    assert_eq!(first.terminate(), Some(0), "{}", first.log());
    eventually("the lease released", Duration::from_secs(5), || {
        (lease_holder() != "graceful-1").then_some(())
    });
    eventually("the other replica to lead", Duration::from_secs(15), || {
        (leader_value(&second) == Some(1.0)).then_some(())
    });
    record_recovery(
        "leader stopped (SIGTERM), the other replica leads",
        stopped.elapsed(),
    );
    first.assert_no_panic();
    second.assert_no_panic();
}
