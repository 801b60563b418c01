//! Reading typed values from a [`Node`]: a serde deserializer that attaches
//! the position of the offending node to every error.

use super::*;

/// An error while reading a typed value from a [`Node`], with the position
/// of the node that caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What was wrong.
    pub message: String,
    /// Where, when known.
    pub pos: Option<Pos>,
    /// A suggestion, e.g. the field the user probably meant.
    pub hint: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{} at {p}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            pos: None,
            hint: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let best = crate::spec::closest_str(field, expected.iter().copied());
        let list = expected
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Error {
            message: if expected.is_empty() {
                format!("unknown field `{field}`, there are no fields here")
            } else {
                format!("unknown field `{field}`, expected one of {list}")
            },
            pos: None,
            hint: best.map(|c| format!("did you mean `{c}`?")),
        }
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let found = match unexpected {
            de::Unexpected::Str(s) => format!("`{s}`"),
            de::Unexpected::Unit => "null".to_string(),
            de::Unexpected::Seq => "a list".to_string(),
            de::Unexpected::Map => "a mapping".to_string(),
            other => other.to_string(),
        };
        Error {
            message: format!("expected {expected}, found {found}"),
            pos: None,
            hint: None,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let best = crate::spec::closest_str(variant, expected.iter().copied());
        let list = expected
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Error {
            message: format!("unknown value `{variant}`, expected one of {list}"),
            pos: None,
            hint: best.map(|c| format!("did you mean `{c}`?")),
        }
    }
}

impl Error {
    fn at(mut self, pos: Pos) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
        }
        self
    }
}

/// Reads a typed value from a node. Errors carry the position of the node
/// they concern.
pub fn from_node<'a, T: Deserialize<'a>>(node: &'a Node) -> Result<T, Error> {
    T::deserialize(NodeDeserializer::new(node))
}

/// Like [`from_node`], for settings that still hold `${component.output}`
/// references: a scalar that is exactly a reference reads as a number or
/// boolean would (zero, false) instead of failing, so the rest of the
/// settings can be checked before the outputs exist.
pub fn from_node_with_placeholders<'a, T: Deserialize<'a>>(node: &'a Node) -> Result<T, Error> {
    T::deserialize(NodeDeserializer {
        node,
        placeholders: true,
    })
}

/// The first scalar (or key) holding a control character other than tab and
/// newline — an escape sequence that would reach a terminal raw, a NUL —
/// with its position.
pub fn find_control(node: &Node) -> Option<(Pos, char)> {
    match &node.kind {
        NodeKind::Scalar(s, _) => s
            .chars()
            .find(|c| c.is_control() && *c != '\t' && *c != '\n')
            .map(|c| (node.start, c)),
        NodeKind::Seq(items) => items.iter().find_map(find_control),
        NodeKind::Map(entries) => entries
            .iter()
            .find_map(|(k, v)| find_control(k).or_else(|| find_control(v))),
    }
}

/// Whether `s` contains a `${component.output}` reference anywhere (as
/// opposed to shell's `${VAR}`, which has no dot).
pub fn mentions_reference(s: &str) -> bool {
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find('}') {
            let inner = &rest[..end];
            if inner.contains('.')
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
            {
                return true;
            }
        }
    }
    false
}

/// Whether `s` is exactly one `${...}` reference.
pub fn is_reference(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..s.len() - 1].find(['{', '}']).is_none()
}

/// A serde deserializer over a borrowed [`Node`].
#[derive(Clone, Copy)]
pub struct NodeDeserializer<'a> {
    node: &'a Node,
    placeholders: bool,
}

impl<'a> NodeDeserializer<'a> {
    /// A strict deserializer over `node`.
    pub fn new(node: &'a Node) -> Self {
        Self {
            node,
            placeholders: false,
        }
    }

    fn node(&self) -> &'a Node {
        self.node
    }

    fn placeholder(&self) -> bool {
        self.placeholders && matches!(&self.node.kind, NodeKind::Scalar(s, _) if is_reference(s))
    }

    fn invalid(&self, expected: &str) -> Error {
        let found = match &self.node.kind {
            NodeKind::Scalar(s, Style::Plain) if is_null_text(s) => "null".to_string(),
            NodeKind::Scalar(s, _) => format!("`{s}`"),
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        };
        Error {
            message: format!("expected {expected}, found {found}"),
            pos: Some(self.node.start),
            hint: None,
        }
    }

    fn plain(&self) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::Scalar(s, Style::Plain) => Some(s),
            _ => None,
        }
    }
}

