//! How a Kubernetes dashboard is recognised: the labels its manifests and
//! Helm chart set, or its image.

use k8s_openapi::api::core::v1::PodSpec;

use crate::model::Labels;

/// `(key, value)` labels that mark dashboard pods and Services.
const LABELS: [(&str, &str); 2] = [
    ("k8s-app", "kubernetes-dashboard"),
    ("app.kubernetes.io/name", "kubernetes-dashboard"),
];

/// Image repository of the dashboard (v2 `dashboard`, v7 `dashboard-web`, `dashboard-api`, ...).
const IMAGE: &str = "kubernetesui/dashboard";

pub(crate) fn labelled(labels: &Labels) -> bool {
    LABELS
        .iter()
        .any(|(key, value)| labels.get(*key).is_some_and(|v| v == value))
}

/// A dashboard pod, by its labels or any container's image.
pub(crate) fn pod(labels: &Labels, spec: Option<&PodSpec>) -> bool {
    labelled(labels)
        || spec.is_some_and(|spec| {
            spec.containers
                .iter()
                .filter_map(|c| c.image.as_deref())
                .any(|image| image.contains(IMAGE))
        })
}
