//! Reading webhook JSON: a strict parse, and a cursor that remembers where it is.
//!
//! [`parse_strict`] builds a [`Value`] like `serde_json::from_slice` does (same recursion
//! limit) but refuses an object that repeats a key: `{"image":"a","image":"b"}` means
//! different things to different parsers, and a deploy must not depend on which one ran.
//!
//! [`Node`] walks that value by field name and index, carrying the JSON path
//! (`event_data.resources[0].tag`) and the [`Format`] being read, so that every accessor can
//! fail with an [`Error`] that names both.
//!
//! A direct read skips the tree for the commonest bodies: [`Object`] reads the members a
//! format knows ([`Members`]) straight into typed fields, borrowing strings ([`Text`]) from
//! the body, and reads every other value ([`Skipped`]) by the same rules as
//! [`parse_strict`] without keeping it. Any failure there sends the body the general way,
//! which names the problem.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::reference::{self, ImageRef};
use super::{Error, Format, Result};

/// Parses `body` into a [`Value`], refusing duplicate keys.
pub(super) fn parse_strict(body: &[u8]) -> std::result::Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = StrictValue.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A [`DeserializeSeed`] producing a [`Value`] whose objects have unique keys.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so this never yields Null in practice.
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {:?} appears twice in one object",
                    reference::preview(&key)
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The most members an object may have in a direct read: its keys are kept on the stack to
/// find a repeated one. A bigger object is no registry's notification (a distribution
/// event's objects have at most eight); the general way reads it.
const DIRECT_MAX_MEMBERS: usize = 16;

/// A JSON string, borrowed from the body unless it holds an escape.
pub(super) struct Text<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

/// Any JSON value, read and dropped. It is read as [`parse_strict`] reads it (through
/// `deserialize_any`, so a number out of range fails alike), and an object in it that
/// repeats a key is an error.
pub(super) struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkippedVisitor)
    }
}

struct SkippedVisitor;

impl<'de> Visitor<'de> for SkippedVisitor {
    type Value = Skipped;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_unit<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Skipped)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
        read_members(&mut map, |_, _| Ok(false))?;
        Ok(Skipped)
    }
}

/// An object whose members a format knows: [`Object`] reads it.
pub(super) trait Members<'de>: Default {
    /// Reads the value of `key` from `map` and answers `true` if this object knows the key;
    /// answers `false`, reading nothing, to have the value skipped.
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// A JSON object read into `T`: its known members set, the rest [`Skipped`], a key given
/// twice an error.
pub(super) struct Object<T>(pub(super) T);

impl<'de, T: Members<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Members<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<T>, A::Error> {
        let mut object = T::default();
        read_members(&mut map, |key, map| object.member(key, map))?;
        Ok(Object(object))
    }
}

/// The value of a known member, into `slot`: `true`, for [`Members::member`].
pub(super) fn member_into<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut T,
    map: &mut A,
) -> Result<bool, A::Error> {
    *slot = map.next_value()?;
    Ok(true)
}

/// Reads every member of `map`: `known` reads the value of a key it knows (answering
/// `true`), and every other value is [`Skipped`]. A repeated key, or more than
/// [`DIRECT_MAX_MEMBERS`] members, is an error.
fn read_members<'de, A: MapAccess<'de>>(
    map: &mut A,
    mut known: impl FnMut(&str, &mut A) -> Result<bool, A::Error>,
) -> Result<(), A::Error> {
    let mut keys: [Option<Text<'de>>; DIRECT_MAX_MEMBERS] = [const { None }; DIRECT_MAX_MEMBERS];
    let mut count = 0;
    while let Some(key) = map.next_key::<Text<'de>>()? {
        if keys[..count].iter().flatten().any(|seen| seen.0 == key.0) {
            return Err(de::Error::custom("a key appears twice in one object"));
        }
        if count == DIRECT_MAX_MEMBERS {
            return Err(de::Error::custom("too many members for a direct read"));
        }
        if !known(&key.0, map)? {
            map.next_value::<Skipped>()?;
        }
        keys[count] = Some(key);
        count += 1;
    }
    Ok(())
}

/// `path[i]`, with one allocation (see [`Node::child_path`]).
pub(super) fn index_path(path: &str, i: usize) -> String {
    use std::fmt::Write as _;
    let mut indexed = String::with_capacity(path.len() + 8);
    indexed.push_str(path);
    let _ = write!(indexed, "[{i}]");
    indexed
}

/// What kind of JSON value this is, for error messages ("a number").
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A position in a payload: the value, its JSON path, and the format being read.
#[derive(Clone)]
pub(super) struct Node<'a> {
    value: &'a Value,
    path: String,
    format: Format,
}

