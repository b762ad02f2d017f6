//! What decides how an object is read, taken from its JSON text without
//! decoding the rest: `kind`, `apiVersion`, the name and namespace, and
//! whether it holds `items`. A field of another type than expected reads
//! as absent, as it would in a tree of values; the object is then judged
//! on that (no name, unknown kind), never refused as a whole.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::input::json_items::ListDefaults;

/// Visitor methods that read numbers, booleans and arrays as the default.
macro_rules! other_values_are_default {
    ($value:ty) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok(<$value>::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok(<$value>::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok(<$value>::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok(<$value>::default())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$value, A::Error> {
            IgnoredAny.visit_seq(seq)?;
            Ok(<$value>::default())
        }
    };
}

/// A JSON string, or `None` for a value of any other type.
#[derive(Debug, Default)]
pub struct Loose(pub Option<String>);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<Loose, E> {
        Ok(Loose(Some(value.to_string())))
    }

    other_values_are_default!(Loose);

    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Loose(None))
    }
}

/// The fields of an object that decide how it is read.
#[derive(Debug, Default)]
pub struct Header<'t> {
    /// The element is JSON `null` (an empty YAML document, say): nothing.
    pub null: bool,
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    /// `items`, when it is an array.
    pub items: Option<&'t RawValue>,
}

impl<'t> Header<'t> {
    /// The header of one element, which is read whole, so a syntax error
    /// anywhere in it is the answer. An item of a typed list takes the
    /// list's kind and apiVersion where it has no such field; `None` when
    /// it needs them and `defaults` are not known yet.
    pub fn of(
        element: &'t str,
        defaults: Option<&ListDefaults>,
    ) -> serde_json::Result<Option<Self>> {
        let mut seen: Seen = serde_json::from_str(element)?;
        if seen.object && !(seen.has_kind && seen.has_api_version) {
            let Some(defaults) = defaults else {
                return Ok(None);
            };
            if !seen.has_kind {
                seen.header.kind = defaults.kind.clone();
            }
            if !seen.has_api_version {
                seen.header.api_version = defaults.api_version.clone();
            }
        }
        Ok(Some(seen.header))
    }
}

/// A header with which of its fields the object has at all.
#[derive(Default)]
struct Seen<'t> {
    header: Header<'t>,
    object: bool,
    has_kind: bool,
    has_api_version: bool,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Field {
    Kind,
    ApiVersion,
    Metadata,
    Items,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum MetadataField {
    Name,
    GenerateName,
    Namespace,
    #[serde(other)]
    Other,
}

impl<'de: 't, 't> Deserialize<'de> for Seen<'t> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SeenVisitor(std::marker::PhantomData))
    }
}

struct SeenVisitor<'t>(std::marker::PhantomData<&'t ()>);

impl<'de: 't, 't> Visitor<'de> for SeenVisitor<'t> {
    type Value = Seen<'t>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Seen<'t>, E> {
        let mut seen = Seen::default();
        seen.header.null = true;
        Ok(seen)
    }

    fn visit_str<E>(self, _: &str) -> Result<Seen<'t>, E> {
        Ok(Seen::default())
    }

    other_values_are_default!(Seen<'t>);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen<'t>, A::Error> {
        let mut seen = Seen {
            object: true,
            ..Seen::default()
        };
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Kind => {
                    seen.has_kind = true;
                    seen.header.kind = map.next_value::<Loose>()?.0;
                }
                Field::ApiVersion => {
                    seen.has_api_version = true;
                    seen.header.api_version = map.next_value::<Loose>()?.0;
                }
                Field::Metadata => {
                    let metadata = map.next_value::<LooseMetadata>()?;
                    seen.header.name = metadata.name;
                    seen.header.generate_name = metadata.generate_name;
                    seen.header.namespace = metadata.namespace;
                }
                Field::Items => {
                    let items: &'de RawValue = map.next_value()?;
                    seen.header.items = items.get().starts_with('[').then_some(items);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(seen)
    }
}

/// `metadata`'s name fields; `metadata` of another type than an object has none.
#[derive(Default)]
struct LooseMetadata {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
}

impl<'de> Deserialize<'de> for LooseMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseMetadataVisitor)
    }
}

struct LooseMetadataVisitor;

impl<'de> Visitor<'de> for LooseMetadataVisitor {
    type Value = LooseMetadata;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LooseMetadata, A::Error> {
        let mut metadata = LooseMetadata::default();
        while let Some(field) = map.next_key::<MetadataField>()? {
            match field {
                MetadataField::Name => metadata.name = map.next_value::<Loose>()?.0,
                MetadataField::GenerateName => {
                    metadata.generate_name = map.next_value::<Loose>()?.0
                }
                MetadataField::Namespace => metadata.namespace = map.next_value::<Loose>()?.0,
                MetadataField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(metadata)
    }

    fn visit_str<E>(self, _: &str) -> Result<LooseMetadata, E> {
        Ok(LooseMetadata::default())
    }

    other_values_are_default!(LooseMetadata);

    fn visit_unit<E>(self) -> Result<LooseMetadata, E> {
        Ok(LooseMetadata::default())
    }
}
