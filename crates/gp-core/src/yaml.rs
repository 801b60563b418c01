//! A YAML node tree that remembers where every node came from.
//!
//! goldenpath parses YAML once, with serde-saphyr's parser (granit), into a
//! tree of [`Node`]s carrying their start and end positions and, for scalars,
//! the text exactly as written. Typed structures are then read from the tree
//! through a serde [`Deserializer`](serde::Deserializer) that attaches the
//! position of the offending node to every error. That gives:
//!
//! - exact `file:line:col` for errors anywhere, including inside a driver's
//!   `settings` subtree, which is kept as a [`Node`] and typed later by the
//!   driver that owns it;
//! - scalars compared as written: an unquoted `2026-01-23` or `1.0` read as a
//!   string stays that text (the docs checks rely on it).
//!
//! ```
//! use gp_core::yaml;
//! #[derive(serde::Deserialize)]
//! struct Cfg { name: yaml::Spanned<String>, version: String }
//! let node = yaml::parse("name: api\nversion: 1.0\n").unwrap().unwrap();
//! let cfg: Cfg = yaml::from_node(&node).unwrap();
//! assert_eq!(cfg.version, "1.0");
//! assert_eq!((cfg.name.start.line, cfg.name.start.col), (1, 7));
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

/// A position in a YAML source: 1-based line and column (in characters),
/// and the byte offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// Byte offset into the source.
    pub offset: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// `'single'` or `"double"` quoted.
    Quoted,
    /// A `|` or `>` block scalar.
    Block,
}

/// One YAML node and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where it starts.
    pub start: Pos,
    /// Where it ends (exclusive).
    pub end: Pos,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar: its text after escape processing, and how it was written.
    Scalar(String, Style),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// What the parser expected.
    pub message: String,
    /// Where.
    pub pos: Pos,
}

/// Parses one YAML document into a node tree. `Ok(None)` for an empty
/// document. A stream of more than one document is an error.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            message: e.info().to_string(),
            pos: Pos {
                line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                col: u32::try_from(e.marker().col() + 1).unwrap_or(u32::MAX),
                offset: e.marker().byte_offset().unwrap_or(0),
            },
        })?;
        let start = pos(&span.start);
        let end = pos(&span.end);
        builder.event(event, start, end)?;
    }
    Ok(builder.root)
}

fn pos(m: &serde_saphyr::granit_parser::Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
        offset: m.byte_offset().unwrap_or(0),
    }
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

/// The most nodes a document may hold once its aliases are expanded. A
/// few hundred bytes of nested anchors can stand for billions of nodes (the
/// "billion laughs"); goldenpath refuses such a document before expanding
/// it.
pub const MAX_NODES: usize = 200_000;
/// The deepest nesting of lists and mappings.
pub const MAX_DEPTH: usize = 64;
/// The longest scalar, in bytes.
pub const MAX_SCALAR: usize = 1 << 20;

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
}

fn node_count(n: &Node) -> usize {
    match &n.kind {
        NodeKind::Scalar(..) => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_count(k) + node_count(v))
                .sum::<usize>()
        }
    }
}

