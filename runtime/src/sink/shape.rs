//! The fast check of a message against its schema: one pass over the bytes
//! that notes each top-level value's kind, borrowing strings and skipping
//! nested values, with no JSON tree built.
//!
//! Why: building a `serde_json::Value` map per message and serializing it
//! into arrow-json was most of a sink's CPU (allocation alone was a quarter
//! of it in bench/run's profile). Messages this check accepts are decoded by
//! arrow-json straight from their bytes. It only ever says yes where the
//! tree check in `decode` says yes; anything else (a misfit, or duplicate
//! keys, whose winner arrow-json might pick differently) goes to the tree
//! check, which has the reasons.

use pipec_compiler::plan::Schema;
use pipec_compiler::time::parse_timestamp;
use pipec_compiler::types::DataType;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Whether `bytes` is a JSON object whose fields fit `schema`, each schema
/// key present at most once.
pub fn fits(bytes: &[u8], schema: &Schema) -> bool {
    // Validated here, as a whole: serde_json checks UTF-8 only in the
    // strings it reads, not in the nested ones it skips, and the accepted
    // bytes become the `raw_event` text.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let Ok(Object(members)) = serde_json::from_str::<Object>(text) else {
        return false;
    };
    if schema.reject_extra_fields
        && members
            .iter()
            .any(|(key, _)| !schema.fields.iter().any(|f| f.key == *key))
    {
        return false;
    }
    schema.fields.iter().all(|field| {
        let mut named = members.iter().filter(|(key, _)| key == &field.key);
        let value = named.next().map(|(_, value)| value);
        if named.next().is_some() {
            return false;
        }
        match (value, field.data_type) {
            (None | Some(Kind::Null), _) => field.optional,
            (Some(Kind::Text(_)), DataType::String) => true,
            (Some(Kind::Text(text)), DataType::Timestamp) => parse_timestamp(text).is_some(),
            (Some(Kind::Int), DataType::Int | DataType::Float) => true,
            (Some(Kind::OtherNumber), DataType::Float) => true,
            (Some(Kind::Bool), DataType::Bool) => true,
            _ => false,
        }
    })
}

/// A top-level object's members, in order, duplicates kept.
struct Object<'a>(Vec<(Cow<'a, str>, Kind<'a>)>);

/// What a JSON value is, as far as a schema cares.
enum Kind<'a> {
    Null,
    Bool,
    /// A number `serde_json` holds as an `i64`.
    Int,
    OtherNumber,
    Text(Cow<'a, str>),
    /// An array or an object.
    Nested,
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some((Key(key), value)) = map.next_entry::<Key, Kind>()? {
                    members.push((key, value));
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor).map(Key)
    }
}

impl<'de> Deserialize<'de> for Kind<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

/// Strings only; borrowed unless they had escapes.
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(text))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(text.to_string()))
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Kind::Bool)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Kind::Int)
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(if i64::try_from(n).is_ok() {
            Kind::Int
        } else {
            Kind::OtherNumber
        })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Kind::OtherNumber)
    }
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Kind::Text(Cow::Borrowed(text)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Kind::Text(Cow::Owned(text.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Kind::Nested)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Kind::Nested)
    }
}
