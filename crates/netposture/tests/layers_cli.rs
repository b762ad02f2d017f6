//! Runs the real `netposture scan -f` and `can-reach` on manifests with
//! policy layers (AdminNetworkPolicy, BaselineAdminNetworkPolicy): the
//! verdicts and explanations name the deciding layer policy.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;

use common::{netposture, repo};
use serde_json::Value;

/// The manifests, as `-f` takes them.
fn manifests() -> String {
    let path = repo("crates/netposture/tests/fixtures/layers.yaml");
    path.to_str().unwrap().to_string()
}

#[test]
fn scan_counts_the_baseline_as_default_deny_and_the_admin_allow_for_dns() {
    let out = netposture(&["scan", "-f", &manifests(), "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "a")
        .map(|i| &i["status"])
        .unwrap();
    assert_eq!(a["defaultDenyIngress"], true, "{a}");
    assert_eq!(a["defaultDenyEgress"], true);
    assert_eq!(a["dnsAllowed"], true);
    assert_eq!(a["egressOpen"], false);
    let check = a["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "default-deny-egress")
        .unwrap();
    assert_eq!(
        check["evidence"][0],
        "baselineadminnetworkpolicy/default (Baseline tier)"
    );
}

#[test]
fn can_reach_names_the_deciding_layer_rule() {
    let path = &manifests();
    let dns = netposture(&[
        "can-reach",
        "a/web",
        "kube-system/coredns-1",
        "-p",
        "53/UDP",
        "-f",
        path,
    ]);
    let text = String::from_utf8_lossy(&dns.stdout);
    assert!(dns.status.success(), "{text}");
    assert!(
        text.contains("allowed by adminnetworkpolicy/allow-dns egress[0] (Admin tier, priority 5)"),
        "{text}"
    );
    let out = netposture(&[
        "can-reach",
        "a/web",
        "198.51.100.1",
        "-p",
        "443",
        "-f",
        path,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("denied by baselineadminnetworkpolicy/default egress[0] (Baseline tier)"),
        "{text}"
    );
}
