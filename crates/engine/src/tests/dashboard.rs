//! `dashboard-exposed`: a Kubernetes dashboard reachable from outside.

use super::*;
use crate::posture::{Check, CheckStatus, Severity, ids};

const DASHBOARD_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: dashboard-1, namespace: kubernetes-dashboard, labels: {app: ui}}\nspec: {containers: [{name: d, image: 'docker.io/kubernetesui/dashboard:v2.7.0', ports: [{containerPort: 8443}]}]}\n---\n";

fn dashboard_check(cluster: &Cluster) -> Check {
    posture(cluster, "kubernetes-dashboard")
        .check(ids::DASHBOARD_EXPOSED)
        .unwrap()
        .clone()
}

#[test]
fn dashboard_behind_a_load_balancer_fails_critical() {
    let c = cluster(&format!(
        "{DASHBOARD_POD}{}",
        service(
            "kubernetes-dashboard",
            "kubernetes-dashboard",
            "{type: LoadBalancer, selector: {app: ui}, ports: [{port: 443, targetPort: 8443}]}"
        )
    ));
    let check = dashboard_check(&c);
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::Critical);
    assert_eq!(
        check.evidence,
        ["service/kubernetes-dashboard (LoadBalancer) exposes the dashboard"],
        "recognised by the image of the pod the Service selects"
    );
}

#[test]
fn ingress_to_a_labelled_dashboard_service_fails_even_without_pods() {
    let c = cluster(&format!(
        "{}{}",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web-ui, namespace: kubernetes-dashboard, labels: {app.kubernetes.io/name: kubernetes-dashboard}}\nspec: {selector: {app: ui}, ports: [{port: 443}]}\n---\n",
        ingress(
            "kubernetes-dashboard",
            "ui",
            "{tls: [{hosts: [ui.example.com]}], rules: [{host: ui.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web-ui, port: {number: 443}}}}]}}]}"
        )
    ));
    let check = dashboard_check(&c);
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(
        check.evidence,
        ["ingress/ui -> service/web-ui:443 routes to the dashboard"]
    );
}

#[test]
fn dashboard_reachable_only_inside_passes() {
    let c = cluster(&format!(
        "{DASHBOARD_POD}{}",
        service(
            "kubernetes-dashboard",
            "kubernetes-dashboard",
            "{selector: {app: ui}, ports: [{port: 443, targetPort: 8443}]}"
        )
    ));
    let check = dashboard_check(&c);
    assert_eq!(check.status, CheckStatus::Pass);
    assert_eq!(
        check.evidence,
        ["service/kubernetes-dashboard", "pod/dashboard-1"]
    );
}

#[test]
fn dashboard_is_recognised_by_its_labels() {
    let c = cluster(&pod(
        "kubernetes-dashboard",
        "d",
        "k8s-app: kubernetes-dashboard",
    ));
    assert_eq!(dashboard_check(&c).status, CheckStatus::Pass);
}

#[test]
fn namespace_without_dashboard_is_not_applicable() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        service(
            "a",
            "web",
            "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}"
        )
    ));
    assert_eq!(
        posture(&c, "a")
            .check(ids::DASHBOARD_EXPOSED)
            .unwrap()
            .status,
        CheckStatus::NotApplicable
    );
}
