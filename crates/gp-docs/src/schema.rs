//! The metadata schema dialect: `required`, `properties` with `type`,
//! `enum`, `enum_from`, `pattern`, `minimum`, `maximum`, `items`, nested
//! `properties`, and `additionalProperties`. `enum_from: KEY` names a list
//! in `enums.yaml`; a dotted key (`security.secret_types`) names a nested
//! map whose `values:` list holds the allowed values.
//!
//! Schema files may carry their own metadata and JSON Schema annotations
//! (`id`, `title`, `type` at the top, `status`, `version`, `description`,
//! `$schema`, `$id`, `$comment`, `examples`, `default`, `deprecated`,
//! `readOnly`, `writeOnly`, `format`, `x-*`): they are ignored. Any other
//! keyword is reported as a [`Warning`] with its position and otherwise
//! ignored; the caller decides whether that fails (`--strict`).
//!
//! Values are compared as written: a plain `1.0` is the text `1.0`, a plain
//! `2026-01-23` the text `2026-01-23`.

use std::collections::BTreeMap;
use std::path::Path;

use gp_core::diag::Diagnostic;
use gp_core::yaml::{Node, NodeKind, Pos, Style};

/// An object schema (a document type, or a nested `properties`).
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Required fields.
    pub required: Vec<String>,
    /// Fields, in the order written.
    pub properties: Vec<(String, Prop)>,
    /// Whether fields not listed are allowed.
    pub additional: bool,
}

/// One field's rules.
#[derive(Clone, Debug, Default)]
pub struct Prop {
    /// Allowed types (`string`, `integer`, `number`, `boolean`, `array`,
    /// `object`, `null`); empty: any.
    pub types: Vec<String>,
    /// Allowed values, and the enum's name for messages.
    pub allowed: Option<(String, Vec<String>)>,
    /// A regular expression the text must match.
    pub pattern: Option<(String, regex::Regex)>,
    /// Smallest number.
    pub minimum: Option<f64>,
    /// Largest number.
    pub maximum: Option<f64>,
    /// Rules for each list item.
    pub items: Option<Box<Prop>>,
    /// Rules for a nested mapping.
    pub object: Option<Schema>,
    /// Shortest text, in characters.
    pub min_length: Option<usize>,
    /// Longest text, in characters.
    pub max_length: Option<usize>,
    /// Fewest list items.
    pub min_items: Option<usize>,
    /// Most list items.
    pub max_items: Option<usize>,
    /// List items must differ.
    pub unique_items: bool,
}

/// A problem with a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// Rule id.
    pub rule: &'static str,
    /// Where the offending value (or its mapping) was written.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// A keyword of a schema file that is not checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// Where it is written.
    pub pos: Pos,
    /// What it is.
    pub message: String,
}

/// Keys that describe a schema (or a field) and validate nothing.
fn is_annotation(key: &str) -> bool {
    key.starts_with("x-")
        || matches!(
            key,
            "id" | "title"
                | "type"
                | "status"
                | "version"
                | "description"
                | "$schema"
                | "$id"
                | "$comment"
                | "examples"
                | "default"
                | "deprecated"
                | "readOnly"
                | "writeOnly"
                | "format"
                | "owner"
        )
}

/// JSON Schema validation keywords this dialect does not check.
fn is_unchecked_json_schema(key: &str) -> bool {
    matches!(
        key,
        "oneOf"
            | "anyOf"
            | "allOf"
            | "not"
            | "if"
            | "then"
            | "else"
            | "$ref"
            | "$defs"
            | "definitions"
            | "patternProperties"
            | "propertyNames"
            | "dependentRequired"
            | "dependentSchemas"
            | "dependencies"
            | "contains"
            | "multipleOf"
            | "exclusiveMinimum"
            | "exclusiveMaximum"
            | "minProperties"
            | "maxProperties"
            | "unevaluatedProperties"
    )
}

/// Reads `enums.yaml`: none when there is no such file; an error when it
/// cannot be read or is not a regular file.
pub fn load_enums(path: &Path, shown: &Path) -> Result<Option<Node>, Diagnostic> {
    let text = match crate::check::read_named(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(Diagnostic::file(
                shown,
                format!("cannot read the enums: {e}"),
            ));
        }
    };
    gp_core::yaml::parse(&text)
        .map_err(|e| Diagnostic::at(shown, &text, e.pos, format!("invalid YAML: {}", e.message)))
}

