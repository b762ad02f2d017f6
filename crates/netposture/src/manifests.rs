//! Reads Kubernetes manifests: files, directories (recursive `.yaml`, `.yml`,
//! `.json`) or stdin; multi-document YAML, JSON, and `List` objects as
//! `kubectl get -o yaml|json` prints them. Keeps only the kinds the engine
//! uses.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use netposture_engine::layers::{LAYER_KINDS, LayerPolicy, layer_kind};
use serde::Deserialize;
use serde_json::Value;

use crate::json_items::complete_list_item;
use crate::locations::{Locations, document_lines};

/// Where an object came from, for messages.
#[derive(Clone, Debug)]
pub struct Origin {
    pub file: String,
    /// 1-based index of the YAML document (or JSON value) in the file.
    pub document: usize,
    /// 1-based line where the YAML document starts; `None` in JSON.
    pub line: Option<usize>,
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

/// An object of a used kind that the API server would reject: it does not
/// decode as that kind, or lacks `apiVersion` or `metadata.name`.
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
    /// Objects of a used kind in an `apiVersion` netposture does not read.
    pub unread_versions: Vec<UnreadVersion>,
    /// Where each named object of a used kind was read.
    pub locations: Locations,
}

/// An object of a used kind in a version netposture does not read (an old
/// beta, or one no server serves): left out, and named on stderr.
#[derive(Debug)]
pub struct UnreadVersion {
    pub kind: &'static str,
    pub api_version: String,
    /// The `apiVersion`s read for this kind.
    pub read: Vec<String>,
    pub origin: Origin,
}

impl std::fmt::Display for UnreadVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} of apiVersion {} is left out: netposture reads {}",
            self.origin,
            self.kind,
            self.api_version,
            self.read.join(", ")
        )
    }
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
fn read_versions(group: &str, kind: &str) -> Option<(&'static str, &'static [&'static str])> {
    READ_KINDS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, kind, versions)| (*kind, *versions))
}

/// A used kind of any group by its name, for objects that name no group.
fn known_kind(kind: &str) -> Option<&'static str> {
    READ_KINDS
        .iter()
        .map(|(_, k, _)| *k)
        .chain(LAYER_KINDS.iter().map(|l| l.kind))
        .find(|k| *k == kind)
}

fn qualified(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The object's name: `metadata.name`, else the prefix the server would
/// complete (`generateName`); `None` for an object the server rejects.
fn declared_name(value: &Value) -> Option<String> {
    let metadata = &value["metadata"];
    let text = |key: &str| metadata[key].as_str().filter(|n| !n.is_empty());
    match (text("name"), text("generateName")) {
        (Some(name), _) => Some(name.to_string()),
        (None, Some(prefix)) => Some(format!("{prefix}<generated>")),
        (None, None) => None,
    }
}

/// The object's name for messages, or where it was read when it has none.
fn object_name(value: &Value, origin: &Origin) -> String {
    declared_name(value).unwrap_or_else(|| format!("(unnamed, {origin})"))
}

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
    /// Manifests read from one text, as if from a file `test.yaml`.
    #[cfg(test)]
    pub fn from_text(text: &str) -> Result<Self, LoadError> {
        let mut manifests = Manifests::default();
        manifests.read_text("test.yaml", text)?;
        Ok(manifests)
    }

    fn read_text(&mut self, file: &str, text: &str) -> Result<(), LoadError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let mut index = 0;
            let mut each = |value: Value| {
                self.add_value(value, &origin(file, index, None));
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
        let lines = document_lines(text);
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
            self.add_value(value, &origin(file, index, lines.get(index).copied()));
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
            let api_version = value["apiVersion"].as_str();
            for mut item in items {
                complete_list_item(&mut item, &kind, api_version);
                self.add_value(item, origin);
            }
            return;
        }
        let namespace = value["metadata"]["namespace"].as_str().map(str::to_string);
        let api_version = value["apiVersion"].as_str().unwrap_or_default();
        // Core objects have no group ("v1"); others are "group/version".
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        if api_version.is_empty()
            && let Some(static_kind) = known_kind(&kind)
        {
            self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name: object_name(&value, origin),
                reason: "has no apiVersion".into(),
                origin: origin.clone(),
            });
            return;
        }
        let layer = layer_kind(group, &kind);
        let read = read_versions(group, &kind);
        let Some(static_kind) = layer.map(|l| l.kind).or(read.map(|(kind, _)| kind)) else {
            let label = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            *self.skipped.entry(label).or_default() += 1;
            return;
        };
        if let Some((_, versions)) = read
            && !versions.contains(&version)
        {
            self.unread_versions.push(UnreadVersion {
                kind: static_kind,
                api_version: api_version.to_string(),
                read: versions.iter().map(|v| qualified(group, v)).collect(),
                origin: origin.clone(),
            });
            return;
        }
        let Some(name) = declared_name(&value) else {
            self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name: object_name(&value, origin),
                reason: "has no metadata.name".into(),
                origin: origin.clone(),
            });
            return;
        };
        self.locations
            .insert(static_kind, namespace.as_deref(), &name, origin);
        if let Some(kind) = layer {
            // Namespaced kinds default to `default`, as kubectl applies them.
            let namespace = namespace.or_else(|| (!kind.cluster_scoped).then(|| "default".into()));
            let policy = LayerPolicy::from_object(kind, namespace.as_deref(), &name, &value);
            self.objects.push(Object::PolicyLayer(Box::new(policy)));
            return;
        }
        let decoded = match (group, kind.as_str()) {
            ("", "Namespace") => decode(&value).map(Object::Namespace),
            ("", "Pod") => decode(&value).map(|pod| Object::Pod(Box::new(pod))),
            ("", "Service") => decode(&value).map(|service| Object::Service(Box::new(service))),
            ("networking.k8s.io", "NetworkPolicy") => decode(&value).map(Object::NetworkPolicy),
            ("networking.k8s.io", "Ingress") => {
                decode(&value).map(|ingress| Object::Ingress(Box::new(ingress)))
            }
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
                    decode(&template).map(|template| Object::Workload {
                        kind,
                        namespace: namespace.clone(),
                        name: name.clone(),
                        template: Box::new(template),
                    })
                }
                None => return,
            },
        };
        match decoded {
            Ok(object) => self.objects.push(object),
            Err(error) => self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name,
                reason: format!("does not decode as a {static_kind}: {error}"),
                origin: origin.clone(),
            }),
        }
    }
}

