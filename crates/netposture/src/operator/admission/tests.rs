//! Admission reviews answered from an index built from YAML, as the API
//! server would send them.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionReview};
use netposture_engine::diff::Condition;
use netposture_engine::{Cluster, Settings};
use serde_json::{Value, json};

use super::metrics::Outcome;
use super::review::{Answer, Inputs, NOT_SYNCED, not_synced, review};
use crate::config::{AdmissionRules, Config, Exclusion};

const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: coredns, image: coredns, ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
"#;

const DENY_ALL_EGRESS: &str = r#"{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
  "metadata": {"name": "deny-all", "namespace": "shop"},
  "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}"#;

fn index() -> Cluster {
    let mut cluster = Cluster::default();
    for document in CLUSTER.split("\n---\n") {
        let value: Value = serde_norway::from_str(document).expect("fixture YAML");
        match value["kind"].as_str() {
            Some("Namespace") => cluster.apply_namespace(&from::<Namespace>(value)),
            Some("Pod") => cluster.apply_pod(&from::<Pod>(value)),
            Some("NetworkPolicy") => cluster.apply_policy(&from::<NetworkPolicy>(value)),
            other => panic!("fixture kind {other:?}"),
        }
    }
    cluster
}

fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("fixture object")
}

/// An AdmissionReview v1 request as the API server sends it.
fn request(
    operation: &str,
    kind: (&str, &str),
    name: &str,
    object: Option<Value>,
    old: Option<Value>,
) -> AdmissionRequest<DynamicObject> {
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "4b3e-1", "operation": operation, "name": name, "namespace": "shop",
            "kind": {"group": kind.0, "version": "v1", "kind": kind.1},
            "resource": {"group": kind.0, "version": "v1", "resource": "x"},
            "userInfo": {"username": "alice"},
            "object": object, "oldObject": old, "dryRun": false,
        }
    });
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(review).expect("review");
    review.try_into().expect("a request")
}

fn create(object: &str) -> AdmissionRequest<DynamicObject> {
    let value: Value = serde_json::from_str(object).expect("object JSON");
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    request(
        "CREATE",
        ("networking.k8s.io", "NetworkPolicy"),
        &name,
        Some(value),
        None,
    )
}

fn answer(request: &AdmissionRequest<DynamicObject>, rules: &AdmissionRules) -> Answer {
    let cluster = index();
    review(
        request,
        &Inputs {
            cluster: &cluster,
            settings: &Settings::default(),
            exclusion: &Exclusion::default(),
            rules,
        },
    )
}

fn default_rules() -> AdmissionRules {
    Config::default().admission.rules().expect("default rules")
}

fn warnings(answer: &Answer) -> Vec<String> {
    answer.response.warnings.clone().unwrap_or_default()
}

#[test]
fn default_deny_egress_without_dns_is_allowed_with_a_dns_warning() {
    // With shop's policies gone first, the new deny-all isolates egress without DNS.
    let mut cluster = index();
    cluster.delete_policy("shop", "allow-dns");
    cluster.delete_policy("shop", "default-deny");
    let answer = review(
        &create(DENY_ALL_EGRESS),
        &Inputs {
            cluster: &cluster,
            settings: &Settings::default(),
            exclusion: &Exclusion::default(),
            rules: &default_rules(),
        },
    );
    assert!(answer.response.allowed);
    assert_eq!(answer.outcome, Outcome::Warned);
    let warnings = warnings(&answer);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("netposture: namespace shop loses DNS")),
        "{warnings:?}"
    );
    assert!(answer.warned.contains(&"dns-broken".to_string()));
}

#[test]
fn a_harmless_policy_is_allowed_without_warnings() {
    // shop already denies by default and allows DNS; another deny-all changes nothing.
    let answer = answer(&create(DENY_ALL_EGRESS), &default_rules());
    assert!(answer.response.allowed);
    assert_eq!(answer.outcome, Outcome::Allowed, "{:?}", warnings(&answer));
    assert!(answer.response.warnings.is_none());
}

#[test]
fn deleting_the_dns_rule_is_denied_when_configured_naming_the_condition() {
    let old = serde_norway::from_str::<Value>(CLUSTER.split("\n---\n").last().unwrap()).unwrap();
    let delete = request(
        "DELETE",
        ("networking.k8s.io", "NetworkPolicy"),
        "allow-dns",
        None,
        Some(old),
    );
    let rules = AdmissionRules {
        deny: vec![Condition::DnsBroken],
        ..default_rules()
    };
    let answer = answer(&delete, &rules);
    assert!(!answer.response.allowed);
    assert_eq!(answer.outcome, Outcome::Denied);
    assert_eq!(answer.denied, ["dns-broken"]);
    let message = &answer.response.result.message;
    assert!(
        message.contains("dns-broken: namespace shop loses DNS"),
        "{message}"
    );
    assert!(message.contains("allows no bypass"), "{message}");
}

#[test]
fn the_bypass_annotation_turns_a_denial_into_warnings() {
    let mut old: Value = serde_norway::from_str(CLUSTER.split("\n---\n").last().unwrap()).unwrap();
    let rules = AdmissionRules {
        deny: vec![Condition::DnsBroken],
        bypass_annotation: Some("netposture.io/admission-bypass".into()),
        ..default_rules()
    };
    let delete = |old: Value| {
        request(
            "DELETE",
            ("networking.k8s.io", "NetworkPolicy"),
            "allow-dns",
            None,
            Some(old),
        )
    };
    let refused = answer(&delete(old.clone()), &rules);
    assert!(!refused.response.allowed);
    assert!(
        refused
            .response
            .result
            .message
            .contains("annotate the NetworkPolicy with netposture.io/admission-bypass=\"true\"")
    );
    old["metadata"]["annotations"] = json!({"netposture.io/admission-bypass": "true"});
    let bypassed = answer(&delete(old), &rules);
    assert!(bypassed.response.allowed);
    assert!(bypassed.denied.is_empty());
    assert!(warnings(&bypassed).iter().any(|w| w.contains("bypassed")));
}

#[test]
fn other_kinds_are_allowed_untouched() {
    let pod =
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "shop"}});
    let answer = answer(
        &request("CREATE", ("", "Pod"), "x", Some(pod), None),
        &default_rules(),
    );
    assert!(answer.response.allowed && answer.response.warnings.is_none());
    assert_eq!(answer.outcome, Outcome::Allowed);
}

#[test]
fn an_unreadable_policy_is_allowed_with_a_note_not_a_panic() {
    let broken = r#"{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
      "metadata": {"name": "odd", "namespace": "shop"}, "spec": {"podSelector": "everything"}}"#;
    let answer = answer(&create(broken), &default_rules());
    assert!(answer.response.allowed);
    assert_eq!(answer.outcome, Outcome::Invalid);
    assert!(warnings(&answer)[0].contains("could not be read"));
}

#[test]
fn before_the_index_is_synced_the_answer_says_so() {
    let answer = not_synced(&create(DENY_ALL_EGRESS));
    assert!(answer.response.allowed);
    assert_eq!(warnings(&answer), [NOT_SYNCED]);
}