/// Parses one `<type>.schema.yaml` (or `.schema.json`): the schema, and
/// the keywords it does not check.
pub fn parse(
    text: &str,
    shown: &Path,
    enums: Option<&Node>,
) -> Result<(Schema, Vec<Warning>), Vec<Diagnostic>> {
    let node = gp_core::yaml::parse(text)
        .map_err(|e| {
            vec![Diagnostic::at(
                shown,
                text,
                e.pos,
                format!("invalid YAML: {}", e.message),
            )]
        })?
        .ok_or_else(|| vec![Diagnostic::file(shown, "the schema is empty")])?;
    let mut p = Parser {
        text,
        shown,
        enums,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let schema = p.object(&node);
    if p.problems.is_empty() {
        Ok((schema, p.warnings))
    } else {
        Err(p.problems)
    }
}

struct Parser<'a> {
    text: &'a str,
    shown: &'a Path,
    enums: Option<&'a Node>,
    problems: Vec<Diagnostic>,
    warnings: Vec<Warning>,
}

impl Parser<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::at(self.shown, self.text, pos, message));
    }

    fn unchecked(&mut self, pos: Pos, key: &str, level: &str) {
        let message = if is_unchecked_json_schema(key) {
            format!("`{key}` is a JSON Schema keyword goldenpath does not check: ignored")
        } else {
            format!("unknown {level} keyword `{key}`: ignored")
        };
        self.warnings.push(Warning { pos, message });
    }

    fn strings(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.kind {
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|i| match i.as_str() {
                    Some(s) => Some(s.to_string()),
                    None => {
                        self.err(i.start, format!("{what} must list scalars"));
                        None
                    }
                })
                .collect(),
            NodeKind::Scalar(s, _) => vec![s.clone()],
            NodeKind::Map(_) => {
                self.err(node.start, format!("{what} must be a list"));
                Vec::new()
            }
        }
    }

    fn object(&mut self, node: &Node) -> Schema {
        let mut s = Schema {
            additional: true,
            ..Schema::default()
        };
        let NodeKind::Map(entries) = &node.kind else {
            self.err(node.start, "a schema must be a mapping");
            return s;
        };
        for (k, v) in entries {
            match k.as_str().unwrap_or_default() {
                "required" => s.required = self.strings(v, "required"),
                "additionalProperties" => match (&v.kind, v.as_str()) {
                    (_, Some("false")) => s.additional = false,
                    (_, Some("true")) => s.additional = true,
                    (NodeKind::Map(_), _) => {
                        self.warnings.push(Warning {
                            pos: v.start,
                            message: "additionalProperties as a schema is not checked: other fields are allowed".into(),
                        });
                    }
                    _ => self.err(v.start, "additionalProperties must be true or false"),
                },
                "properties" => {
                    let NodeKind::Map(props) = &v.kind else {
                        self.err(v.start, "properties must be a mapping");
                        continue;
                    };
                    for (name, rules) in props {
                        let p = self.prop(rules);
                        s.properties
                            .push((name.as_str().unwrap_or_default().to_string(), p));
                    }
                }
                // The schema's own metadata and JSON Schema annotations.
                other if is_annotation(other) => {}
                other => self.unchecked(k.start, other, "schema"),
            }
        }
        s
    }

    fn prop(&mut self, node: &Node) -> Prop {
        let mut p = Prop::default();
        let NodeKind::Map(entries) = &node.kind else {
            self.err(node.start, "a property's rules must be a mapping");
            return p;
        };
        let mut nested: Option<&Node> = None;
        for (k, v) in entries {
            match k.as_str().unwrap_or_default() {
                "type" => {
                    p.types = self.strings(v, "type");
                    for t in &p.types {
                        if ![
                            "string", "integer", "number", "boolean", "array", "object", "null",
                        ]
                        .contains(&t.as_str())
                        {
                            self.err(v.start, format!("unknown type `{t}`"));
                        }
                    }
                }
                "enum" => p.allowed = Some(("the schema's enum".into(), self.strings(v, "enum"))),
                "enum_from" => {
                    let key = v.as_str().unwrap_or_default().to_string();
                    match resolve_enum(self.enums, &key) {
                        Some(values) => p.allowed = Some((format!("enum `{key}`"), values)),
                        None => self.warnings.push(Warning {
                            pos: v.start,
                            message: format!(
                                "enum_from `{key}` names no list in the enums file: not checked"
                            ),
                        }),
                    }
                }
                "pattern" => {
                    let text = v.as_str().unwrap_or_default();
                    match regex::Regex::new(text) {
                        Ok(r) => p.pattern = Some((text.to_string(), r)),
                        Err(e) => self.err(v.start, format!("invalid pattern: {e}")),
                    }
                }
                "minimum" | "maximum" => {
                    let n = v.as_str().and_then(|t| t.parse::<f64>().ok());
                    if n.is_none() {
                        self.err(v.start, "minimum and maximum must be numbers");
                    }
                    if k.as_str() == Some("minimum") {
                        p.minimum = n;
                    } else {
                        p.maximum = n;
                    }
                }
                "items" => p.items = Some(Box::new(self.prop(v))),
                "properties" | "required" | "additionalProperties" => nested = Some(node),
                "const" => {
                    p.allowed = Some((
                        "the schema's const".into(),
                        v.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
                    ))
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" => {
                    let n = v.as_str().and_then(|t| t.parse::<usize>().ok());
                    if n.is_none() {
                        self.err(
                            v.start,
                            format!("{} must be a whole number", k.as_str().unwrap_or_default()),
                        );
                    }
                    match k.as_str().unwrap_or_default() {
                        "minLength" => p.min_length = n,
                        "maxLength" => p.max_length = n,
                        "minItems" => p.min_items = n,
                        _ => p.max_items = n,
                    }
                }
                "uniqueItems" => p.unique_items = v.as_str() == Some("true"),
                other if is_annotation(other) => {}
                other => self.unchecked(k.start, other, "property"),
            }
        }
        if let Some(n) = nested {
            // The object-level keywords of a nested mapping.
            let mut sub = Schema {
                additional: true,
                ..Schema::default()
            };
            if let Some(props) = n.get("properties") {
                let tmp = Node {
                    kind: NodeKind::Map(vec![(
                        Node {
                            kind: NodeKind::Scalar("properties".into(), Style::Plain),
                            start: props.start,
                            end: props.start,
                        },
                        props.clone(),
                    )]),
                    start: n.start,
                    end: n.end,
                };
                sub.properties = self.object(&tmp).properties;
            }
            if let Some(r) = n.get("required") {
                sub.required = self.strings(r, "required");
            }
            if let Some(a) = n.get("additionalProperties") {
                sub.additional = a.as_str() != Some("false");
            }
            p.object = Some(sub);
        }
        p
    }
}

