//! Publishing one namespace's evaluation, on the leader only: the report
//! (created, then spec and status written only when something other than the
//! evaluation time changed), a coverage Event when coverage flips, the
//! optional PolicyReport, and deleting the report of a namespace that left.

use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use netposture_api::{NetworkPostureReport, condition_types};
use netposture_engine::NamespacePosture;

use super::context::Context;
use super::failure::Failure;
use super::reconcile::ReconcileError;

/// Field manager of every write, so server-side apply knows which fields are ours.
pub const FIELD_MANAGER: &str = "netposture";

/// The report as the operator owns it: name, owner and spec, apart from status.
fn report_object(
    namespace: &Namespace,
    posture: &NamespacePosture,
    previous: Option<&NetworkPostureReport>,
) -> NetworkPostureReport {
    let name = namespace.name_any();
    let previous_conditions = previous
        .and_then(|r| r.status.as_ref())
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let mut report = NetworkPostureReport::from_posture(
        &name,
        posture.clone(),
        previous_conditions,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    report.metadata.owner_references = Some(vec![owner_reference(namespace)]);
    report
}

fn owner_reference(namespace: &Namespace) -> OwnerReference {
    OwnerReference {
        api_version: Namespace::api_version(&()).into_owned(),
        kind: Namespace::kind(&()).into_owned(),
        name: namespace.name_any(),
        uid: namespace.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

/// Whether the stored report already says what `desired` says; the
/// evaluation time alone is no difference.
pub fn unchanged(current: &NetworkPostureReport, desired: &NetworkPostureReport) -> (bool, bool) {
    let meta_same = current.spec == desired.spec
        && current.metadata.owner_references == desired.metadata.owner_references;
    let status_same = match (&current.status, &desired.status) {
        (Some(current), Some(desired)) => {
            current.posture == desired.posture && current.conditions == desired.conditions
        }
        _ => false,
    };
    (meta_same, status_same)
}

impl Context {
    pub(super) async fn publish(
        &self,
        namespace: &Namespace,
        posture: NamespacePosture,
    ) -> Result<(), ReconcileError> {
        let name = namespace.name_any();
        let previous = self.reports.get(&ObjectRef::new(&name));
        let desired = report_object(namespace, &posture, previous.as_deref());
        let (meta_same, status_same) = previous
            .as_deref()
            .map_or((false, false), |current| unchanged(current, &desired));
        self.publish_policy_report(&name, &posture, !status_same)
            .await;
        if meta_same && status_same {
            return Ok(());
        }
        let api: Api<NetworkPostureReport> = Api::all(self.client.clone());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        // A new report is created, not applied: the API server refuses
        // creates while the CRD is being deleted, whereas an apply would
        // create the object again behind the CRD's finalizer, which then
        // never finishes. One the store has not seen yet (409) is applied.
        let apply_meta = if previous.is_none() {
            let report = NetworkPostureReport {
                status: None,
                ..desired.clone()
            };
            let post = PostParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PostParams::default()
            };
            match self
                .guarded_write(&name, "create", api.create(&post, &report))
                .await
            {
                Ok(()) => false,
                Err(ReconcileError::Write {
                    source: kube::Error::Api(status),
                    ..
                }) if status.code == 409 => true,
                Err(error) => return Err(error),
            }
        } else {
            !meta_same
        };
        if apply_meta {
            let mut object = serde_json::json!({
                "apiVersion": NetworkPostureReport::api_version(&()),
                "kind": NetworkPostureReport::kind(&()),
                "metadata": {"name": name, "ownerReferences": desired.metadata.owner_references},
                "spec": desired.spec,
            });
            self.guarded_write(&name, "apply", async {
                api.patch(&name, &params, &Patch::Apply(&mut object)).await
            })
            .await?;
        }
        if !status_same {
            let status = serde_json::json!({
                "apiVersion": NetworkPostureReport::api_version(&()),
                "kind": NetworkPostureReport::kind(&()),
                "metadata": {"name": name},
                "status": desired.status,
            });
            self.guarded_write(&name, "apply status of", async {
                api.patch_status(&name, &params, &Patch::Apply(&status))
                    .await
            })
            .await?;
            let was_covered = previous
                .as_ref()
                .and_then(|r| r.status.as_ref())
                .map(|s| s.posture.covered);
            if let Some(was_covered) = was_covered.filter(|was| *was != posture.covered) {
                self.announce_coverage(namespace, &desired, was_covered)
                    .await;
            }
        }
        Ok(())
    }

    async fn publish_policy_report(&self, name: &str, posture: &NamespacePosture, changed: bool) {
        let Some(reports) = &self.policy_reports else {
            return;
        };
        if !self.policy_reports_available() || !self.leadership.is_leader() {
            return;
        }
        match reports.publish(name, posture, changed).await {
            Ok(true) => self.metrics.reports.policy_report_written(),
            Ok(false) => {}
            Err(error) => {
                self.metrics
                    .reports
                    .policy_report_write_failed(Failure::of(&error).as_str());
                tracing::warn!(namespace = name, %error, "could not write PolicyReport");
            }
        }
    }

    /// Performs one write unless leadership was lost meanwhile; counts it.
    async fn guarded_write<T>(
        &self,
        name: &str,
        action: &'static str,
        write: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<(), ReconcileError> {
        if !self.leadership.is_leader() {
            return Ok(());
        }
        match write.await {
            Ok(_) => {
                self.metrics.reports.written();
                tracing::debug!(report = name, action, "written");
                Ok(())
            }
            Err(source) => {
                self.metrics
                    .reports
                    .write_failed(Failure::of(&source).as_str());
                Err(ReconcileError::Write {
                    action,
                    name: name.to_string(),
                    source,
                })
            }
        }
    }

    async fn announce_coverage(
        &self,
        namespace: &Namespace,
        report: &NetworkPostureReport,
        was_covered: bool,
    ) {
        let covered = report.status.as_ref().and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == condition_types::COVERED)
        });
        let (type_, reason) = if was_covered {
            (EventType::Warning, "CoverageLost")
        } else {
            (EventType::Normal, "CoverageGained")
        };
        let event = Event {
            type_,
            reason: reason.into(),
            note: covered.map(|c| c.message.clone()),
            action: "Evaluate".into(),
            secondary: None,
        };
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Namespace".into()),
            name: Some(namespace.name_any()),
            // Stored in the namespace itself, so its owners can read it.
            namespace: Some(namespace.name_any()),
            uid: namespace.uid(),
            ..Default::default()
        };
        match self.recorder.publish(&event, &reference).await {
            Ok(()) => self.metrics.reports.event_published(reason),
            Err(error) => {
                tracing::warn!(namespace = %namespace.name_any(), %error, "could not publish event")
            }
        }
    }

    /// A namespace that is gone or excluded: no metrics, no report.
    pub fn forget_namespace(&self, name: &str) {
        self.metrics.remove_namespace(name);
        if self.leadership.is_leader() && self.reports.get(&ObjectRef::new(name)).is_some() {
            self.delete_report(name.to_string());
        }
    }

    fn delete_report(&self, name: String) {
        let api: Api<NetworkPostureReport> = Api::all(self.client.clone());
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {
                    metrics.reports.deleted();
                    tracing::info!(report = %name, "deleted report of a namespace that is gone or excluded");
                }
                Err(error) if Failure::of(&error) == Failure::NotFound => {}
                Err(error) => {
                    metrics.reports.write_failed(Failure::of(&error).as_str());
                    tracing::warn!(report = %name, %error, "could not delete report");
                }
            }
        });
    }
}

