//! Reads Kubernetes manifests: files, directories (recursive `.yaml`, `.yml`,
//! `.json`) or stdin; multi-document YAML, JSON, and `List` objects as
//! `kubectl get -o yaml|json` prints them. Keeps only the kinds the engine
//! uses, each converted into the engine's index as it is read: a file's
//! text and the index are what is held, never a tree of its objects.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, PodTemplateSpec, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use netposture_engine::Cluster;
use netposture_engine::layers::{LayerPolicy, layer_kind};
use netposture_engine::model::Labels;
use serde::Deserialize;
use serde_json::Value;

use self::kinds::{WORKLOAD_KINDS, known_kind, qualified, read_versions};
use self::pods::{PodJob, PodPipeline};
use super::json_header::Header;
use super::json_items::{self, ListDefaults};
use super::json_stream::{self, StreamError};
use super::locations::{Locations, document_lines};

mod kinds;
mod pods;
#[cfg(test)]
mod same_model_tests;
#[cfg(test)]
mod tests;

/// Where an object came from, for messages.
#[derive(Clone, Debug)]
pub struct Origin {
    /// Shared by every object of the file.
    pub file: Arc<str>,
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

/// A workload's pod template: stands for its pods when no Pod objects are
/// given in its namespace, which is known once every file is read.
#[derive(Debug)]
pub struct Workload {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub template: Box<PodTemplateSpec>,
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
    /// Namespaces, Pods, NetworkPolicies, Services, Ingresses and
    /// PeerAuthentications, converted in the order read.
    pub cluster: Cluster,
    pub workloads: Vec<Workload>,
    /// Policies of other APIs: two with one name are both left out, which
    /// is known once every file is read.
    pub layers: Vec<LayerPolicy>,
    /// Namespaces of every Pod read, valid or not.
    pub namespaces_with_pods: BTreeSet<String>,
    /// Labels of the Pods the engine rejects (the others' are in
    /// `cluster`), by namespace, for [`crate::input::inventory::workloads_without_pods`].
    pub rejected_pod_labels: Vec<(String, Labels)>,
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

/// The object's name: `metadata.name`, else the prefix the server would
/// complete (`generateName`); `None` for an object the server rejects.
fn declared_name(header: &Header) -> Option<String> {
    let text = |field: &Option<String>| field.clone().filter(|n| !n.is_empty());
    match (text(&header.name), text(&header.generate_name)) {
        (Some(name), _) => Some(name),
        (None, Some(prefix)) => Some(format!("{prefix}<generated>")),
        (None, None) => None,
    }
}

/// The object's name for messages, or where it was read when it has none.
fn object_name(header: &Header, origin: &Origin) -> String {
    declared_name(header).unwrap_or_else(|| format!("(unnamed, {origin})"))
}

/// Reads every path (`-` is stdin) in order.
pub fn load(paths: &[PathBuf]) -> Result<Manifests, LoadError> {
    let mut manifests = Manifests::default();
    for path in paths {
        if path.as_os_str() == "-" {
            manifests.read("<stdin>", std::io::stdin().lock())?;
            continue;
        }
        for file in files_under(path)? {
            let name = file.display().to_string();
            let opened = std::fs::File::open(&file).map_err(|error| LoadError::Io {
                path: name.clone(),
                error,
            })?;
            manifests.read(&name, opened)?;
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
        manifests.read("test.yaml", text.as_bytes())?;
        Ok(manifests)
    }

    /// Reads one file: JSON while it is read, element by element; YAML
    /// (small, written by people) whole.
    fn read(&mut self, file: &str, reader: impl Read) -> Result<(), LoadError> {
        let io_error = |error| LoadError::Io {
            path: file.into(),
            error,
        };
        let mut reader = BufReader::new(reader);
        let json = loop {
            let head = reader.fill_buf().map_err(io_error)?;
            match head.iter().position(|byte| !byte.is_ascii_whitespace()) {
                Some(first) => {
                    let json = matches!(head[first], b'{' | b'[');
                    reader.consume(first);
                    break json;
                }
                None if head.is_empty() => return Ok(()),
                None => {
                    let blank = head.len();
                    reader.consume(blank);
                }
            }
        };
        if json {
            return self.read_json(file, reader);
        }
        let mut text = String::new();
        reader.read_to_string(&mut text).map_err(io_error)?;
        self.read_yaml(file, &text)
    }

    fn read_json(&mut self, file: &str, reader: impl Read) -> Result<(), LoadError> {
        let shared_file: Arc<str> = file.into();
        let mut index = 0;
        let no_defaults = ListDefaults::default();
        let streamed = std::thread::scope(|scope| {
            let mut pods = PodPipeline::start(scope);
            let mut take = |element: &str, defaults: Option<&ListDefaults>| {
                let Some(header) = Header::of(element, defaults)? else {
                    return Ok(false);
                };
                // Taken without the list's defaults: the element has its own.
                let defaults = defaults.unwrap_or(&no_defaults);
                let origin = origin(&shared_file, index, None);
                if let Some(pod) = self.add_element(element, header, defaults, &origin) {
                    pods.push(pod.into_owned(), self);
                }
                index += 1;
                Ok(true)
            };
            let streamed = json_stream::for_each_element(reader, &mut take);
            pods.finish(self);
            streamed
        });
        streamed.map_err(|error| match error {
            StreamError::Io(error) => LoadError::Io {
                path: file.into(),
                error,
            },
            StreamError::Syntax {
                line,
                column,
                message,
            } => LoadError::Syntax {
                path: file.into(),
                line,
                column,
                message: format!("{message} at line {line} column {column}"),
            },
        })
    }

    fn read_yaml(&mut self, file: &str, text: &str) -> Result<(), LoadError> {
        let shared_file: Arc<str> = file.into();
        let syntax = |e: serde_json::Error| LoadError::Syntax {
            path: file.into(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
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
            // YAML files are small: written as JSON, a document takes the JSON path.
            let element = serde_json::to_string(&value).map_err(syntax)?;
            let origin = origin(&shared_file, index, lines.get(index).copied());
            let defaults = ListDefaults::default();
            if let Some(header) = Header::of(&element, Some(&defaults)).map_err(syntax)?
                && let Some(pod) = self.add_element(&element, header, &defaults, &origin)
            {
                self.add_pod(pod.run());
            }
        }
        Ok(())
    }

    /// Adds an element to what is read; a Pod is given back, to be
    /// decoded and converted by the caller (see [`pods`]).
    fn add_element<'e>(
        &mut self,
        element: &'e str,
        mut header: Header<'_>,
        defaults: &ListDefaults,
        origin: &Origin,
    ) -> Option<PodJob<&'e str>> {
        if header.null {
            return None;
        }
        let kind = header.kind.take().unwrap_or_default();
        if kind.ends_with("List")
            && let Some(items) = header.items
        {
            let defaults = ListDefaults::of(&kind, header.api_version.as_deref());
            json_items::for_each_item(items, &defaults, &mut |item, defaults| {
                // Parsed already, as part of the list.
                if let Ok(Some(header)) = Header::of(item.get(), Some(defaults))
                    && let Some(pod) = self.add_element(item.get(), header, defaults, origin)
                {
                    self.add_pod(pod.run());
                }
            });
            return None;
        }
        let namespace = header.namespace.take();
        let api_version = header.api_version.as_deref().unwrap_or_default();
        // Core objects have no group ("v1"); others are "group/version".
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        if api_version.is_empty()
            && let Some(static_kind) = known_kind(&kind)
        {
            self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name: object_name(&header, origin),
                reason: "has no apiVersion".into(),
                origin: origin.clone(),
            });
            return None;
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
            return None;
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
            return None;
        }
        let Some(name) = declared_name(&header) else {
            self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name: object_name(&header, origin),
                reason: "has no metadata.name".into(),
                origin: origin.clone(),
            });
            return None;
        };
        self.locations
            .insert(static_kind, namespace.as_deref(), &name, origin);
        if let Some(kind) = layer {
            // Namespaced kinds default to `default`, as kubectl applies them.
            let namespace = namespace.or_else(|| (!kind.cluster_scoped).then(|| "default".into()));
            let value = completed_value(element, defaults);
            let policy = LayerPolicy::from_object(kind, namespace.as_deref(), &name, &value);
            self.layers.push(policy);
            return None;
        }
        let added = match (group, kind.as_str()) {
            ("", "Namespace") => {
                decode::<Namespace>(element).map(|n| self.cluster.apply_namespace(&n))
            }
            ("", "Pod") => {
                return Some(PodJob {
                    text: element,
                    namespace,
                    name,
                    origin: origin.clone(),
                });
            }
            ("", "Service") => decode::<Service>(element).map(|s| self.cluster.apply_service(&s)),
            ("networking.k8s.io", "NetworkPolicy") => {
                decode::<NetworkPolicy>(element).map(|p| self.cluster.apply_policy(&p))
            }
            ("networking.k8s.io", "Ingress") => {
                decode::<Ingress>(element).map(|i| self.cluster.apply_ingress(&i))
            }
            ("security.istio.io", "PeerAuthentication") => {
                let value = completed_value(element, defaults);
                self.cluster.apply_peer_authentication(&value);
                Ok(())
            }
            _ => match WORKLOAD_KINDS
                .iter()
                .find(|(g, k, _)| *g == group && *k == kind)
            {
                Some((_, kind, pointer)) => {
                    let value = completed_value(element, defaults);
                    let template = value.pointer(pointer).unwrap_or(&Value::Null);
                    PodTemplateSpec::deserialize(template)
                        .map_err(|e| e.to_string())
                        .map(|template| {
                            self.workloads.push(Workload {
                                kind,
                                namespace: namespace.clone(),
                                name: name.clone(),
                                template: Box::new(template),
                            })
                        })
                }
                None => return None,
            },
        };
        if let Err(error) = added {
            self.undecodable.push(Undecodable {
                kind: static_kind,
                namespace,
                name,
                reason: format!("does not decode as a {static_kind}: {error}"),
                origin: origin.clone(),
            });
        }
        None
    }
}

fn origin(file: &Arc<str>, index: usize, line: Option<usize>) -> Origin {
    Origin {
        file: Arc::clone(file),
        document: index + 1,
        line,
    }
}

/// Decodes an object of a used kind; the message names what does not fit,
/// without a position inside the object (the origin says where it is).
pub(super) fn decode<'t, T: Deserialize<'t>>(element: &'t str) -> Result<T, String> {
    serde_json::from_str(element).map_err(|error| json_stream::without_position(&error))
}

/// The element as a tree of values, for the few kinds the engine reads as
/// one; an item of a typed list gets the list's kind and apiVersion.
fn completed_value(element: &str, defaults: &ListDefaults) -> Value {
    let mut value: Value = serde_json::from_str(element).unwrap_or_default();
    if let Value::Object(fields) = &mut value {
        for (key, default) in [
            ("kind", &defaults.kind),
            ("apiVersion", &defaults.api_version),
        ] {
            if let Some(default) = default {
                fields
                    .entry(key)
                    .or_insert_with(|| Value::String(default.clone()));
            }
        }
    }
    value
}
