//! The `NetworkPostureReport` custom resource (`networkpostures.netposture.io`):
//! one cluster-scoped object per namespace, named after it, with the engine's
//! verdicts in `status`. Shared by `netposture scan` and the operator.

mod conditions;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, CustomResourceExt};
use netposture_engine::NamespacePosture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use conditions::{condition_types, conditions};

/// Names the namespace a report describes (the same as the report's own name).
// Each printcolumn(...) repeats `type_`, which clippy mistakes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "netposture.io",
    version = "v1alpha1",
    kind = "NetworkPostureReport",
    plural = "networkpostures",
    singular = "networkposture",
    shortname = "npr",
    category = "netposture",
    status = "NetworkPostureStatus",
    doc = "Network security posture of one namespace, as measured by netposture",
    printcolumn(name = "Covered", type_ = "boolean", json_path = ".status.covered"),
    printcolumn(
        name = "Deny-In",
        type_ = "boolean",
        json_path = ".status.defaultDenyIngress"
    ),
    printcolumn(
        name = "Deny-Out",
        type_ = "boolean",
        json_path = ".status.defaultDenyEgress"
    ),
    printcolumn(
        name = "Egress-Open",
        type_ = "boolean",
        json_path = ".status.egressOpen"
    ),
    printcolumn(name = "DNS", type_ = "boolean", json_path = ".status.dnsAllowed"),
    printcolumn(name = "CNI", type_ = "string", json_path = ".status.cni.capable"),
    printcolumn(name = "Score", type_ = "integer", json_path = ".status.score"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPostureReportSpec {
    pub namespace: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPostureStatus {
    #[serde(flatten)]
    pub posture: NamespacePosture,
    /// Covered, DefaultDenyIngress, DefaultDenyEgress, DnsAllowed, EgressRestricted, CniCapable.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub last_evaluated: Time,
}

impl NetworkPostureReport {
    /// A report for `namespace`. `previous` conditions keep their transition
    /// times where the status did not change.
    pub fn from_posture(
        namespace: &str,
        posture: NamespacePosture,
        previous: &[Condition],
        now: Time,
    ) -> Self {
        let conditions = conditions(&posture, previous, now.clone());
        NetworkPostureReport {
            metadata: ObjectMeta {
                name: Some(namespace.to_string()),
                ..Default::default()
            },
            spec: NetworkPostureReportSpec {
                namespace: namespace.to_string(),
            },
            status: Some(NetworkPostureStatus {
                posture,
                conditions,
                last_evaluated: now,
            }),
        }
    }
}

/// The CRD as installed. The derived schema marks `status` nullable (it is an
/// `Option`), and API servers that publish OpenAPI v2 (1.20 and many later
/// ones, for `kubectl explain`) drop nullable properties from v2, so `kubectl
/// explain networkposture.status` showed no fields. The operator never writes
/// a null status, so the schema need not allow one.
pub fn crd() -> CustomResourceDefinition {
    let mut crd = NetworkPostureReport::crd();
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|s| s.properties.as_mut())
            .and_then(|p| p.get_mut("status"));
        if let Some(JSONSchemaProps { nullable, .. }) = status {
            *nullable = None;
        }
    }
    crd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every property path whose schema says `nullable: true`.
    fn nullable_paths(schema: &JSONSchemaProps, path: &str, found: &mut Vec<String>) {
        if schema.nullable == Some(true) {
            found.push(path.to_string());
        }
        for (name, property) in schema.properties.iter().flatten() {
            nullable_paths(property, &format!("{path}.{name}"), found);
        }
        if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(items)) = &schema.items {
            nullable_paths(items, &format!("{path}[]"), found);
        }
    }

    #[test]
    fn status_schema_is_not_nullable_so_kubectl_explain_shows_it() {
        let crd = crd();
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a schema");
        let mut found = Vec::new();
        nullable_paths(schema, "", &mut found);
        // A nullable property is missing from OpenAPI v2, wherever it is.
        assert!(found.is_empty(), "nullable: {found:?}");
        assert!(
            schema
                .properties
                .as_ref()
                .is_some_and(|p| p.contains_key("status"))
        );
    }

    #[test]
    fn crd_has_the_names_kubectl_users_type() {
        let crd = crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("networkpostures.netposture.io")
        );
        assert_eq!(crd.spec.scope, "Cluster");
        assert_eq!(crd.spec.names.short_names, Some(vec!["npr".to_string()]));
        assert_eq!(crd.spec.names.singular.as_deref(), Some("networkposture"));
        let columns: Vec<String> = crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            columns,
            [
                "Covered",
                "Deny-In",
                "Deny-Out",
                "Egress-Open",
                "DNS",
                "CNI",
                "Score",
                "Age"
            ]
        );
    }

    #[test]
    fn status_fields_use_the_documented_names() {
        let report = NetworkPostureReport::from_posture(
            "a",
            sample_posture(),
            &[],
            Time(k8s_openapi::jiff::Timestamp::now()),
        );
        let json = serde_json::to_value(&report).unwrap();
        let status = &json["status"];
        for field in [
            "covered",
            "defaultDenyIngress",
            "defaultDenyEgress",
            "egressOpen",
            "dnsAllowed",
            "unprotectedPods",
            "score",
            "checks",
            "conditions",
            "lastEvaluated",
        ] {
            assert!(
                !status[field].is_null(),
                "status.{field} missing in {status}"
            );
        }
        assert_eq!(status["cni"]["capable"], "Unknown");
        assert_eq!(status["pods"]["hostNetwork"], 0);
        let back: NetworkPostureReport = serde_json::from_value(json).unwrap();
        assert_eq!(back.status.unwrap().posture, sample_posture());
    }

    pub(crate) fn sample_posture() -> NamespacePosture {
        NamespacePosture {
            covered: false,
            default_deny_ingress: true,
            default_deny_egress: false,
            egress_open: true,
            dns_allowed: true,
            cni: netposture_engine::CniStatus {
                name: "unknown".into(),
                capable: netposture_engine::Capability::Unknown,
                evidence: "none".into(),
            },
            pods: Default::default(),
            unprotected_pods: vec![],
            unprotected_pods_omitted: 0,
            score: 40,
            checks: vec![],
            accepted_risks: vec![],
        }
    }
}