impl<'a> Node<'a> {
    /// The root of a payload in `format`.
    pub(super) fn root(value: &'a Value, format: Format) -> Node<'a> {
        Node {
            value,
            path: String::new(),
            format,
        }
    }

    /// The root of a document nested inside another one's string field, such as the base64
    /// `message.data` of a Pub/Sub push: its paths continue from `path`.
    pub(super) fn nested(value: &'a Value, format: Format, path: &str) -> Node<'a> {
        Node {
            value,
            path: path.to_owned(),
            format,
        }
    }

    /// The JSON path of this node (`push_data.tag`); empty at the root.
    pub(super) fn path(&self) -> &str {
        &self.path
    }

    /// The path of `key` below this node.
    pub(super) fn child_path(&self, key: &str) -> String {
        // Built by hand: `format!` costs several times as much, and every field read makes one.
        if self.path.is_empty() {
            key.to_owned()
        } else {
            let mut path = String::with_capacity(self.path.len() + 1 + key.len());
            path.push_str(&self.path);
            path.push('.');
            path.push_str(key);
            path
        }
    }

    /// The value of `key`, if it is present and not null.
    pub(super) fn get(&self, key: &str) -> Option<Node<'a>> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Node {
                value,
                path: self.child_path(key),
                format: self.format,
            }),
        }
    }

    /// The value of `key`, or [`Error::Missing`].
    pub(super) fn require(&self, key: &str) -> Result<Node<'a>> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    /// [`Error::Missing`] for `key` below this node.
    pub(super) fn missing(&self, key: &str) -> Error {
        Error::Missing {
            format: self.format,
            path: self.child_path(key),
        }
    }

    /// This node as an object, or [`Error::WrongType`].
    pub(super) fn object(&self) -> Result<&'a Map<String, Value>> {
        self.value
            .as_object()
            .ok_or_else(|| self.wrong_type("an object"))
    }

    /// This node as a string, or [`Error::WrongType`].
    pub(super) fn str(&self) -> Result<&'a str> {
        self.value
            .as_str()
            .ok_or_else(|| self.wrong_type("a string"))
    }

    /// This node's items, each with its `[i]` path, or [`Error::WrongType`].
    pub(super) fn items(&self) -> Result<Vec<Node<'a>>> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.wrong_type("an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: index_path(&self.path, i),
                format: self.format,
            })
            .collect())
    }

    /// This node's members, each with its `.key` path, in document order, or
    /// [`Error::WrongType`]. The keys come from the body, so a long one is shortened in the
    /// path (as in every error message).
    pub(super) fn entries(&self) -> Result<Vec<(&'a str, Node<'a>)>> {
        let object = self.object()?;
        Ok(object
            .iter()
            .map(|(key, value)| {
                let node = Node {
                    value,
                    path: self.child_path(&reference::preview(key)),
                    format: self.format,
                };
                (key.as_str(), node)
            })
            .collect())
    }

    /// The underlying value.
    pub(super) fn value(&self) -> &'a Value {
        self.value
    }

    /// The string at `key`; missing, null or wrong type is an error.
    pub(super) fn require_str(&self, key: &str) -> Result<&'a str> {
        self.require(key)?.str()
    }

    /// The string at `key`: `None` when missing, null or empty; an error for another type.
    pub(super) fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => Ok(Some(node.str()?).filter(|s| !s.is_empty())),
        }
    }

    /// The object at `key`; missing, null or wrong type is an error.
    pub(super) fn require_object(&self, key: &str) -> Result<Node<'a>> {
        let node = self.require(key)?;
        node.object()?;
        Ok(node)
    }

    /// The object at `key`, if present; an error for another type.
    pub(super) fn opt_object(&self, key: &str) -> Result<Option<Node<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => node.object().map(|_| Some(node)),
        }
    }

    /// [`Error::WrongType`] for this node.
    pub(super) fn wrong_type(&self, expected: &'static str) -> Error {
        Error::WrongType {
            format: self.format,
            path: self.path.clone(),
            found: kind(self.value),
            expected,
        }
    }

    /// [`Error::Invalid`] for this node.
    pub(super) fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::Invalid {
            format: self.format,
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Wraps a reference error as [`Error::Reference`] at this node.
    pub(super) fn reference_error(&self, source: reference::Error) -> Error {
        Error::Reference {
            format: self.format,
            path: self.path.clone(),
            source,
        }
    }

    /// Parses this string node as an image reference.
    pub(super) fn image_ref(&self) -> Result<ImageRef> {
        ImageRef::parse(self.str()?).map_err(|e| self.reference_error(e))
    }
}
