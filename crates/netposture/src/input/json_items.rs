//! Reads a JSON text one top-level element at a time: the items of an array,
//! the `items` of an object that has them (a `List`), or else the object
//! itself. Each element is handed over unparsed, as its slice of the text,
//! so a List holding a whole cluster never exists as a tree of values; the
//! caller decodes each element into what it keeps and drops it. Items of a
//! typed list (`PodList`, as the API server sends it) carry no `kind` or
//! `apiVersion`: they get the list's (see [`ListDefaults`]).

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::input::json_header::Loose;

/// What an item of a typed list (`PodList`, `NetworkPolicyList`, ...) that
/// names no `kind` or `apiVersion` has: the list's kind without `List`, and
/// the list's `apiVersion`. An item of a plain `List` must name its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListDefaults {
    pub kind: Option<String>,
    pub api_version: Option<String>,
}

impl ListDefaults {
    pub fn of(list_kind: &str, list_api_version: Option<&str>) -> Self {
        match list_kind.strip_suffix("List").filter(|k| !k.is_empty()) {
            Some(kind) => ListDefaults {
                kind: Some(kind.to_string()),
                api_version: list_api_version.map(str::to_string),
            },
            None => ListDefaults::default(),
        }
    }
}

/// The callback for each element: its text and what it may leave out.
pub type Each<'t, 'f> = dyn FnMut(&'t RawValue, &ListDefaults) + 'f;

/// Calls `each` with every top-level element of `text`, in order.
pub fn for_each_element<'t>(text: &'t str, each: &mut Each<'t, '_>) -> serde_json::Result<()> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let whole = TopLevel { each }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    if whole {
        // An object without `items`: the element is the object itself.
        let object: &RawValue = serde_json::from_str(text)?;
        each(object, &ListDefaults::default());
    }
    Ok(())
}

/// Calls `each` with every item of `items`, an array of a List inside the text.
pub fn for_each_item<'t>(items: &'t RawValue, defaults: &ListDefaults, each: &mut Each<'t, '_>) {
    // Read already: anything but an array was not taken as `items`.
    let items: Vec<&'t RawValue> = serde_json::from_str(items.get()).unwrap_or_default();
    items.into_iter().for_each(|item| each(item, defaults));
}

/// Streams the top level; its value says whether the top level was an
/// object without `items`, which the caller then takes whole.
struct TopLevel<'f, 't, 'c> {
    each: &'f mut Each<'t, 'c>,
}

impl<'t> DeserializeSeed<'t> for TopLevel<'_, 't, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'t>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum ListField {
    Kind,
    ApiVersion,
    Items,
    #[serde(other)]
    Other,
}

impl<'t> Visitor<'t> for TopLevel<'_, 't, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'t>>(self, seq: A) -> Result<bool, A::Error> {
        each_element(seq, &ListDefaults::default(), self.each)?;
        Ok(false)
    }

    fn visit_map<A: MapAccess<'t>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut kind: Option<Option<String>> = None;
        let mut api_version = None;
        let mut listed = false;
        // Items met before the list's `kind` wait for it (as slices of the
        // text); the API server writes `kind` first, so they normally stream.
        let mut early_items: Vec<&'t RawValue> = Vec::new();
        while let Some(key) = map.next_key::<ListField>()? {
            match key {
                ListField::Kind => kind = Some(map.next_value::<Loose>()?.0),
                ListField::ApiVersion => api_version = map.next_value::<Loose>()?.0,
                ListField::Items => {
                    listed = true;
                    match &kind {
                        Some(kind) => {
                            let defaults = ListDefaults::of(
                                kind.as_deref().unwrap_or_default(),
                                api_version.as_deref(),
                            );
                            map.next_value_seed(Items {
                                defaults: &defaults,
                                each: self.each,
                            })?;
                        }
                        None => early_items = map.next_value()?,
                    }
                }
                ListField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !listed {
            return Ok(true);
        }
        let kind = kind.flatten().unwrap_or_default();
        let defaults = ListDefaults::of(&kind, api_version.as_deref());
        early_items
            .into_iter()
            .for_each(|item| (self.each)(item, &defaults));
        Ok(false)
    }
}

