//! Reads a JSON text one top-level element at a time: the items of an array,
//! the `items` of an object that has them (a `List`), or else the object
//! itself. A List holding a whole cluster then never exists as one `Value`
//! tree, which would take several times the text's size.

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
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(Items {
                    each: &mut *self.each,
                })?;
                listed = true;
            } else {
                fields.insert(key, map.next_value()?);
            }
        }
        if !listed {
            (self.each)(Value::Object(fields));
        }
        Ok(())
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
