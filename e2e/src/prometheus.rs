//! A real Prometheus server scraping operators, with the shipped alert rules
//! (`for:` shortened, see e2e/prometheus.sh), queried through its HTTP API.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::{cluster_dir, repo_root};

pub struct Prometheus {
    dir: PathBuf,
    pub url: String,
}

impl Prometheus {
    /// Starts a server scraping `/metrics` on each loopback port.
    pub fn start(metrics_ports: &[u16]) -> Prometheus {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = cluster_dir().join(format!(
            "prometheus-{}",
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("prometheus dir");
        let output = Command::new(repo_root().join("e2e/prometheus.sh"))
            .arg("up")
            .arg(&dir)
            .args(metrics_ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .output()
            .expect("e2e/prometheus.sh runs");
        assert!(
            output.status.success(),
            "e2e/prometheus.sh up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Prometheus { dir, url }
    }

    fn api(&self, path: &str, query: Option<&str>) -> Value {
        let mut curl = Command::new("curl");
        curl.args(["-fsS", "--get"]);
        if let Some(query) = query {
            curl.arg("--data-urlencode").arg(format!("query={query}"));
        }
        let output = curl
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl runs");
        assert!(
            output.status.success(),
            "GET {path} {query:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body: Value = serde_json::from_slice(&output.stdout).expect("Prometheus answers JSON");
        assert_eq!(body["status"], "success", "{body}");
        body["data"].clone()
    }

    /// The instant vector (or scalar) a PromQL expression gives now.
    pub fn query(&self, promql: &str) -> Vec<Value> {
        let data = self.api("/api/v1/query", Some(promql));
        match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                data["result"].as_array().cloned().unwrap_or_default()
            }
            _ => vec![data["result"].clone()],
        }
    }

    /// The firing alert of that name whose labels include `labels`.
    pub fn firing(&self, alert: &str, labels: &[(&str, &str)]) -> Option<Value> {
        self.alerts(alert, labels)
            .into_iter()
            .find(|a| a["state"] == "firing")
    }

    /// Alerts of that name (pending or firing) whose labels include `labels`.
    pub fn alerts(&self, alert: &str, labels: &[(&str, &str)]) -> Vec<Value> {
        let data = self.api("/api/v1/alerts", None);
        data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| {
                a["labels"]["alertname"] == alert
                    && labels.iter().all(|(k, v)| a["labels"][*k] == *v)
            })
            .cloned()
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("e2e/prometheus.sh"))
            .arg("down")
            .arg(&self.dir)
            .output();
    }
}