impl Builder {
    fn count(&mut self, n: usize, at: Pos) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                message: format!(
                    "the document expands to more than {MAX_NODES} nodes (aliases of aliases?); goldenpath refuses it"
                ),
                pos: at,
            });
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, start: Pos, end: Pos) -> Result<(), SyntaxError> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(SyntaxError {
                        message: "expected a single YAML document, found a second one".into(),
                        pos: start,
                    });
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                self.count(1, start)?;
                if text.len() > MAX_SCALAR {
                    return Err(SyntaxError {
                        message: format!(
                            "a value of {} bytes is longer than the {MAX_SCALAR} allowed",
                            text.len()
                        ),
                        pos: start,
                    });
                }
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                    _ => Style::Block,
                };
                let node = Node {
                    kind: NodeKind::Scalar(text.into_owned(), style),
                    start,
                    end,
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node, start)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.count(1, start)?;
                self.depth(start)?;
                let node = Node {
                    kind: NodeKind::Seq(Vec::new()),
                    start,
                    end,
                };
                self.stack.push(Open::Seq(node, anchor));
            }
            Event::MappingStart(_, anchor, _) => {
                self.count(1, start)?;
                self.depth(start)?;
                let node = Node {
                    kind: NodeKind::Map(Vec::new()),
                    start,
                    end,
                };
                self.stack.push(Open::Map(node, anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (mut node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(node, anchor)) | Some(Open::Map(node, anchor, None)) => {
                        (node, anchor)
                    }
                    _ => {
                        return Err(SyntaxError {
                            message: "unbalanced YAML structure".into(),
                            pos: start,
                        });
                    }
                };
                node.end = end;
                if anchor != 0 {
                    let n = node_count(&node);
                    self.anchors.insert(anchor, (node.clone(), n));
                }
                self.push(node, start)?;
            }
            Event::Alias(id) => {
                let Some((_, n)) = self.anchors.get(&id) else {
                    return Err(SyntaxError {
                        message: "alias to an unknown anchor".into(),
                        pos: start,
                    });
                };
                // Counted before the copy is made, so an expansion bomb is
                // refused without allocating it.
                let n = *n;
                self.count(n, start)?;
                let Some((target, _)) = self.anchors.get(&id) else {
                    return Ok(());
                };
                let node = Node {
                    kind: target.kind.clone(),
                    start,
                    end,
                };
                self.push(node, start)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(SyntaxError {
                    message: format!("alias `*{name}` names no anchor"),
                    pos: start,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn depth(&self, at: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                message: format!("lists and mappings nest deeper than {MAX_DEPTH} levels"),
                pos: at,
            });
        }
        Ok(())
    }

    fn push(&mut self, node: Node, at: Pos) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let NodeKind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar(..)) {
                        return Err(SyntaxError {
                            message: "mapping keys must be scalars".into(),
                            pos: at,
                        });
                    }
                    if let NodeKind::Map(entries) = &map.kind {
                        let key = node.as_str().unwrap_or_default();
                        if let Some((first, _)) =
                            entries.iter().find(|(k, _)| k.as_str() == Some(key))
                        {
                            return Err(SyntaxError {
                                message: format!(
                                    "duplicate key `{key}` (first written at line {})",
                                    first.start.line
                                ),
                                pos: node.start,
                            });
                        }
                    }
                    *pending = Some(node);
                }
                Some(key) => {
                    if let NodeKind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
        }
        Ok(())
    }
}

