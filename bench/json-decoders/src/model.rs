//! What netposture decodes from each item, restated here so the bench does
//! not pull in the netposture crate (and k8s-openapi with it). The Pod
//! structs have the fields of `crates/netposture/src/input/lean_pod.rs`;
//! `ContainerPort` and `PodIP` stand in for k8s-openapi's with the same JSON
//! fields. Everything is plain `Deserialize`, so one definition serves
//! serde_json, sonic-rs and simd-json alike.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Deserialize)]
pub struct LeanPod {
    pub metadata: Option<LeanMetadata>,
    pub spec: Option<LeanSpec>,
    pub status: Option<LeanStatus>,
}

#[derive(Debug, Deserialize)]
pub struct LeanMetadata {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeanSpec {
    pub containers: Option<Vec<LeanContainer>>,
    pub init_containers: Option<Vec<LeanContainer>>,
    pub host_network: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeanContainer {
    pub name: Option<String>,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub ports: Option<Vec<ContainerPort>>,
    pub restart_policy: Option<String>,
}

/// k8s-openapi's `ContainerPort`: `containerPort` is required there too.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: i32,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    pub host_port: Option<i32>,
    pub name: Option<String>,
    pub protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeanStatus {
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pub pod_ips: Option<Vec<PodIp>>,
}

/// k8s-openapi's `PodIP`.
#[derive(Debug, Deserialize)]
pub struct PodIp {
    pub ip: String,
}

/// The header fields `json_header.rs` reads before choosing a decoder. As
/// there, a field of an unexpected JSON type counts as absent instead of
/// failing the item. (`items` of a nested List is left out: the generated
/// files have none, and only serde_json has a `RawValue` to keep it in.)
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Header {
    pub null: bool,
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
}

impl Header {
    pub fn is_pod(&self) -> bool {
        self.kind.as_deref() == Some("Pod") && self.api_version.as_deref() == Some("v1")
    }
}

/// Reads any JSON value; a string gives `Some`, anything else `None`.
#[derive(Debug, Default)]
pub struct Loose(pub Option<String>);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// Generates the visitor methods that read numbers, booleans, `null` and
/// arrays as the visitor's default value.
macro_rules! skip_scalars_and_arrays {
    ($t:ty) => {
        fn visit_bool<E>(self, _: bool) -> Result<$t, E> {
            Ok(<$t>::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<$t, E> {
            Ok(<$t>::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<$t, E> {
            Ok(<$t>::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<$t, E> {
            Ok(<$t>::default())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$t, A::Error> {
            IgnoredAny.visit_seq(seq)?;
            Ok(<$t>::default())
        }
    };
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, text: &str) -> Result<Loose, E> {
        Ok(Loose(Some(text.to_owned())))
    }

    skip_scalars_and_arrays!(Loose);

    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Loose(None))
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Top {
    Kind,
    ApiVersion,
    Metadata,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Names {
    Name,
    GenerateName,
    Namespace,
    #[serde(other)]
    Other,
}

/// The header plus whether the item had `kind`/`apiVersion` keys at all;
/// the real reader fills missing ones from a typed list's defaults (a plain
/// `List`, as here, has none, so the bench only keeps the shape of that work).
#[derive(Debug, Default)]
pub struct SeenHeader {
    pub header: Header,
    pub has_kind: bool,
    pub has_api_version: bool,
}

impl<'de> Deserialize<'de> for SeenHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = SeenHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, _: &str) -> Result<SeenHeader, E> {
        Ok(SeenHeader::default())
    }

    skip_scalars_and_arrays!(SeenHeader);

    fn visit_unit<E>(self) -> Result<SeenHeader, E> {
        let mut seen = SeenHeader::default();
        seen.header.null = true;
        Ok(seen)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SeenHeader, A::Error> {
        let mut seen = SeenHeader::default();
        while let Some(key) = map.next_key::<Top>()? {
            match key {
                Top::Kind => {
                    seen.has_kind = true;
                    seen.header.kind = map.next_value::<Loose>()?.0;
                }
                Top::ApiVersion => {
                    seen.has_api_version = true;
                    seen.header.api_version = map.next_value::<Loose>()?.0;
                }
                Top::Metadata => {
                    let names = map.next_value::<NameFields>()?;
                    seen.header.name = names.name;
                    seen.header.generate_name = names.generate_name;
                    seen.header.namespace = names.namespace;
                }
                Top::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(seen)
    }
}

/// `metadata`'s name fields; a `metadata` that is not an object has none.
#[derive(Default)]
struct NameFields {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
}

impl<'de> Deserialize<'de> for NameFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NamesVisitor)
    }
}

struct NamesVisitor;

impl<'de> Visitor<'de> for NamesVisitor {
    type Value = NameFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, _: &str) -> Result<NameFields, E> {
        Ok(NameFields::default())
    }

    skip_scalars_and_arrays!(NameFields);

    fn visit_unit<E>(self) -> Result<NameFields, E> {
        Ok(NameFields::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NameFields, A::Error> {
        let mut names = NameFields::default();
        while let Some(key) = map.next_key::<Names>()? {
            match key {
                Names::Name => names.name = map.next_value::<Loose>()?.0,
                Names::GenerateName => names.generate_name = map.next_value::<Loose>()?.0,
                Names::Namespace => names.namespace = map.next_value::<Loose>()?.0,
                Names::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(names)
    }
}

/// One pass over an item for decoders without a raw-slice type (simd-json's
/// serde path): the header fields and the lean Pod fields together, `spec`
/// and `status` kept only when the item turns out to be a v1 Pod. Keys may
/// come in any order, so `spec`/`status` are decoded as LeanSpec/LeanStatus
/// whatever the kind; the other kinds in the files (Namespace,
/// NetworkPolicy) have no keys LeanSpec knows, so this never fails on them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnePass {
    #[serde(default)]
    pub kind: Loose,
    #[serde(default)]
    pub api_version: Loose,
    pub metadata: Option<OnePassMetadata>,
    pub spec: Option<LeanSpec>,
    pub status: Option<LeanStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnePassMetadata {
    #[serde(default)]
    pub name: Loose,
    #[serde(default)]
    pub generate_name: Loose,
    #[serde(default)]
    pub namespace: Loose,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl OnePass {
    /// Splits into what the two-pass readers produce, for the same summary.
    pub fn split(self) -> (Header, Option<LeanPod>) {
        let (names, lean_metadata) = match self.metadata {
            Some(m) => (
                (m.name.0, m.generate_name.0, m.namespace.0),
                Some((m.labels, m.annotations)),
            ),
            None => ((None, None, None), None),
        };
        let header = Header {
            null: false,
            kind: self.kind.0,
            api_version: self.api_version.0,
            name: names.0,
            generate_name: names.1,
            namespace: names.2,
        };
        let pod = header.is_pod().then(|| LeanPod {
            metadata: lean_metadata.map(|(labels, annotations)| LeanMetadata {
                name: header.name.clone(),
                namespace: header.namespace.clone(),
                labels,
                annotations,
            }),
            spec: self.spec,
            status: self.status,
        });
        (header, pod)
    }
}
