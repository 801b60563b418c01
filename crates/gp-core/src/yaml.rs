//! A YAML node tree that remembers where every node came from.
//!
//! goldenpath parses YAML once, with serde-saphyr's parser (granit), into a
//! tree of [`Node`]s carrying their start and end positions and, for scalars,
//! the text exactly as written. The plainest documents (most front matter)
//! are read directly to the very same tree (`fast.rs`); anything else goes to
//! the full parser. Typed structures are then read from the tree
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

mod deserializer;
mod fast;
mod spanned;
pub use deserializer::*;
pub use spanned::*;

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
    // The plainest documents (most front matter) are read directly, to
    // the same tree; everything else by the full parser.
    if let Some(node) = fast::parse(text) {
        return Ok(Some(node));
    }
    parse_events(text)
}

/// [`parse`] by the full parser's events.
fn parse_events(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            located(
                text,
                &e.info(),
                Pos {
                    line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                    col: u32::try_from(e.marker().col() + 1).unwrap_or(u32::MAX),
                    offset: e.marker().byte_offset().unwrap_or(0),
                },
            )
        })?;
        let start = pos(&span.start);
        let end = pos(&span.end);
        builder.event(event, start, end)?;
    }
    Ok(builder.root)
}

/// A syntax error at the place a person would fix: the parser reports a
/// tab where the scalar before it started, and an unclosed `{` or `[`
/// where it gave up (lines later); point at the tab and at the opener.
fn located(text: &str, info: &str, at: Pos) -> SyntaxError {
    let at_offset = at.offset.min(text.len());
    if info.contains("found a tab")
        && let Some(i) = text[at_offset..].find('\t')
    {
        return SyntaxError {
            message: "a tab character; YAML indents with spaces only".into(),
            pos: pos_of(text, at_offset + i),
        };
    }
    if (info.contains("flow mapping")
        || info.contains("flow sequence")
        || info.contains("illegal placement"))
        && let Some((opener, ch)) = unclosed_flow(&text[..at_offset])
    {
        let pos = pos_of(text, opener);
        if pos.line < at.line {
            return SyntaxError {
                message: format!(
                    "this `{ch}` is never closed (the parser gave up at line {}: {info})",
                    at.line
                ),
                pos,
            };
        }
    }
    SyntaxError {
        message: info.to_string(),
        pos: at,
    }
}

/// The innermost `{` or `[` of `text` that is still open at its end
/// (outside quotes and comments): its byte offset and the character.
fn unclosed_flow(text: &str) -> Option<(usize, char)> {
    let mut stack: Vec<(usize, char)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if comment {
            if c == '\n' {
                comment = false;
            }
        } else if let Some(q) = quote {
            if q == '\'' && c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            } else if q == '"' && c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                '#' if prev.is_whitespace() => comment = true,
                '\'' | '"' if matches!(prev, ' ' | '\t' | '\n' | '{' | '[' | ',' | ':') => {
                    quote = Some(c)
                }
                '{' | '[' => stack.push((i, c)),
                '}' | ']' => {
                    stack.pop();
                }
                _ => {}
            }
        }
        prev = c;
    }
    stack.pop()
}

/// The 1-based line and column of byte `offset` in `text`.
fn pos_of(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(before[line_start..].chars().count() + 1).unwrap_or(u32::MAX),
        offset,
    }
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
    /// A mapping, its anchor, the key waiting for its value, and its keys.
    Map(Node, usize, Option<Node>, Keys),
}

/// A mapping with this many keys finds a repeated key through an index, not
/// by comparing it with every key before (which makes a mapping of n keys
/// cost n² comparisons: 40,000 keys took 2 s).
const INDEXED: usize = 16;

/// The keys of one mapping, for finding a repeated key: compared with each
/// key before while there are few, looked up in an index once there are
/// [`INDEXED`]. The one home of that lookup, for the full parser's events
/// and the direct reading alike.
#[derive(Default)]
struct Keys {
    index: Option<HashMap<String, u32>>,
}

