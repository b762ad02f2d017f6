//! Walks the top level of a `List` (or a bare array) and hands over each item
//! as it is read, like `json_items.rs`, but generic over the serde
//! `Deserializer` and over what an item is read as: a `&RawValue` slice for
//! serde_json, a `LazyValue` slice for sonic-rs, or a decoded struct for a
//! one-pass read. Items are never collected, so memory stays per item.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::model::Loose;

/// Calls `each` for every item; the list's `kind` is read as the real
/// reader reads it (for typed-list defaults), then dropped.
pub fn each_item<'de, T, D, F>(deserializer: D, each: &mut F) -> Result<(), D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
    F: FnMut(T),
{
    deserializer.deserialize_any(TopLevel::<T, F> {
        each,
        item: PhantomData,
    })
}

struct TopLevel<'f, T, F> {
    each: &'f mut F,
    item: PhantomData<fn() -> T>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum ListKey {
    Kind,
    ApiVersion,
    Items,
    #[serde(other)]
    Other,
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for TopLevel<'_, T, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a List object or an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        each_element(seq, self.each)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<ListKey>()? {
            match key {
                ListKey::Kind | ListKey::ApiVersion => {
                    map.next_value::<Loose>()?;
                }
                ListKey::Items => map.next_value_seed(Items::<T, F> {
                    each: &mut *self.each,
                    item: PhantomData,
                })?,
                ListKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Items<'f, T, F> {
    each: &'f mut F,
    item: PhantomData<fn() -> T>,
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> DeserializeSeed<'de> for Items<'_, T, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for Items<'_, T, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`items` as an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        each_element(seq, self.each)
    }
}

fn each_element<'de, T: Deserialize<'de>, A: SeqAccess<'de>, F: FnMut(T)>(
    mut seq: A,
    each: &mut F,
) -> Result<(), A::Error> {
    while let Some(item) = seq.next_element::<T>()? {
        each(item);
    }
    Ok(())
}
