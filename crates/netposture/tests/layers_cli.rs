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

/// Writes `yaml` to a file of its own for `-f`.
fn manifest_file(name: &str, yaml: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, yaml).unwrap();
    path.to_str().unwrap().to_string()
}

const WEB: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a}\nspec: {containers: [{name: web, image: nginx}]}\n---\n";

#[test]
fn can_reach_says_undetermined_with_its_own_exit_status_where_a_nodes_peer_may_decide() {
    let path = manifest_file(
        "nodes-peer.yaml",
        &format!(
            "{WEB}apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: nodes-then-deny}}\nspec: {{priority: 5, subject: {{namespaces: {{}}}}, egress: [{{action: Allow, to: [{{nodes: {{}}}}]}}, {{action: Deny, to: [{{networks: ['0.0.0.0/0']}}]}}]}}\n"
        ),
    );
    let out = netposture(&[
        "can-reach",
        "a/web",
        "198.51.100.1",
        "-p",
        "443",
        "-f",
        &path,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("a/web -> 198.51.100.1 443/TCP: undetermined"),
        "{text}"
    );
    assert!(
        text.contains("undetermined: adminnetworkpolicy/nodes-then-deny egress[0] (Admin tier, priority 5) would allow it, but has a peer netposture cannot evaluate"),
        "{text}"
    );
    let help = netposture(&["can-reach", "--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout)
            .contains("3 when none is, but some answer is undetermined"),
        "the exit status is documented"
    );
}

#[test]
fn two_cluster_scoped_policies_with_one_name_are_both_left_out() {
    let deny = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: twice}\nspec: {priority: 5, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: ['0.0.0.0/0']}]}]}\n---\n";
    let path = manifest_file("twice.yaml", &format!("{WEB}{deny}{deny}"));
    let out = netposture(&["scan", "-f", &path, "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "a")
        .map(|i| &i["status"])
        .unwrap();
    assert_eq!(a["egressOpen"], true, "neither copy is evaluated: {a}");
    let invalid = a["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "invalid-object")
        .unwrap();
    assert!(
        invalid["message"]
            .as_str()
            .unwrap()
            .contains("adminnetworkpolicy/twice would be rejected by the API server and is left out of the evaluation: the input holds 2 AdminNetworkPolicy objects with this name"),
        "{invalid}"
    );
}

#[test]
fn a_rejected_namespace_is_named_once() {
    let path = manifest_file(
        "bad-namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {'bad key!': v}}\n",
    );
    let out = netposture(&["scan", "-f", &path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: Namespace x is left out"),
        "{stderr}"
    );
}