impl Keys {
    /// The line where `key` was first written among `entries` (the
    /// mapping's entries so far, each added through [`Keys::added`]).
    fn first(&mut self, entries: &[(Node, Node)], key: &str) -> Option<u32> {
        if entries.len() < INDEXED {
            return entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k.start.line);
        }
        let index = self.index.get_or_insert_with(|| {
            let mut keys = HashMap::with_capacity(entries.len() * 2);
            for (k, _) in entries {
                keys.entry(k.as_str().unwrap_or_default().to_string())
                    .or_insert(k.start.line);
            }
            keys
        });
        index.get(key).copied()
    }

    /// `key` was added to the mapping's entries.
    fn added(&mut self, key: &Node) {
        if let Some(index) = &mut self.index {
            index
                .entry(key.as_str().unwrap_or_default().to_string())
                .or_insert(key.start.line);
        }
    }
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
                self.stack
                    .push(Open::Map(node, anchor, None, Keys::default()));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (mut node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(node, anchor)) | Some(Open::Map(node, anchor, None, _)) => {
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
            Some(Open::Map(map, _, pending, keys)) => match pending.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar(..)) {
                        return Err(SyntaxError {
                            message: "mapping keys must be scalars".into(),
                            pos: at,
                        });
                    }
                    if let NodeKind::Map(entries) = &map.kind {
                        let key = node.as_str().unwrap_or_default();
                        if let Some(line) = keys.first(entries, key) {
                            return Err(SyntaxError {
                                message: format!(
                                    "duplicate key `{key}` (first written at line {line})"
                                ),
                                pos: node.start,
                            });
                        }
                    }
                    *pending = Some(node);
                }
                Some(key) => {
                    if let NodeKind::Map(entries) = &mut map.kind {
                        keys.added(&key);
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
const SPANNED_MARKER: &str = "$gp::yaml::Spanned";
const NODE_MARKER: &str = "$gp::yaml::RawNode";
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
    fn syntax_errors_point_where_the_fix_is() {
        let at = |text: &str| {
            let e = parse(text).unwrap_err();
            (e.pos.line, e.pos.col, e.message)
        };
        // An unclosed `{` on line 2 is reported there, not where the
        // parser gave up.
        let (line, col, msg) = at("a: 1\nb: { x: 1, y: 2\nc: 3\nd: 4\n");
        assert_eq!((line, col), (2, 4), "{msg}");
        assert!(msg.starts_with("this `{` is never closed"), "{msg}");
        let (line, col, msg) = at("a: 1\nb: [1, 2\nc: 3\n");
        assert_eq!((line, col), (2, 4), "{msg}");
        assert!(msg.starts_with("this `[` is never closed"), "{msg}");
        // Brackets inside quotes and comments do not count.
        let (line, col, _) = at("a: '{'  # [\nb: { x: \"}\"\nc: 3\n");
        assert_eq!((line, col), (2, 4));
        // A tab on line 4 is reported on line 4, not at the scalar above.
        let (line, col, msg) = at("a: 1\nb:\n  c: x\n\td: 2\n");
        assert_eq!((line, col), (4, 1), "{msg}");
        assert!(msg.contains("tab"), "{msg}");
        // A flow collection that spans lines and is closed is fine.
        assert!(parse("a: [1,\n    2]\nb: {x: 1,\n  y: 2}\n").is_ok());
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
        assert_eq!((err.pos.line, err.pos.col), (1, 4), "the unclosed `[`");
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
    fn keys_are_compared_one_by_one_below_the_threshold_and_indexed_from_it() {
        let mut keys = Keys::default();
        let mut entries: Vec<(Node, Node)> = Vec::new();
        for n in 0..3 * INDEXED {
            let name = format!("k{n}");
            // A new key is not found; the first key is, at its line.
            assert_eq!(keys.first(&entries, &name), None);
            if n > 0 {
                assert_eq!(keys.first(&entries, "k0"), Some(1));
                assert_eq!(keys.first(&entries, &format!("k{}", n - 1)), Some(n as u32));
            }
            // The index exists exactly once the mapping has INDEXED keys.
            assert_eq!(keys.index.is_some(), n >= INDEXED, "{n} keys");
            let at = Pos {
                line: n as u32 + 1,
                col: 1,
                offset: 0,
            };
            let key = Node {
                kind: NodeKind::Scalar(name, Style::Plain),
                start: at,
                end: at,
            };
            keys.added(&key);
            entries.push((key.clone(), key));
        }
    }

    #[test]
    fn a_repeated_key_is_found_before_and_after_the_keys_are_indexed() {
        for n in [1, 2, INDEXED - 1, INDEXED, INDEXED + 1, 3 * INDEXED] {
            let keys: String = (0..n).map(|i| format!("k{i}: v\n")).collect();
            // Distinct keys: a mapping of n entries, read directly and by
            // the full parser alike.
            let node = parse(&keys).unwrap().unwrap();
            assert!(matches!(&node.kind, NodeKind::Map(e) if e.len() == n));
            assert_eq!(parse_events(&keys).unwrap().unwrap(), node);
            for j in [0, n / 2, n - 1] {
                // Directly and through the full parser's events, inside a
                // nested mapping and at the top.
                for (doc, line) in [
                    (format!("{keys}k{j}: again\n"), j + 1),
                    (
                        format!(
                            "top:\n{}  k{j}: again\n",
                            keys.lines().map(|l| format!("  {l}\n")).collect::<String>()
                        ),
                        j + 2,
                    ),
                    (
                        format!("{}k{j}: again\n", keys.replace(": v", ": \"v\\tw\"")),
                        j + 1,
                    ),
                ] {
                    let e = parse(&doc).unwrap_err();
                    assert_eq!(
                        e.message,
                        format!("duplicate key `k{j}` (first written at line {line})"),
                        "{doc}"
                    );
                }
            }
        }
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