#[cfg(test)]
mod scripted_api;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use netposture_engine::Evaluator;

    use super::*;

    fn namespace(name: &str) -> Namespace {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "uid": "u-1"}}))
            .unwrap()
    }

    fn posture(covered: bool) -> NamespacePosture {
        let mut cluster = netposture_engine::Cluster::default();
        cluster.apply_namespace(&namespace("a"));
        let mut posture = Evaluator::new(&cluster, &Default::default())
            .namespace("a")
            .unwrap();
        posture.covered = covered;
        posture
    }

    #[test]
    fn evaluation_time_alone_is_no_change() {
        let ns = namespace("a");
        let first = report_object(&ns, &posture(false), None);
        std::thread::sleep(Duration::from_millis(5));
        let second = report_object(&ns, &posture(false), Some(&first));
        assert_ne!(
            first.status.as_ref().unwrap().last_evaluated,
            second.status.as_ref().unwrap().last_evaluated
        );
        assert_eq!(unchanged(&first, &second), (true, true));
    }

    #[test]
    fn changed_verdict_is_a_status_change_only() {
        let ns = namespace("a");
        let first = report_object(&ns, &posture(false), None);
        let second = report_object(&ns, &posture(true), Some(&first));
        assert_eq!(unchanged(&first, &second), (true, false));
    }

    #[test]
    fn edited_or_missing_owner_is_a_metadata_change() {
        let ns = namespace("a");
        let desired = report_object(&ns, &posture(false), None);
        let mut edited = desired.clone();
        edited.metadata.owner_references = None;
        assert_eq!(unchanged(&edited, &desired), (false, true));
        let mut hand_edited = desired.clone();
        hand_edited.status.as_mut().unwrap().posture.score = 100;
        assert!(!unchanged(&hand_edited, &desired).1);
    }

    #[test]
    fn report_is_owned_by_its_namespace() {
        let owner = &report_object(&namespace("a"), &posture(false), None)
            .metadata
            .owner_references
            .unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Namespace", "a", "u-1")
        );
        assert_eq!(owner.api_version, "v1");
    }
}
