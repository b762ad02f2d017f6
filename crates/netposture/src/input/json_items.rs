//! Reads a JSON text one top-level element at a time: the items of an array,
//! the `items` of an object that has them (a `List`), or else the object
//! itself. A List holding a whole cluster then never exists as one `Value`
//! tree, which would take several times the text's size. Items of a typed
//! list (`PodList`, as the API server sends it) carry no `kind` or
//! `apiVersion`: they get the list's (see [`complete_list_item`]).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Calls `each` with every top-level element of `text`, in order.
pub fn for_each_value(text: &str, each: &mut dyn FnMut(Value)) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    TopLevel { each }.deserialize(&mut deserializer)?;
    deserializer.end()
}

struct TopLevel<'f> {
    each: &'f mut dyn FnMut(Value),
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        each_element(seq, self.each)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields = Map::new();
        let mut listed = false;
        // Items met before the list's `kind` wait for it; the API server
        // writes `kind` first, so they normally stream.
        let mut early_items: Vec<Value> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                listed = true;
                if fields.contains_key("kind") {
                    let list = ListHeader::of(&fields);
                    map.next_value_seed(Items {
                        each: &mut |mut item: Value| {
                            list.complete(&mut item);
                            (self.each)(item)
                        },
                    })?;
                } else {
                    early_items = map.next_value()?;
                }
            } else {
                fields.insert(key, map.next_value()?);
            }
        }
        if !listed {
            (self.each)(Value::Object(fields));
            return Ok(());
        }
        let list = ListHeader::of(&fields);
        for mut item in early_items {
            list.complete(&mut item);
            (self.each)(item);
        }
        Ok(())
    }
}

/// The `kind` and `apiVersion` of a List, which its items may leave out.
struct ListHeader {
    kind: String,
    api_version: Option<String>,
}

impl ListHeader {
    fn of(fields: &Map<String, Value>) -> Self {
        let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_string);
        ListHeader {
            kind: text("kind").unwrap_or_default(),
            api_version: text("apiVersion"),
        }
    }

    fn complete(&self, item: &mut Value) {
        complete_list_item(item, &self.kind, self.api_version.as_deref());
    }
}

/// Gives an item of a typed list (`PodList`, `NetworkPolicyList`, ...) the
/// list's kind without `List`, and the list's `apiVersion`, where the item
/// has none; an item of a plain `List` must name its own.
pub fn complete_list_item(item: &mut Value, list_kind: &str, list_api_version: Option<&str>) {
    let Some(kind) = list_kind.strip_suffix("List").filter(|k| !k.is_empty()) else {
        return;
    };
    let Value::Object(fields) = item else {
        return;
    };
    fields
        .entry("kind")
        .or_insert_with(|| Value::String(kind.to_string()));
    if let Some(api_version) = list_api_version {
        fields
            .entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_string()));
    }
}

/// The `items` array of a List.
struct Items<'f> {
    each: &'f mut dyn FnMut(Value),
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`items` as an array of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        each_element(seq, self.each)
    }
}

fn each_element<'de, A: SeqAccess<'de>>(
    mut seq: A,
    each: &mut dyn FnMut(Value),
) -> Result<(), A::Error> {
    while let Some(value) = seq.next_element::<Value>()? {
        each(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        for_each_value(text, &mut |v| seen.push(v)).unwrap();
        seen
    }

    #[test]
    fn list_items_come_one_by_one_and_the_list_itself_not_at_all() {
        let seen = values(
            r#"{"kind":"List","items":[{"kind":"Pod"},{"kind":"Namespace"}],"metadata":{}}"#,
        );
        assert_eq!(
            seen,
            [
                serde_json::json!({"kind":"Pod"}),
                serde_json::json!({"kind":"Namespace"})
            ]
        );
    }

    #[test]
    fn typed_list_items_take_kind_and_api_version_from_the_list() {
        let seen = values(
            r#"{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a"}},{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"b"}}]}"#,
        );
        assert_eq!(
            seen,
            [
                serde_json::json!({"metadata":{"name":"a"},"kind":"Namespace","apiVersion":"v1"}),
                serde_json::json!({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"b"}})
            ]
        );
    }

    #[test]
    fn typed_list_items_before_the_list_kind_still_get_it() {
        let seen = values(
            r#"{"items":[{"metadata":{"name":"p"}}],"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList"}"#,
        );
        assert_eq!(
            seen,
            [
                serde_json::json!({"metadata":{"name":"p"},"kind":"NetworkPolicy","apiVersion":"networking.k8s.io/v1"})
            ]
        );
    }

    #[test]
    fn items_of_a_plain_list_get_no_kind() {
        let seen = values(r#"{"kind":"List","apiVersion":"v1","items":[{"metadata":{}}]}"#);
        assert_eq!(seen, [serde_json::json!({"metadata":{}})]);
    }

    #[test]
    fn an_array_gives_its_elements_and_an_object_itself() {
        assert_eq!(values(r#"[{"a":1},{"b":2}]"#).len(), 2);
        assert_eq!(
            values(r#"{"kind":"Pod","spec":{"x":[1]}}"#),
            [serde_json::json!({"kind":"Pod","spec":{"x":[1]}})]
        );
    }

    #[test]
    fn syntax_errors_keep_their_position_and_trailing_text_is_an_error() {
        let error = for_each_value("{\"items\": [\n{\"kind\": }]}", &mut |_| {}).unwrap_err();
        assert_eq!((error.line(), error.column()), (2, 10), "{error}");
        assert!(for_each_value("{} {}", &mut |_| {}).is_err());
        assert!(for_each_value(r#"{"items": 3}"#, &mut |_| {}).is_err());
    }
}