fn origin(file: &str, index: usize, line: Option<usize>) -> Origin {
    Origin {
        file: file.into(),
        document: index + 1,
        line,
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Manifests, LoadError> {
        Manifests::from_text(text)
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
    fn typed_list_items_without_kind_are_read_as_the_list_kind() {
        let m = read("apiVersion: v1\nkind: NamespaceList\nitems:\n- metadata: {name: x, labels: {team: a}}\n").unwrap();
        assert!(
            matches!(&m.objects[..], [Object::Namespace(n)] if n.metadata.labels.as_ref().unwrap()["team"] == "a"),
            "{:?}",
            m.objects
        );
        assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    }

    #[test]
    fn typed_json_list_items_without_kind_are_read_as_the_list_kind() {
        let m = read(r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a","namespace":"x"},"spec":{"containers":[]}}]}"#).unwrap();
        assert!(
            matches!(&m.objects[..], [Object::Pod(p)] if p.metadata.name.as_deref() == Some("a")),
            "{:?}",
            m.objects
        );
    }

    #[test]
    fn a_pod_without_api_version_or_name_is_rejected_not_read() {
        let m = read("kind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: []}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\nspec: {containers: []}\n").unwrap();
        assert!(m.objects.is_empty(), "{:?}", m.objects);
        let reasons: Vec<(&str, &str, &str)> = m
            .undecodable
            .iter()
            .map(|u| (u.kind, u.name.as_str(), u.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("Pod", "a", "has no apiVersion"),
                (
                    "Pod",
                    "(unnamed, test.yaml (document 2))",
                    "has no metadata.name"
                )
            ]
        );
    }

    #[test]
    fn a_generated_name_stands_for_the_name() {
        let m = read("apiVersion: v1\nkind: Pod\nmetadata: {generateName: job-, namespace: x}\nspec: {containers: []}\n").unwrap();
        assert!(m.undecodable.is_empty(), "{:?}", m.undecodable);
        assert_eq!(m.objects.len(), 1);
    }

    #[test]
    fn a_used_kind_in_an_unknown_version_is_named_and_left_out() {
        let m = read("apiVersion: v2\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\n").unwrap();
        assert!(m.objects.is_empty(), "{:?}", m.objects);
        let named: Vec<String> = m.unread_versions.iter().map(ToString::to_string).collect();
        assert_eq!(
            named,
            [
                "test.yaml (document 1): Pod of apiVersion v2 is left out: netposture reads v1",
                "test.yaml (document 2): CronJob of apiVersion batch/v1beta1 is left out: netposture reads batch/v1"
            ]
        );
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
