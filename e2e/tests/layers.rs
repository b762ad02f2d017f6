//! Policy layers beside NetworkPolicy reach the reports: a CRD installed
//! while the operator runs is discovered and watched, its policies count,
//! and removing the CRD takes them out again.

use std::time::Duration;

use netposture_e2e::*;

const CRD: &str = "e2e/fixtures/baselineadminnetworkpolicy-crd.yaml";

const BASELINE_DENY_ALL: &str = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {netposture-e2e: layers}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
  egress: [{action: Deny, to: [{namespaces: {}}, {networks: ['0.0.0.0/0', '::/0']}]}]
"#;

/// Rediscovery runs every 30 s; allow for one period plus a list.
const DISCOVERY: Duration = Duration::from_secs(75);

fn ingress_deny_evidence(report: &serde_json::Value) -> Vec<String> {
    report["status"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["id"] == "default-deny-ingress")
        .flat_map(|c| c["evidence"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_baseline_deny_found_after_start_provides_default_deny_until_its_crd_goes() {
    install();
    let crd = repo_root().join(CRD);
    let crd = crd.to_str().unwrap();
    let _ = kubectl(&["delete", "-f", crd, "--ignore-not-found", "--wait=true"]);
    let operator = Operator::start_leading("layers");
    let ns = TestNamespace::new("e2e-layers");
    kubectl_ok(&["label", "namespace", &ns.name, "netposture-e2e=layers"]);
    ns.apply(WEB_POD);
    report_where(&ns.name, "no default deny without layers", |r| {
        status_flag(r, "defaultDenyIngress") == Some(false)
    });

    kubectl_ok(&["apply", "-f", crd]);
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/baselineadminnetworkpolicies.policy.networking.k8s.io",
        "--timeout=30s",
    ]);
    apply(BASELINE_DENY_ALL);
    let covered = eventually(
        "the baseline deny-all to provide default deny",
        DISCOVERY,
        || {
            report(&ns.name).filter(|r| {
                status_flag(r, "defaultDenyIngress") == Some(true)
                    && status_flag(r, "defaultDenyEgress") == Some(true)
            })
        },
    );
    assert_eq!(
        ingress_deny_evidence(&covered),
        ["baselineadminnetworkpolicy/default (Baseline tier)"],
        "the report names the layer: {covered}"
    );

    // Deleting the CRD deletes its objects; the operator must drop them too.
    kubectl_ok(&["delete", "-f", crd, "--wait=true"]);
    eventually("default deny gone with the CRD", DISCOVERY, || {
        report(&ns.name).filter(|r| status_flag(r, "defaultDenyIngress") == Some(false))
    });
    let log = operator.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("BaselineAdminNetworkPolicy.policy.networking.k8s.io"),
        "the discovered kind is logged: {log}"
    );
}