macro_rules! deserialize_int {
    ($method:ident, $visit:ident, $ty:ty, $what:literal) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            if self.placeholder() {
                return visitor.$visit::<Error>(0);
            }
            let value = self
                .plain()
                .and_then(parse_int)
                .and_then(|i| <$ty>::try_from(i).ok())
                .ok_or_else(|| self.invalid($what))?;
            visitor
                .$visit::<Error>(value)
                .map_err(|e: Error| e.at(self.node.start))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node();
        let result = match &node.kind {
            NodeKind::Scalar(s, Style::Plain) => match resolve_plain(s) {
                Plain::Null => visitor.visit_unit(),
                Plain::Bool(b) => visitor.visit_bool(b),
                Plain::Int(i) => visitor.visit_i64(i),
                Plain::Float(f) => visitor.visit_f64(f),
                Plain::Str => visitor.visit_borrowed_str(s),
            },
            NodeKind::Scalar(s, _) => visitor.visit_borrowed_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                placeholders: self.placeholders,
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
                placeholders: self.placeholders,
            }),
        };
        result.map_err(|e| e.at(node.start))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.placeholder() {
            return visitor.visit_bool(false);
        }
        match self.plain().map(resolve_plain) {
            Some(Plain::Bool(b)) => visitor.visit_bool(b),
            _ => Err(self.invalid("`true` or `false`")),
        }
    }

    deserialize_int!(deserialize_i8, visit_i8, i8, "an integer");
    deserialize_int!(deserialize_i16, visit_i16, i16, "an integer");
    deserialize_int!(deserialize_i32, visit_i32, i32, "an integer");
    deserialize_int!(deserialize_i64, visit_i64, i64, "an integer");
    deserialize_int!(deserialize_u8, visit_u8, u8, "a non-negative integer");
    deserialize_int!(deserialize_u16, visit_u16, u16, "a non-negative integer");
    deserialize_int!(deserialize_u32, visit_u32, u32, "a non-negative integer");
    deserialize_int!(deserialize_u64, visit_u64, u64, "a non-negative integer");

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.placeholder() {
            return visitor.visit_f64(0.0);
        }
        match self.plain().map(resolve_plain) {
            Some(Plain::Int(i)) => visitor.visit_f64(i as f64),
            Some(Plain::Float(f)) => visitor.visit_f64(f),
            _ => Err(self.invalid("a number")),
        }
        .map_err(|e| e.at(self.node.start))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Scalar(s, style) if !(*style == Style::Plain && is_null_text(s)) => {
                visitor.visit_borrowed_str(s)
            }
            _ => Err(self.invalid("a string")),
        }
        .map_err(|e| e.at(self.node.start))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor.visit_unit()
        } else {
            Err(self.invalid("null"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED_MARKER {
            return visitor.visit_seq(SpannedAccess {
                node: self.node,
                step: 0,
                placeholders: self.placeholders,
            });
        }
        if name == NODE_MARKER {
            return visitor.visit_u64(node_handoff::put(self.node));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                placeholders: self.placeholders,
            }),
            _ if self.node.is_null() => visitor.visit_seq(SeqAccess {
                items: [].iter(),
                placeholders: self.placeholders,
            }),
            _ => Err(self.invalid("a list")),
        }
        .map_err(|e| e.at(self.node.start))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
                placeholders: self.placeholders,
            }),
            _ if self.node.is_null() => visitor.visit_map(MapAccess {
                entries: [].iter(),
                value: None,
                placeholders: self.placeholders,
            }),
            _ => Err(self.invalid("a mapping")),
        }
        .map_err(|e| e.at(self.node.start))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Scalar(s, _) if !self.node.is_null() => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: Error| e.at(self.node.start)),
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                visitor
                    .visit_enum(EnumAccess {
                        key: k,
                        value: v,
                        placeholders: self.placeholders,
                    })
                    .map_err(|e| e.at(self.node.start))
            }
            _ => Err(self.invalid("one of the listed values")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'a> {
    items: std::slice::Iter<'a, Node>,
    placeholders: bool,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some(node) => seed
                .deserialize(NodeDeserializer {
                    node,
                    placeholders: self.placeholders,
                })
                .map(Some)
                .map_err(|e| e.at(node.start)),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
    placeholders: bool,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDeserializer::new(k))
                    .map(Some)
                    .map_err(|e| e.at(k.start))
            }
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(v) = self.value.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        seed.deserialize(NodeDeserializer {
            node: v,
            placeholders: self.placeholders,
        })
        .map_err(|e| e.at(v.start))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumAccess<'a> {
    key: &'a Node,
    value: &'a Node,
    placeholders: bool,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = Error;
    type Variant = NodeDeserializer<'de>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let v = seed
            .deserialize(NodeDeserializer::new(self.key))
            .map_err(|e| e.at(self.key.start))?;
        Ok((
            v,
            NodeDeserializer {
                node: self.value,
                placeholders: self.placeholders,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDeserializer<'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        if self.node.is_null() {
            Ok(())
        } else {
            Err(self.invalid("no value"))
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

struct SpannedAccess<'a> {
    node: &'a Node,
    step: u8,
    placeholders: bool,
}

impl<'de> de::SeqAccess<'de> for SpannedAccess<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let n = self.node;
        let step = self.step;
        self.step += 1;
        let number = |v: u64| seed_u64(v);
        match step {
            0 => number(u64::from(n.start.line)),
            1 => number(u64::from(n.start.col)),
            2 => number(n.start.offset as u64),
            3 => number(u64::from(n.end.line)),
            4 => number(u64::from(n.end.col)),
            5 => number(n.end.offset as u64),
            6 => {
                return seed
                    .deserialize(NodeDeserializer {
                        node: n,
                        placeholders: self.placeholders,
                    })
                    .map(Some)
                    .map_err(|e| e.at(n.start));
            }
            _ => return Ok(None),
        }
        .and_then(|d| seed.deserialize(d).map(Some))
    }
}

fn seed_u64(v: u64) -> Result<de::value::U64Deserializer<Error>, Error> {
    Ok(v.into_deserializer())
}
