//! Reads Kubernetes manifests: files, directories (recursive `.yaml`, `.yml`,
//! `.json`) or stdin; multi-document YAML, JSON, and `List` objects as
//! `kubectl get -o yaml|json` prints them. Keeps only the kinds the engine
//! uses.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use netposture_engine::layers::{LayerPolicy, layer_kind};
use serde::Deserialize;
use serde_json::Value;

/// Where an object came from, for messages.
#[derive(Clone, Debug)]
pub struct Origin {
    pub file: String,
    /// 1-based index of the YAML document (or JSON value) in the file.
    pub document: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (document {})", self.file, self.document)
    }
}

#[derive(Debug)]
pub enum Object {
    Namespace(Namespace),
    Pod(Box<Pod>),
    NetworkPolicy(NetworkPolicy),
    Service(Box<Service>),
    Ingress(Box<Ingress>),
    /// An Istio PeerAuthentication (security.istio.io, v1beta1 or v1), as the engine takes it.
    PeerAuthentication(Value),
    /// A policy of another API (cluster-wide tier or CNI-specific), converted.
    PolicyLayer(Box<LayerPolicy>),
    /// A workload's pod template: stands for its pods when no Pod objects are given.
    Workload {
        kind: &'static str,
        namespace: Option<String>,
        name: String,
        template: Box<PodTemplateSpec>,
    },
}

/// An object of a used kind that does not decode as that kind.
#[derive(Debug)]
pub struct Undecodable {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub reason: String,
    pub origin: Origin,
}

#[derive(Debug, Default)]
pub struct Manifests {
    pub objects: Vec<Object>,
    pub undecodable: Vec<Undecodable>,
    /// Objects of kinds the engine does not use, by kind.
    pub skipped: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Workload kinds by API group, with where their pod template sits.
const WORKLOAD_KINDS: [(&str, &str, &str); 7] = [
    ("apps", "Deployment", "/spec/template"),
    ("apps", "StatefulSet", "/spec/template"),
    ("apps", "DaemonSet", "/spec/template"),
    ("apps", "ReplicaSet", "/spec/template"),
    ("", "ReplicationController", "/spec/template"),
    ("batch", "Job", "/spec/template"),
    ("batch", "CronJob", "/spec/jobTemplate/spec/template"),
];

/// Reads every path (`-` is stdin) in order.
pub fn load(paths: &[PathBuf]) -> Result<Manifests, LoadError> {
    let mut manifests = Manifests::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| LoadError::Io {
                    path: "<stdin>".into(),
                    error,
                })?;
            manifests.read_text("<stdin>", &text)?;
            continue;
        }
        for file in files_under(path)? {
            let text = std::fs::read_to_string(&file).map_err(|error| LoadError::Io {
                path: file.display().to_string(),
                error,
            })?;
            manifests.read_text(&file.display().to_string(), &text)?;
        }
    }
    Ok(manifests)
}

fn files_under(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io_error = |error| LoadError::Io {
        path: path.display().to_string(),
        error,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io_error)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_error)?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            files.extend(files_under(&entry)?);
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            files.push(entry);
        }
    }
    Ok(files)
}

impl Manifests {
    fn read_text(&mut self, file: &str, text: &str) -> Result<(), LoadError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let mut index = 0;
            let mut each = |value: Value| {
                self.add_value(value, &origin(file, index));
                index += 1;
            };
            return crate::json_items::for_each_value(text, &mut each).map_err(|e| {
                LoadError::Syntax {
                    path: file.into(),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                }
            });
        }
        for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
            let value = Value::deserialize(document).map_err(|e| {
                let location = e.location();
                LoadError::Syntax {
                    path: file.into(),
                    line: location.as_ref().map_or(0, |l| l.line()),
                    column: location.as_ref().map_or(0, |l| l.column()),
                    message: e.to_string(),
                }
            })?;
            self.add_value(value, &origin(file, index));
        }
        Ok(())
    }

    fn add_value(&mut self, mut value: Value, origin: &Origin) {
        if value.is_null() {
            return;
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        // Take the items out rather than copy them: a List may hold every pod of a cluster.
        if kind.ends_with("List")
            && let Some(Value::Array(items)) = value.get_mut("items").map(Value::take)
        {
            for item in items {
                self.add_value(item, origin);
            }
            return;
        }
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let namespace = value["metadata"]["namespace"].as_str().map(str::to_string);
        let api_version = value["apiVersion"].as_str().unwrap_or_default();
        // Core objects have no group ("v1"); others are "group/version".
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        if let Some(kind) = layer_kind(group, &kind) {
            // Namespaced kinds default to `default`, as kubectl applies them.
            let namespace = namespace.or_else(|| (!kind.cluster_scoped).then(|| "default".into()));
            let policy = LayerPolicy::from_object(kind, namespace.as_deref(), &name, &value);
            self.objects.push(Object::PolicyLayer(Box::new(policy)));
            return;
        }
        let (static_kind, decoded): (&'static str, _) = match (group, kind.as_str()) {
            ("", "Namespace") => ("Namespace", decode(&value).map(Object::Namespace)),
            ("", "Pod") => ("Pod", decode(&value).map(|pod| Object::Pod(Box::new(pod)))),
            ("", "Service") => (
                "Service",
                decode(&value).map(|service| Object::Service(Box::new(service))),
            ),
            ("networking.k8s.io", "NetworkPolicy") => {
                ("NetworkPolicy", decode(&value).map(Object::NetworkPolicy))
            }
            // Older Ingress versions have another backend shape; they are counted as skipped.
            ("networking.k8s.io", "Ingress") if api_version == "networking.k8s.io/v1" => (
                "Ingress",
                decode(&value).map(|ingress| Object::Ingress(Box::new(ingress))),
            ),
            ("security.istio.io", "PeerAuthentication") => {
                self.objects.push(Object::PeerAuthentication(value));
                return;
            }
            _ => match WORKLOAD_KINDS
                .iter()
                .find(|(g, k, _)| *g == group && *k == kind)
            {
                Some((_, kind, pointer)) => {
                    let template = value.pointer(pointer).cloned().unwrap_or(Value::Null);
                    let decoded = decode(&template).map(|template| Object::Workload {
                        kind,
                        namespace: namespace.clone(),
                        name: name.clone(),
                        template: Box::new(template),
                    });
                    (*kind, decoded)
                }
                None => {
                    let label = if group.is_empty() {
                        kind
                    } else {
                        format!("{kind}.{group}")
                    };
                    *self.skipped.entry(label).or_default() += 1;
                    return;
                }
            },
        };
        match decoded {
            Ok(object) => self.objects.push(object),
            Err(reason) => self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name,
                reason,
                origin: origin.clone(),
            }),
        }
    }
}