/// The `items` array of a List.
struct Items<'f, 't, 'c> {
    defaults: &'f ListDefaults,
    each: &'f mut Each<'t, 'c>,
}

impl<'t> DeserializeSeed<'t> for Items<'_, 't, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'t>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'t> Visitor<'t> for Items<'_, 't, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`items` as an array of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'t>>(self, seq: A) -> Result<(), A::Error> {
        each_element(seq, self.defaults, self.each)
    }
}

fn each_element<'t, A: SeqAccess<'t>>(
    mut seq: A,
    defaults: &ListDefaults,
    each: &mut Each<'t, '_>,
) -> Result<(), A::Error> {
    while let Some(element) = seq.next_element::<&'t RawValue>()? {
        each(element, defaults);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<(String, ListDefaults)> {
        let mut seen = Vec::new();
        for_each_element(text, &mut |raw, defaults| {
            seen.push((raw.get().to_string(), defaults.clone()))
        })
        .unwrap();
        seen
    }

    fn plain(texts: &[&str]) -> Vec<(String, ListDefaults)> {
        texts
            .iter()
            .map(|t| (t.to_string(), ListDefaults::default()))
            .collect()
    }

    #[test]
    fn list_items_come_one_by_one_and_the_list_itself_not_at_all() {
        let seen = elements(
            r#"{"kind":"List","items":[{"kind":"Pod"},{"kind":"Namespace"}],"metadata":{}}"#,
        );
        assert_eq!(
            seen,
            plain(&[r#"{"kind":"Pod"}"#, r#"{"kind":"Namespace"}"#])
        );
    }

    #[test]
    fn typed_list_items_get_the_list_kind_and_api_version_as_defaults() {
        let seen = elements(
            r#"{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a"}}]}"#,
        );
        let defaults = ListDefaults {
            kind: Some("Namespace".into()),
            api_version: Some("v1".into()),
        };
        assert_eq!(
            seen,
            [(r#"{"metadata":{"name":"a"}}"#.to_string(), defaults)]
        );
    }

    #[test]
    fn typed_list_items_before_the_list_kind_still_get_it() {
        let seen = elements(
            r#"{"items":[{"metadata":{"name":"p"}}],"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList"}"#,
        );
        assert_eq!(seen[0].1.kind.as_deref(), Some("NetworkPolicy"));
        assert_eq!(
            seen[0].1.api_version.as_deref(),
            Some("networking.k8s.io/v1")
        );
    }

    #[test]
    fn items_of_a_plain_list_get_no_defaults() {
        let seen = elements(r#"{"kind":"List","apiVersion":"v1","items":[{"metadata":{}}]}"#);
        assert_eq!(seen, plain(&[r#"{"metadata":{}}"#]));
    }

    #[test]
    fn an_array_gives_its_elements_and_an_object_itself() {
        assert_eq!(elements(r#"[{"a":1},{"b":2}]"#).len(), 2);
        let object = r#" {"kind":"Pod","spec":{"x":[1]}} "#;
        assert_eq!(elements(object), plain(&[object.trim()]));
    }

    #[test]
    fn syntax_errors_keep_their_position_and_trailing_text_is_an_error() {
        let error = for_each_element("{\"items\": [\n{\"kind\": }]}", &mut |_, _| {}).unwrap_err();
        assert_eq!((error.line(), error.column()), (2, 10), "{error}");
        assert!(for_each_element("{} {}", &mut |_, _| {}).is_err());
        assert!(for_each_element(r#"{"items": 3}"#, &mut |_, _| {}).is_err());
        assert!(for_each_element(r#"{"kind":"List","items": 3}"#, &mut |_, _| {}).is_err());
    }
}