/// The values of `key` in `enums.yaml`: a list, or a map's `values:` list;
/// dots walk nested maps.
pub fn resolve_enum(enums: Option<&Node>, key: &str) -> Option<Vec<String>> {
    let mut node = enums?;
    for part in key.split('.') {
        node = node.get(part)?;
    }
    let list = match &node.kind {
        NodeKind::Seq(_) => node,
        NodeKind::Map(_) => node.get("values")?,
        NodeKind::Scalar(..) => return None,
    };
    match &list.kind {
        NodeKind::Seq(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

/// What a scalar was written as.
fn scalar_types(text: &str, style: Style) -> &'static [&'static str] {
    if style != Style::Plain {
        return &["string"];
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return &["null"];
    }
    if matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") {
        return &["boolean", "string"];
    }
    let int = {
        let t = text.strip_prefix(['-', '+']).unwrap_or(text);
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
    };
    if int {
        return &["integer", "number", "string"];
    }
    if text.parse::<f64>().is_ok() && text.bytes().any(|b| b.is_ascii_digit()) {
        return &["number", "string"];
    }
    &["string"]
}

impl Prop {
    /// Checks one value; `field` names it in messages (`risk_profile.level`).
    pub fn check(&self, node: &Node, field: &str, out: &mut Vec<Issue>) {
        let actual: Vec<&str> = match &node.kind {
            NodeKind::Scalar(s, style) => scalar_types(s, *style).to_vec(),
            NodeKind::Seq(_) => vec!["array"],
            NodeKind::Map(_) => vec!["object"],
        };
        if !self.types.is_empty() && !self.types.iter().any(|t| actual.contains(&t.as_str())) {
            out.push(Issue {
                rule: crate::rules::TYPE,
                pos: node.start,
                message: format!(
                    "`{field}` must be {}, found {}",
                    self.types.join(" or "),
                    describe(node)
                ),
            });
            return;
        }
        match &node.kind {
            NodeKind::Scalar(text, _) => {
                if node.is_null() {
                    return;
                }
                if let Some((name, values)) = &self.allowed
                    && !values.iter().any(|v| v == text)
                {
                    out.push(Issue {
                        rule: crate::rules::ENUM,
                        pos: node.start,
                        message: format!(
                            "`{field}` is `{text}`, not a value of {name} (allowed: {})",
                            values.join(", ")
                        ),
                    });
                }
                if let Some((source, re)) = &self.pattern
                    && !re.is_match(text)
                {
                    out.push(Issue {
                        rule: crate::rules::PATTERN,
                        pos: node.start,
                        message: format!("`{field}` is `{text}`, which does not match {source}"),
                    });
                }
                let chars = text.chars().count();
                if self.min_length.is_some_and(|m| chars < m)
                    || self.max_length.is_some_and(|m| chars > m)
                {
                    out.push(Issue {
                        rule: crate::rules::RANGE,
                        pos: node.start,
                        message: format!(
                            "`{field}` is {chars} characters long, outside {}..{}",
                            self.min_length.map(|n| n.to_string()).unwrap_or_default(),
                            self.max_length.map(|n| n.to_string()).unwrap_or_default()
                        ),
                    });
                }
                if (self.minimum.is_some() || self.maximum.is_some())
                    && let Ok(n) = text.parse::<f64>()
                {
                    let low = self.minimum.is_some_and(|m| n < m);
                    let high = self.maximum.is_some_and(|m| n > m);
                    if low || high {
                        out.push(Issue {
                            rule: crate::rules::RANGE,
                            pos: node.start,
                            message: format!(
                                "`{field}` is {text}, outside {}..{}",
                                self.minimum.map(fmt_num).unwrap_or_default(),
                                self.maximum.map(fmt_num).unwrap_or_default()
                            ),
                        });
                    }
                }
            }
            NodeKind::Seq(items) => {
                if self.min_items.is_some_and(|m| items.len() < m)
                    || self.max_items.is_some_and(|m| items.len() > m)
                {
                    out.push(Issue {
                        rule: crate::rules::RANGE,
                        pos: node.start,
                        message: format!(
                            "`{field}` has {} items, outside {}..{}",
                            items.len(),
                            self.min_items.map(|n| n.to_string()).unwrap_or_default(),
                            self.max_items.map(|n| n.to_string()).unwrap_or_default()
                        ),
                    });
                }
                if self.unique_items {
                    let mut seen = std::collections::BTreeSet::new();
                    for item in items {
                        if let Some(t) = item.as_str()
                            && !seen.insert(t)
                        {
                            out.push(Issue {
                                rule: crate::rules::ENUM,
                                pos: item.start,
                                message: format!(
                                    "`{field}` lists `{t}` twice; its items must be unique"
                                ),
                            });
                        }
                    }
                }
                for (i, item) in items.iter().enumerate() {
                    if let Some(p) = &self.items {
                        p.check(item, &format!("{field}[{i}]"), out);
                    } else if self.allowed.is_some() {
                        // An enum on a list applies to its items.
                        Prop {
                            allowed: self.allowed.clone(),
                            ..Prop::default()
                        }
                        .check(item, &format!("{field}[{i}]"), out);
                    }
                }
            }
            NodeKind::Map(entries) => {
                if let Some(o) = &self.object {
                    o.check_map(node, entries.iter().map(|(k, v)| (k, v)), field, out);
                }
            }
        }
    }
}

impl Schema {
    /// Checks a mapping's fields; `prefix` names the mapping (`""` at the
    /// top).
    pub fn check_map<'n>(
        &self,
        at: &Node,
        fields: impl Iterator<Item = (&'n Node, &'n Node)>,
        prefix: &str,
        out: &mut Vec<Issue>,
    ) {
        let fields: Vec<(&Node, &Node)> = fields.collect();
        let name = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        for r in &self.required {
            let present = fields
                .iter()
                .any(|(k, v)| k.as_str() == Some(r) && !v.is_null());
            if !present {
                out.push(Issue {
                    rule: crate::rules::REQUIRED,
                    pos: at.start,
                    message: format!("required field `{}` is missing", name(r)),
                });
            }
        }
        for (k, v) in &fields {
            let key = k.as_str().unwrap_or_default();
            match self.properties.iter().find(|(p, _)| p == key) {
                Some((_, prop)) => prop.check(v, &name(key), out),
                None if !self.additional => out.push(Issue {
                    rule: crate::rules::UNKNOWN_FIELD,
                    pos: k.start,
                    message: format!(
                        "unknown field `{}`{}",
                        name(key),
                        suggestion(key, self.properties.iter().map(|(p, _)| p))
                    ),
                }),
                None => {}
            }
        }
    }
}

fn suggestion<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> String {
    gp_core::spec::suggest(key, known)
        .map(|hint| format!(" ({hint})"))
        .unwrap_or_default()
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn describe(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar(s, Style::Plain) if node.is_null() => {
            let _ = s;
            "null".into()
        }
        NodeKind::Scalar(s, Style::Plain) => format!("`{s}`"),
        NodeKind::Scalar(s, _) => format!("the quoted string \"{s}\""),
        NodeKind::Seq(_) => "a list".into(),
        NodeKind::Map(_) => "a mapping".into(),
    }
}

/// The schemas of a repository, by type name.
pub type Schemas = BTreeMap<String, Schema>;
