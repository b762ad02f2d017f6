//! Reports keep following policy changes while pods churn the way kubelets
//! make them churn on a busy cluster. The local control plane has no
//! kubelet, so `e2e/report-watch.py kubelets` plays them: pod status,
//! annotations, and the labels of a kube-system pod every namespace is
//! checked against, tens of times a second.

use std::process::{Child, Command, Stdio};
use std::time::Instant;

use netposture_e2e::*;
use serde_json::Value;

const KUBELET_RATE: &str = "40";

/// The noise generator; killed if the test ends early.
struct Kubelets(Option<Child>);

impl Kubelets {
    fn start() -> Kubelets {
        let env = cluster_dir().join("env");
        let script = repo_root().join("e2e/report-watch.py");
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!(
                ". '{}' && exec python3 '{}' kubelets --seconds 3600 --rate {KUBELET_RATE}",
                env.display(),
                script.display()
            ))
            .stdout(Stdio::piped())
            .spawn()
            .expect("report-watch.py starts");
        Kubelets(Some(child))
    }

    /// Stops the noise and returns its summary (changes made, failed).
    fn finish(mut self) -> Value {
        let child = self.0.take().expect("running until finished");
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill runs");
        let output = child.wait_with_output().expect("report-watch.py ends");
        serde_json::from_slice(&output.stdout).expect("a JSON summary")
    }
}

impl Drop for Kubelets {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn policy_changes_reach_their_reports_while_kubelets_churn_pods() {
    install();
    // A resync far beyond the test: only the changes themselves can update the reports.
    let operator = Operator::start_leading_with("churn-a", &["--resync-period", "1h"]);
    let tenants: Vec<TestNamespace> = (0..3).map(|_| TestNamespace::new("e2e-churn")).collect();
    for ns in &tenants {
        ns.apply(WEB_POD);
        report_where(&ns.name, "no default deny yet", |r| {
            status_flag(r, "defaultDenyIngress") == Some(false)
        });
    }

    let kubelets = Kubelets::start();
    let mut latencies = Vec::new();
    for round in 0..4 {
        let deny = round % 2 == 0;
        for ns in &tenants {
            let changed = Instant::now();
            if deny {
                ns.apply(DENY_ALL);
            } else {
                kubectl_ok(&["-n", &ns.name, "delete", "networkpolicy", "default-deny"]);
            }
            report_where(&ns.name, &format!("defaultDenyIngress {deny}"), |r| {
                status_flag(r, "defaultDenyIngress") == Some(deny)
            });
            latencies.push(changed.elapsed());
        }
    }
    let noise = kubelets.finish();
    eprintln!("kubelet-like noise: {noise}");
    assert!(
        noise["changes"].as_u64().is_some_and(|n| n > 0),
        "the noise generator made no change: {noise}"
    );

    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];
    record_recovery(
        "policy change to report under kubelet-like churn, median",
        median,
    );
    record_recovery("policy change to report under kubelet-like churn, max", max);
    operator.assert_no_panic();
}
