//! `/metrics` as deploy/ serves it: HTTPS, answered only to a bearer token the
//! real API server authenticates and allows `get` on `/metrics`; the probes
//! open. The operator itself runs as its ServiceAccount, so the TokenReview
//! and SubjectAccessReview rights of deploy/base/rbac.yaml are tested too.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

use std::process::Command;
use std::time::Duration;

use netposture_e2e::{
    Operator, TestNamespace, cluster_dir, eventually, install, kubectl, kubectl_ok, repo_root,
};

/// A ServiceAccount's token, minted by the API server (TokenRequest).
fn token_of(namespace: &str, account: &str) -> String {
    kubectl_ok(&["-n", namespace, "create", "serviceaccount", account]);
    let out = Command::new(repo_root().join("e2e/cluster.sh"))
        .args(["kubeconfig", namespace, account])
        .arg(cluster_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kubeconfig = std::fs::read_to_string(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("token: "))
        .expect("a token in the kubeconfig")
        .trim()
        .to_owned()
}

/// Status code and body of an HTTPS GET (the certificate is self-signed).
fn https_get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut curl = Command::new("curl");
    curl.args(["-sk", "--max-time", "5", "-w", "\n%{http_code}"]);
    if let Some(token) = token {
        curl.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = curl
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.parse().ok().filter(|c| *c != 0)?, body.to_owned()))
}

#[test]
fn metrics_over_https_answer_only_tokens_the_api_server_allows() {
    install();
    let ns = TestNamespace::new("metrics-auth");
    let scraper = token_of(&ns.name, "scraper");
    let stranger = token_of(&ns.name, "stranger");
    let binding = format!("{}-scraper", ns.name);
    kubectl_ok(&[
        "create",
        "clusterrolebinding",
        &binding,
        "--clusterrole=netposture-metrics-reader",
        &format!("--serviceaccount={}:scraper", ns.name),
    ]);

    let operator = Operator::start_guarded("guarded", &[]);
    let port = operator.metrics_port;
    eventually(
        "the probes over HTTPS, without a token",
        Duration::from_secs(30),
        || https_get(port, "/readyz", None).filter(|(code, _)| *code == 200),
    );
    assert_eq!(https_get(port, "/healthz", None).unwrap().0, 200);

    let (anonymous, body) = https_get(port, "/metrics", None).unwrap();
    assert_eq!(anonymous, 401, "{body}");
    let (forged, _) = https_get(port, "/metrics", Some("not-a-token")).unwrap();
    assert_eq!(forged, 401);
    let (forbidden, body) = https_get(port, "/metrics", Some(&stranger)).unwrap();
    assert_eq!(forbidden, 403, "{body}");
    assert!(!body.contains("netposture_namespace"), "{body}");
    // The binding may take a moment to reach the authorizer's cache.
    let body = eventually("the reader's scrape", Duration::from_secs(30), || {
        https_get(port, "/metrics", Some(&scraper))
            .and_then(|(code, body)| (code == 200).then_some(body))
    });
    assert!(body.contains("netposture_leader"), "{body}");

    // Plain HTTP on that port serves nothing.
    assert!(operator.get("/metrics").is_none_or(|(code, _)| code != 200));
    operator.assert_no_panic();
    let _ = kubectl(&["delete", "clusterrolebinding", &binding]);
}
