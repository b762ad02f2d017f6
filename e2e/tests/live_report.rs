//! `netposture report` without `-f` reads the live cluster as `scan` does:
//! a namespace created here shows in the page's table with the verdicts a
//! live `scan` gives it, and in the reachability matrix's data.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

use std::process::{Command, Output};

use netposture_e2e::{TestNamespace, admin_kubeconfig, operator_binary};
use serde_json::Value;

const DENY_ALL_AND_A_POD: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: NAMESPACE}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: NAMESPACE, labels: {app: web}}
spec: {containers: [{name: web, image: nginx}]}
";

fn netposture(args: &[&str]) -> Output {
    let out = Command::new(operator_binary())
        .args(args)
        .env("KUBECONFIG", admin_kubeconfig())
        .output()
        .expect("netposture runs");
    assert!(
        out.status.success(),
        "netposture {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn report_of_the_live_cluster_shows_a_namespace_as_scan_sees_it() {
    let ns = TestNamespace::new("report");
    ns.apply(DENY_ALL_AND_A_POD);
    let scan = netposture(&["scan", "-o", "json", "-n", &ns.name]);
    let scan: Value = serde_json::from_slice(&scan.stdout).unwrap();
    let status = &scan["items"][0]["status"];

    let page = String::from_utf8(netposture(&["report"]).stdout).unwrap();
    assert!(page.contains("from the live cluster of the current kubeconfig"));
    let start = page
        .find(&format!("<tr data-namespace=\"{}\">", ns.name))
        .unwrap_or_else(|| panic!("no table row for {}", ns.name));
    let row = &page[start..start + page[start..].find("</tr>").unwrap()];
    // The cells' contents; after the name: covered, deny-in, deny-out, egress-open, dns, score.
    let cells: Vec<&str> = row
        .split("<td")
        .skip(1)
        .map(|cell| {
            let inner = &cell[cell.find('>').unwrap() + 1..];
            &inner[..inner.find("</td>").unwrap()]
        })
        .collect();
    let expected: Vec<String> = [
        "covered",
        "defaultDenyIngress",
        "defaultDenyEgress",
        "egressOpen",
        "dnsAllowed",
    ]
    .iter()
    .map(|field| status[field].to_string())
    .chain([status["score"].to_string()])
    .collect();
    assert_eq!(cells[1..7], expected, "{row}");
    assert_eq!(
        status["defaultDenyIngress"], true,
        "the policy applies live"
    );
    assert!(
        page.contains(&format!("\"{}\"", ns.name)),
        "not in the matrix data"
    );
}
