//! `netposture suggest` on the bundled examples: the output parses back as
//! NetworkPolicies, and applied with the manifests it covers the namespace.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;

use common::{netposture, repo};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Deserialize;

fn suggest(namespace: &str) -> String {
    let path = repo("examples/cluster");
    let out = netposture(&["suggest", "-n", namespace, "-f", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn policies(yaml: &str) -> Vec<NetworkPolicy> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|document| NetworkPolicy::deserialize(document).expect("a NetworkPolicy"))
        .collect()
}

#[test]
fn suggestion_for_an_open_namespace_parses_as_commented_network_policies() {
    let yaml = suggest("dev");
    assert!(yaml.starts_with("# netposture suggest -n dev"), "{yaml}");
    let parsed = policies(&yaml);
    let deny = parsed
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("netposture-default-deny"))
        .expect("a default deny");
    let spec = deny.spec.as_ref().unwrap();
    assert_eq!(
        spec.policy_types.as_deref().unwrap(),
        ["Ingress".to_string(), "Egress".to_string()]
    );
    assert!(parsed.iter().all(|p| p.metadata.namespace.is_some()));
    assert!(
        parsed
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some("netposture-allow-dns")),
        "{yaml}"
    );
    assert!(
        yaml.contains("# default deny for Ingress and Egress"),
        "{yaml}"
    );
}

#[test]
fn suggestion_applied_to_the_manifests_covers_the_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let examples = repo("examples/cluster");
    let yaml = suggest("dev");
    std::fs::write(dir.join("suggested.yaml"), yaml).unwrap();
    let out = netposture(&[
        "scan",
        "-f",
        examples.to_str().unwrap(),
        "-f",
        dir.join("suggested.yaml").to_str().unwrap(),
        "-n",
        "dev",
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = &list["items"][0]["status"];
    assert_eq!(status["defaultDenyIngress"], true, "{status}");
    assert_eq!(status["defaultDenyEgress"], true, "{status}");
    assert_eq!(status["dnsAllowed"], true, "{status}");
}

#[test]
fn unknown_namespace_is_an_error() {
    let path = repo("examples/cluster");
    let out = netposture(&["suggest", "-n", "nope", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
