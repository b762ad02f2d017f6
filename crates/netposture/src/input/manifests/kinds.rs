//! The kinds and versions the reader uses, by API group.

use netposture_engine::layers::LAYER_KINDS;

/// Workload kinds by API group, with where their pod template sits.
pub const WORKLOAD_KINDS: [(&str, &str, &str); 7] = [
    ("apps", "Deployment", "/spec/template"),
    ("apps", "StatefulSet", "/spec/template"),
    ("apps", "DaemonSet", "/spec/template"),
    ("apps", "ReplicaSet", "/spec/template"),
    ("", "ReplicationController", "/spec/template"),
    ("batch", "Job", "/spec/template"),
    ("batch", "CronJob", "/spec/jobTemplate/spec/template"),
];

/// Used kinds outside the policy layers, by API group, with the versions read.
const READ_KINDS: [(&str, &str, &[&str]); 13] = [
    ("", "Namespace", &["v1"]),
    ("", "Pod", &["v1"]),
    ("", "Service", &["v1"]),
    ("", "ReplicationController", &["v1"]),
    ("networking.k8s.io", "NetworkPolicy", &["v1"]),
    // Older Ingress versions have another backend shape.
    ("networking.k8s.io", "Ingress", &["v1"]),
    (
        "security.istio.io",
        "PeerAuthentication",
        &["v1beta1", "v1"],
    ),
    ("apps", "Deployment", &["v1"]),
    ("apps", "StatefulSet", &["v1"]),
    ("apps", "DaemonSet", &["v1"]),
    ("apps", "ReplicaSet", &["v1"]),
    ("batch", "Job", &["v1"]),
    ("batch", "CronJob", &["v1"]),
];

/// The kind's name and the versions read, for a used kind of `group`.
pub fn read_versions(group: &str, kind: &str) -> Option<(&'static str, &'static [&'static str])> {
    READ_KINDS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, kind, versions)| (*kind, *versions))
}

/// A used kind of any group by its name, for objects that name no group.
pub fn known_kind(kind: &str) -> Option<&'static str> {
    READ_KINDS
        .iter()
        .map(|(_, k, _)| *k)
        .chain(LAYER_KINDS.iter().map(|l| l.kind))
        .find(|k| *k == kind)
}

pub fn qualified(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}
