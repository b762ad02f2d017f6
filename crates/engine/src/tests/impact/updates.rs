//! Updates that change nothing the engine indexes reach nothing; system
//! pods' label changes reach everyone.

use super::*;

pub(crate) fn k8s_pod(value: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(value).expect("a valid Pod")
}

pub(crate) fn web_pod(
    status: serde_json::Value,
    annotations: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "metadata": {"name": "web", "namespace": "a", "labels": {"app": "web"}, "annotations": annotations},
        "spec": {"containers": [{"name": "main", "image": "app"}]},
        "status": status,
    })
}

#[test]
pub(crate) fn pod_update_that_leaves_the_indexed_pod_unchanged_reaches_nothing() {
    let settings = Settings::default();
    let mut c = cluster(&three_tenants());
    let first = web_pod(
        serde_json::json!({"phase": "Pending"}),
        serde_json::json!({}),
    );
    assert_eq!(
        c.apply_pod_change(&settings, &k8s_pod(first)),
        names(&["a"])
    );
    // What kubelets write all the time: phase, conditions, container states.
    let running = web_pod(
        serde_json::json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "main", "image": "app", "imageID": "", "ready": true, "restartCount": 3}]}),
        serde_json::json!({"kubectl.kubernetes.io/restartedAt": "2026-12-06T17:00:00Z"}),
    );
    assert_eq!(
        c.apply_pod_change(&settings, &k8s_pod(running)),
        Affected::Nothing
    );
    let with_ip = web_pod(
        serde_json::json!({"phase": "Running", "podIP": "10.0.0.7"}),
        serde_json::json!({}),
    );
    assert_eq!(
        c.apply_pod_change(&settings, &k8s_pod(with_ip)),
        names(&["a"]),
        "its IP is indexed (ipBlock peers)"
    );
    assert_eq!(
        c.namespace("a").unwrap().pods["web"].ips,
        vec!["10.0.0.7".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
pub(crate) fn rejected_pod_applied_again_unchanged_reaches_nothing() {
    let settings = Settings::default();
    let mut c = cluster(&three_tenants());
    let bad = serde_json::json!({"metadata": {"name": "bad", "namespace": "a", "labels": {"x": "not valid!"}}});
    assert_eq!(
        c.apply_pod_change(&settings, &k8s_pod(bad.clone())),
        names(&["a"])
    );
    assert_eq!(
        c.apply_pod_change(&settings, &k8s_pod(bad)),
        Affected::Nothing
    );
}

#[test]
pub(crate) fn system_pod_status_churn_reaches_nothing_and_its_label_change_everyone() {
    let settings = Settings::default();
    let mut c = cluster(&three_tenants());
    let metrics = |version: &str, phase: &str| {
        k8s_pod(serde_json::json!({
            "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": {"app": "metrics", "version": version}},
            "spec": {"containers": [{"name": "main", "image": "app", "ports": [{"containerPort": 443}]}]},
            "status": {"phase": phase},
        }))
    };
    assert_eq!(
        c.apply_pod_change(&settings, &metrics("1", "Pending")),
        Affected::All
    );
    assert_eq!(
        c.apply_pod_change(&settings, &metrics("1", "Running")),
        Affected::Nothing
    );
    // Every namespace is checked against reaching it, and policies select it by labels.
    assert_eq!(
        c.apply_pod_change(&settings, &metrics("2", "Running")),
        Affected::All
    );
}

#[test]
pub(crate) fn host_network_system_pod_reaches_its_own_namespace_only() {
    // kube-proxy: on the node's network, so no namespace is judged on reaching it.
    let settings = Settings::default();
    let mut c = cluster(&three_tenants());
    let kube_proxy = |generation: &str| {
        k8s_pod(serde_json::json!({
            "metadata": {"name": "kube-proxy-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy", "generation": generation}},
            "spec": {"hostNetwork": true, "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.0"}]},
        }))
    };
    assert_eq!(
        c.apply_pod_change(&settings, &kube_proxy("1")),
        names(&["kube-system"])
    );
    assert_eq!(
        c.apply_pod_change(&settings, &kube_proxy("2")),
        names(&["kube-system"])
    );
}
