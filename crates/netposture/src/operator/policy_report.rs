//! Optional PolicyReport output (wgpolicyk8s.io/v1alpha2), for users of the
//! Kyverno policy-reporter UI: one report per namespace named `netposture`,
//! one result per check. Written only when its results change.

use std::collections::BTreeSet;
use std::sync::Mutex;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use netposture_engine::{CheckStatus, NamespacePosture, Severity};
use serde_json::{Value, json};

use super::failure::Failure;

const NAME: &str = "netposture";

pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "wgpolicyk8s.io",
        "v1alpha2",
        "PolicyReport",
    ))
}

/// The report's content, without timestamps, so equal content compares equal.
pub fn content(namespace: &str, posture: &NamespacePosture) -> Value {
    let mut summary = [
        ("pass", 0u32),
        ("fail", 0),
        ("warn", 0),
        ("error", 0),
        ("skip", 0),
    ];
    let results: Vec<Value> = posture
        .checks
        .iter()
        .map(|check| {
            let result = match check.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Fail => "fail",
                CheckStatus::Warn => "warn",
                // Accepted risks and checks that do not apply are not judged here.
                CheckStatus::Accepted | CheckStatus::NotApplicable => "skip",
            };
            if let Some(count) = summary.iter_mut().find(|(name, _)| *name == result) {
                count.1 += 1;
            }
            let mut entry = json!({
                "policy": "netposture",
                "rule": check.id,
                "result": result,
                "severity": severity(check.severity),
                "category": "Network Security",
                "source": "netposture",
                "message": check.message,
            });
            if !check.evidence.is_empty() {
                entry["properties"] = json!({"evidence": check.evidence.join(", ")});
            }
            entry
        })
        .collect();
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {
            "name": NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "netposture"},
        },
        "scope": {"apiVersion": "v1", "kind": "Namespace", "name": namespace},
        "summary": summary.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "results": results,
    })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// Writes PolicyReports once the CRD is known to exist; remembers which
/// namespaces it has confirmed current, so an unchanged namespace costs one
/// read per process and no write.
pub struct PolicyReports {
    client: kube::Client,
    current: Mutex<BTreeSet<String>>,
}

impl PolicyReports {
    pub fn new(client: kube::Client) -> Self {
        PolicyReports {
            client,
            current: Mutex::new(BTreeSet::new()),
        }
    }

    /// Whether the PolicyReport CRD is served.
    pub async fn available(&self) -> bool {
        let gvk = GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport");
        kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .is_ok()
    }

    fn current(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets what was confirmed, e.g. when the CRD (re)appears.
    pub fn reset(&self) {
        self.current().clear();
    }

    /// Brings the namespace's PolicyReport to `posture`; `changed` says the
    /// posture differs from what was last published. Returns whether it wrote.
    pub async fn publish(
        &self,
        namespace: &str,
        posture: &NamespacePosture,
        changed: bool,
    ) -> Result<bool, kube::Error> {
        let desired = content(namespace, posture);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource());
        if !changed && self.current().contains(namespace) {
            return Ok(false);
        }
        if !changed {
            match api.get(NAME).await {
                Ok(existing) if same(&existing, &desired) => {
                    self.current().insert(namespace.to_string());
                    return Ok(false);
                }
                Ok(_) => {}
                Err(error) if Failure::of(&error) == Failure::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        let params = PatchParams::apply(super::publish::FIELD_MANAGER).force();
        api.patch(NAME, &params, &Patch::Apply(&desired)).await?;
        self.current().insert(namespace.to_string());
        Ok(true)
    }
}

fn same(existing: &DynamicObject, desired: &Value) -> bool {
    existing.data.get("results") == desired.get("results")
        && existing.data.get("summary") == desired.get("summary")
        && existing.data.get("scope") == desired.get("scope")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posture() -> NamespacePosture {
        let mut cluster = netposture_engine::Cluster::default();
        cluster.apply_namespace(
            &serde_json::from_value(json!({"metadata": {"name": "dev"}})).unwrap(),
        );
        cluster.apply_pod(
            &serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "dev"}}))
                .unwrap(),
        );
        let settings = netposture_engine::Settings::default();
        netposture_engine::Evaluator::new(&cluster, &settings)
            .namespace("dev")
            .unwrap()
    }

    #[test]
    fn every_check_is_one_result_and_the_summary_counts_them() {
        let posture = posture();
        let report = content("dev", &posture);
        let results = report["results"].as_array().unwrap();
        assert_eq!(results.len(), posture.checks.len());
        let total: u64 = report["summary"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total as usize, results.len());
        let deny = results
            .iter()
            .find(|r| r["rule"] == "default-deny-ingress")
            .unwrap();
        assert_eq!(deny["result"], "fail");
        assert_eq!(
            report["summary"]["fail"],
            results.iter().filter(|r| r["result"] == "fail").count()
        );
        assert_eq!(report["scope"]["name"], "dev");
        assert_eq!(report["metadata"]["namespace"], "dev");
    }

    #[test]
    fn accepted_and_inapplicable_checks_are_skipped() {
        let mut posture = posture();
        posture.checks[0].status = CheckStatus::Accepted;
        let report = content("dev", &posture);
        assert_eq!(report["results"][0]["result"], "skip");
    }
}