impl Node {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s, Style::Plain) if is_null_text(s))
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node for `key`, if this is a mapping that has it.
    pub fn key(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// A short name for the node's kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(_, Style::Plain) if self.is_null() => "null",
            NodeKind::Scalar(..) => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// An empty mapping positioned at `at`, for absent optional settings.
    pub fn empty_map(at: Pos) -> Node {
        Node {
            kind: NodeKind::Map(Vec::new()),
            start: at,
            end: at,
        }
    }

    /// A node holding `value`, positioned at `at` (used when a reference
    /// is replaced by a structured output).
    pub fn from_json(value: &serde_json::Value, at: Pos) -> Node {
        use serde_json::Value;
        let kind = match value {
            Value::Null => NodeKind::Scalar("null".into(), Style::Plain),
            Value::Bool(b) => NodeKind::Scalar(b.to_string(), Style::Plain),
            Value::Number(n) => NodeKind::Scalar(n.to_string(), Style::Plain),
            Value::String(s) => NodeKind::Scalar(s.clone(), Style::Quoted),
            Value::Array(items) => {
                NodeKind::Seq(items.iter().map(|v| Node::from_json(v, at)).collect())
            }
            Value::Object(map) => NodeKind::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Node {
                                kind: NodeKind::Scalar(k.clone(), Style::Quoted),
                                start: at,
                                end: at,
                            },
                            Node::from_json(v, at),
                        )
                    })
                    .collect(),
            ),
        };
        Node {
            kind,
            start: at,
            end: at,
        }
    }

    /// Converts to JSON with YAML 1.2 core-schema typing of plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar(s, Style::Plain) => match resolve_plain(s) {
                Plain::Null => Value::Null,
                Plain::Bool(b) => Value::Bool(b),
                Plain::Int(i) => Value::from(i),
                Plain::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(s.clone())),
                Plain::Str => Value::String(s.clone()),
            },
            NodeKind::Scalar(s, _) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn is_null_text(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> Plain {
    if is_null_text(s) {
        return Plain::Null;
    }
    match s {
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(s) {
        return Plain::Int(i);
    }
    let looks_numeric = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && s.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric && let Ok(f) = s.parse::<f64>() {
        return Plain::Float(f);
    }
    Plain::Str
}

fn parse_int(s: &str) -> Option<i64> {
    if let Some(hex) = s.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

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
        let best = expected
            .iter()
            .map(|c| (strsim::jaro_winkler(field, c), *c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
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
            hint: best.map(|(_, c)| format!("did you mean `{c}`?")),
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
        let best = expected
            .iter()
            .map(|c| (strsim::jaro_winkler(variant, c), *c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let list = expected
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Error {
            message: format!("unknown value `{variant}`, expected one of {list}"),
            pos: None,
            hint: best.map(|(_, c)| format!("did you mean `{c}`?")),
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

const SPANNED_MARKER: &str = "$gp::yaml::Spanned";
const NODE_MARKER: &str = "$gp::yaml::RawNode";

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

/// A value and the span of the YAML node it was read from.
///
/// Read through any other deserializer (e.g. JSON) the positions are zero.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where its node starts.
    pub start: Pos,
    /// Where its node ends.
    pub end: Pos,
}

impl<T> Spanned<T> {
    /// A value with no known position.
    pub fn unpositioned(value: T) -> Self {
        Self {
            value,
            start: Pos::default(),
            end: Pos::default(),
        }
    }
}

impl<T: Default> Default for Spanned<T> {
    fn default() -> Self {
        Spanned::unpositioned(T::default())
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut n = [0u64; 6];
                for slot in &mut n {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::custom("span truncated"))?;
                }
                let value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("span without value"))?;
                let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                Ok(Spanned {
                    value,
                    start: Pos {
                        line: to_u32(n[0]),
                        col: to_u32(n[1]),
                        offset: usize::try_from(n[2]).unwrap_or(usize::MAX),
                    },
                    end: Pos {
                        line: to_u32(n[3]),
                        col: to_u32(n[4]),
                        offset: usize::try_from(n[5]).unwrap_or(usize::MAX),
                    },
                })
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(Spanned::unpositioned)
            }
        }
        d.deserialize_newtype_struct(SPANNED_MARKER, V(std::marker::PhantomData))
    }
}

/// A YAML subtree kept as it was written, for a consumer that types it later
/// (a driver's `settings`). Only readable through [`NodeDeserializer`].
#[derive(Clone, Debug, PartialEq)]
pub struct RawNode(pub Node);

impl Serialize for RawNode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

impl schemars::JsonSchema for RawNode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DriverSettings".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Settings of the component's driver; each driver documents and validates its own."
        })
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML subtree")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
                node_handoff::take(v)
                    .map(RawNode)
                    .ok_or_else(|| E::custom("YAML subtree lost in hand-off"))
            }
        }
        d.deserialize_newtype_struct(NODE_MARKER, V)
    }
}