fn origin(file: &str, index: usize) -> Origin {
    Origin {
        file: file.into(),
        document: index + 1,
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Manifests, LoadError> {
        let mut manifests = Manifests::default();
        manifests.read_text("test.yaml", text)?;
        Ok(manifests)
    }

    #[test]
    fn multi_document_yaml_keeps_used_kinds_and_counts_the_rest() {
        let m = read("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {}}\n").unwrap();
        assert_eq!(m.objects.len(), 2);
        assert_eq!(m.skipped.get("ConfigMap"), Some(&1));
    }

    #[test]
    fn services_are_kept_for_the_engine() {
        let m = read("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: a}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}\n").unwrap();
        assert!(
            matches!(&m.objects[..], [Object::Service(s)] if s.metadata.name.as_deref() == Some("web"))
        );
        assert!(m.skipped.is_empty());
    }

    #[test]
    fn ingresses_of_v1_and_peer_authentications_are_kept() {
        let m = read("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop, namespace: a}\nspec: {rules: [{host: shop.example.com}]}\n---\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old, namespace: a}\n---\napiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n").unwrap();
        assert!(
            matches!(&m.objects[..], [Object::Ingress(i), Object::PeerAuthentication(p)]
                if i.metadata.name.as_deref() == Some("shop") && p["spec"]["portLevelMtls"]["8080"]["mode"] == "DISABLE"),
            "{:?}",
            m.objects
        );
        assert_eq!(m.skipped.get("Ingress.extensions"), Some(&1));
    }

    #[test]
    fn v1_list_items_are_read() {
        let m = read(r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"},"spec":{"containers":[]}},{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}]}"#).unwrap();
        assert_eq!(m.objects.len(), 2);
    }

    #[test]
    fn yaml_syntax_error_names_the_line() {
        let err =
            read("apiVersion: v1\nkind: Pod\n---\nmetadata:\n  name: [unclosed\n").unwrap_err();
        match err {
            LoadError::Syntax { line, .. } => assert_eq!(line, 6, "{err}"),
            other => panic!("expected a syntax error, got {other}"),
        }
    }

    #[test]
    fn json_syntax_error_names_line_and_column() {
        let err = read("{\n  \"kind\": \"Pod\",\n  oops\n}").unwrap_err();
        assert!(err.to_string().starts_with("test.yaml:3:"), "{err}");
    }

    #[test]
    fn same_kind_in_another_api_group_is_not_a_kubernetes_network_policy() {
        let m = read("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c, namespace: a}\nspec: {selector: all()}\n---\napiVersion: example.com/v1\nkind: Pod\nmetadata: {name: p}\n").unwrap();
        assert!(
            matches!(&m.objects[..], [Object::PolicyLayer(p)] if p.kind.kind == "NetworkPolicy" && p.kind.group == "crd.projectcalico.org")
        );
        assert_eq!(m.skipped.get("Pod.example.com"), Some(&1));
    }

    #[test]
    fn workload_templates_are_kept_with_their_kind() {
        let m = read("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: jobs}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {metadata: {labels: {app: nightly}}, spec: {containers: [{name: c, image: busybox}]}}}}}\n").unwrap();
        match &m.objects[0] {
            Object::Workload {
                kind,
                name,
                template,
                ..
            } => {
                assert_eq!((*kind, name.as_str()), ("CronJob", "nightly"));
                assert_eq!(
                    template.metadata.as_ref().unwrap().labels.as_ref().unwrap()["app"],
                    "nightly"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn object_of_a_used_kind_that_does_not_decode_is_reported_not_fatal() {
        let m = read("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{ports: [{port: {nested: 1}}]}]}\n").unwrap();
        assert!(m.objects.is_empty());
        assert_eq!(m.undecodable.len(), 1);
        assert_eq!(m.undecodable[0].name, "p");
    }
}
