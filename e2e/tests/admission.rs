//! The admission webhook on the real API server: registered with a loopback
//! URL, it makes `kubectl apply` print its warning, refuses what the
//! configuration denies, lets everything through while the operator is
//! down (failurePolicy Ignore), and keeps its CA in the configuration.

use std::time::Duration;

use netposture_e2e::*;
use serde_json::Value;

/// The name the RBAC of deploy/components/admission grants.
const WEBHOOK: &str = "netposture";
const SECRET: &str = "netposture-admission-tls";
const LABEL: &str = "netposture-e2e=admission";

const DENY_EGRESS: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-egress, namespace: NAMESPACE}
spec: {podSelector: {}, policyTypes: [Egress]}
";

/// The webhook configuration of deploy/components/admission, pointed at a
/// loopback port and limited to this test's namespaces.
fn register(port: u16) -> WebhookGuard {
    let yaml = format!(
        "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: {WEBHOOK}}}
webhooks:
  - name: policies.netposture.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Ignore
    timeoutSeconds: 3
    namespaceSelector: {{matchLabels: {{netposture-e2e: admission}}}}
    clientConfig: {{url: 'https://127.0.0.1:{port}/validate'}}
    rules:
      - apiGroups: [networking.k8s.io]
        apiVersions: ['*']
        operations: [CREATE, UPDATE, DELETE]
        resources: [networkpolicies]
"
    );
    apply(&yaml);
    WebhookGuard
}

/// Removes the configuration even when the test fails, so other tests run without it.
struct WebhookGuard;

impl Drop for WebhookGuard {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "validatingwebhookconfiguration", WEBHOOK]);
    }
}

fn install_admission_rbac() {
    install();
    let rbac = repo_root().join("deploy/components/admission/rbac.yaml");
    kubectl_ok(&["apply", "-f", rbac.to_str().expect("UTF-8 path")]);
}

fn start(identity: &str, port: u16, config: Option<&str>) -> Operator {
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["--admission-addr", &addr, "--admission-hosts", "127.0.0.1"];
    let path = cluster_dir().join(format!("admission-{identity}.yaml"));
    if let Some(config) = config {
        std::fs::write(&path, config).expect("config file");
        args.extend(["--config", path.to_str().expect("UTF-8 path")]);
    }
    let operator = Operator::start(identity, &args);
    operator.wait_ready();
    operator
}

fn labelled_namespace() -> TestNamespace {
    let ns = TestNamespace::new("e2e-admission");
    let label: Vec<&str> = LABEL.split('=').collect();
    kubectl_ok(&[
        "label",
        "namespace",
        &ns.name,
        &format!("{}={}", label[0], label[1]),
    ]);
    ns.apply(WEB_POD);
    ns
}

/// `kubectl apply` of `yaml` in `ns`: whether it succeeded, and its stderr.
fn apply_in(ns: &TestNamespace, yaml: &str, dry_run: bool) -> (bool, String) {
    let mut args = vec!["apply", "-f", "-"];
    if dry_run {
        args.push("--dry-run=server");
    }
    let output = kubectl_with_input(&args, Some(&yaml.replace("NAMESPACE", &ns.name)));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Waits until the webhook answers for `ns` (certificate in place, pod indexed).
fn wait_for_warning(ns: &TestNamespace, yaml: &str, expected: &str) {
    eventually("the webhook's answer", Duration::from_secs(60), || {
        let (_, stderr) = apply_in(ns, yaml, true);
        stderr.contains(expected).then_some(())
    });
}

fn ca_bundle() -> Option<String> {
    let text = kubectl_ok(&[
        "get",
        "validatingwebhookconfiguration",
        WEBHOOK,
        "-o",
        "json",
    ]);
    let config: Value = serde_json::from_str(&text).ok()?;
    config["webhooks"][0]["clientConfig"]["caBundle"]
        .as_str()
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}

#[test]
fn a_default_deny_egress_without_dns_prints_the_warning_and_the_ca_is_kept() {
    install_admission_rbac();
    let port = free_port();
    let _webhook = register(port);
    let mut operator = start("admission-warn", port, None);
    let ns = labelled_namespace();

    let bundle = eventually(
        "the operator's CA in caBundle",
        Duration::from_secs(30),
        ca_bundle,
    );
    let secret = kubectl_ok(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "secret",
        SECRET,
        "-o",
        "jsonpath={.data.ca\\.crt}",
    ]);
    assert_eq!(bundle, secret, "caBundle is the CA of the issued Secret");

    let expected = format!("netposture: namespace {} loses DNS", ns.name);
    wait_for_warning(&ns, DENY_EGRESS, &expected);
    let (applied, stderr) = apply_in(&ns, DENY_EGRESS, false);
    assert!(applied, "a warning does not refuse: {stderr}");
    assert!(stderr.contains(&format!("Warning: {expected}")), "{stderr}");
    assert!(
        operator.metric(
            "netposture_admission_warnings_total",
            &[("condition", "dns-broken")]
        ) >= Some(1.0)
    );

    // Stopped: failurePolicy Ignore lets changes through without a word.
    operator.kill();
    let (applied, stderr) = apply_in(&ns, &ALLOW_DNS.replace("allow-dns", "allow-dns-2"), false);
    assert!(
        applied,
        "the apply succeeds with the operator down: {stderr}"
    );
    assert!(!stderr.contains("netposture:"), "{stderr}");
    operator.assert_no_panic();
}

#[test]
fn a_configured_condition_refuses_the_change_and_says_how() {
    install_admission_rbac();
    let port = free_port();
    let _webhook = register(port);
    let config = "admission: {deny: [dns-broken]}\n";
    let mut operator = start("admission-deny", port, Some(config));
    let ns = labelled_namespace();
    let expected = "netposture denies this change (dns-broken: namespace";
    wait_for_warning(&ns, DENY_EGRESS, expected);
    let (applied, stderr) = apply_in(&ns, DENY_EGRESS, false);
    assert!(!applied, "dns-broken is denied");
    assert!(
        stderr.contains(expected) && stderr.contains("allows no bypass"),
        "{stderr}"
    );
    assert!(
        operator.metric(
            "netposture_admission_denials_total",
            &[("condition", "dns-broken")]
        ) >= Some(1.0)
    );
    // With DNS allowed first, the same deny-all breaks nothing and goes through.
    ns.apply(ALLOW_DNS);
    eventually(
        "the deny-all to be admitted",
        Duration::from_secs(30),
        || apply_in(&ns, DENY_EGRESS, false).0.then_some(()),
    );
    operator.kill();
    operator.assert_no_panic();
}