/// Serde can only pass plain data through a visitor, so a subtree is handed
/// to [`RawNode`]'s visitor through a per-thread slot keyed by a counter.
mod node_handoff {
    use super::Node;
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static SLOTS: RefCell<(u64, HashMap<u64, Node>)> = RefCell::new((0, HashMap::new()));
    }

    pub(super) fn put(node: &Node) -> u64 {
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            s.0 += 1;
            let id = s.0;
            s.1.insert(id, node.clone());
            id
        })
    }

    pub(super) fn take(id: u64) -> Option<Node> {
        SLOTS.with(|s| s.borrow_mut().1.remove(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: Spanned<String>,
        #[serde(default)]
        tags: Vec<String>,
        count: Option<u32>,
        #[serde(default)]
        settings: Option<RawNode>,
    }

    #[test]
    fn scalars_stay_as_written_when_read_as_strings() {
        let node = parse("a: 1.0\nb: 2026-01-23\nc: '07'\n").unwrap().unwrap();
        let m: std::collections::BTreeMap<String, String> = from_node(&node).unwrap();
        assert_eq!(m["a"], "1.0");
        assert_eq!(m["b"], "2026-01-23");
        assert_eq!(m["c"], "07");
    }

    #[test]
    fn positions_are_one_based() {
        let node = parse("tags: [x]\nname: svc\n").unwrap().unwrap();
        let doc: Doc = from_node(&node).unwrap();
        assert_eq!((doc.name.start.line, doc.name.start.col), (2, 7));
        assert_eq!(&*doc.name, "svc");
    }

    #[test]
    fn unknown_fields_point_at_the_key_and_suggest() {
        let node = parse("name: a\ncuont: 3\n").unwrap().unwrap();
        let err = from_node::<Doc>(&node).unwrap_err();
        assert_eq!(err.pos.map(|p| (p.line, p.col)), Some((2, 1)));
        assert!(err.message.contains("unknown field `cuont`"), "{err}");
        assert_eq!(err.hint.as_deref(), Some("did you mean `count`?"));
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let node = parse("name: a\ncount: many\n").unwrap().unwrap();
        let err = from_node::<Doc>(&node).unwrap_err();
        assert_eq!(err.pos.map(|p| (p.line, p.col)), Some((2, 8)));
        assert!(
            err.message
                .contains("expected a non-negative integer, found `many`")
        );
    }

    #[test]
    fn missing_fields_point_at_the_mapping() {
        let node = parse("\n\ntags: []\n").unwrap().unwrap();
        let err = from_node::<Doc>(&node).unwrap_err();
        assert!(err.message.contains("missing field `name`"));
        assert_eq!(err.pos.map(|p| p.line), Some(3));
    }

    #[test]
    fn raw_subtrees_keep_their_positions() {
        let node = parse("name: a\nsettings:\n  x: 1\n").unwrap().unwrap();
        let doc: Doc = from_node(&node).unwrap();
        let raw = doc.settings.unwrap();
        assert_eq!(raw.0.get("x").unwrap().start.line, 3);
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_positions() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((err.pos.line, err.pos.col), (3, 1));
        let err = parse("a: [1\nb: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn placeholders_stand_in_for_numbers_until_resolved() {
        #[derive(Deserialize)]
        struct S {
            port: u16,
            tls: bool,
            host: String,
        }
        let node = parse("port: ${rds.port}\ntls: ${x.tls}\nhost: ${rds.host}\n")
            .unwrap()
            .unwrap();
        assert!(from_node::<S>(&node).is_err());
        let s: S = from_node_with_placeholders(&node).unwrap();
        assert_eq!((s.port, s.tls, s.host.as_str()), (0, false, "${rds.host}"));
        // Only whole references are tolerated.
        let node = parse("port: x${rds.port}\ntls: true\nhost: h\n")
            .unwrap()
            .unwrap();
        assert!(from_node_with_placeholders::<S>(&node).is_err());
    }

    #[test]
    fn alias_bombs_are_refused_before_they_expand() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("more than"), "{err}");
        let deep = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&deep).unwrap_err().message.contains("nest deeper"));
    }

    #[test]
    fn control_characters_are_found_with_their_position() {
        let node = parse("a: ok\nb: \"x\\e[31my\"\n").unwrap().unwrap();
        let (pos, c) = find_control(&node).unwrap();
        assert_eq!((pos.line, c), (2, '\u{1b}'));
        let node = parse("a: |\n  tab\there\n  two lines\n").unwrap().unwrap();
        assert!(find_control(&node).is_none());
    }

    #[test]
    fn aliases_resolve() {
        let node = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        assert_eq!(node.get("b").unwrap().to_json(), serde_json::json!([1, 2]));
    }

    #[test]
    fn json_conversion_types_plain_scalars() {
        let node = parse("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: x\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": 1, "b": 1.5, "c": true, "d": null, "e": "1", "f": "x"})
        );
    }
}
