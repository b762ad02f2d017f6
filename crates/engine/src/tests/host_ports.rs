//! `host-ports`: container ports bound to node ports.

use super::*;
use crate::posture::{CheckStatus, Severity, ids};

#[test]
fn host_port_fails_naming_pod_port_and_protocol() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "plain", "app: plain"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: a}\nspec: {containers: [{name: a, image: agent, ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 53, hostPort: 53, protocol: UDP}, {containerPort: 9090}]}]}\n---\n"
    ));
    let check = posture(&c, "a").check(ids::HOST_PORTS).unwrap().clone();
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::High);
    assert_eq!(
        check.evidence,
        ["pod/agent: hostPort 8080/TCP", "pod/agent: hostPort 53/UDP"]
    );
    assert!(!check.remediation.is_empty());
}

#[test]
fn no_host_port_passes() {
    let c = cluster(&pod("a", "plain", "app: plain"));
    assert_eq!(
        posture(&c, "a").check(ids::HOST_PORTS).unwrap().status,
        CheckStatus::Pass
    );
}

#[test]
fn host_network_pods_are_left_to_their_own_check() {
    // The API server defaults hostPort to containerPort on hostNetwork pods.
    let c = cluster(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: node-agent, namespace: a}\nspec: {hostNetwork: true, containers: [{name: a, image: agent, ports: [{containerPort: 9100, hostPort: 9100}]}]}\n",
    );
    let p = posture(&c, "a");
    assert_eq!(
        p.check(ids::HOST_PORTS).unwrap().status,
        CheckStatus::NotApplicable
    );
    assert_eq!(
        p.check(ids::HOST_NETWORK_PODS).unwrap().status,
        CheckStatus::Fail
    );
}

#[test]
fn host_port_out_of_range_is_rejected() {
    let c = cluster(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: a}\nspec: {containers: [{name: a, image: agent, ports: [{containerPort: 80, hostPort: 70000}]}]}\n",
    );
    let rejected = &c.namespace("a").unwrap().rejected[&("Pod", "agent".to_string())];
    assert!(rejected.reason.contains("hostPort"), "{}", rejected.reason);
}
