//! `${component.output}` and `${component/resource.output}` references in
//! driver settings and host targets: finding them, checking them against
//! what components declare, and resolving them from outputs.

use std::collections::BTreeMap;

use gp_core::yaml::{Node, NodeKind, Pos, Style};
use gp_driver::ComponentOutputs;

/// One reference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// The component referred to.
    pub component: String,
    /// A resource within it.
    pub resource: Option<String>,
    /// The output key.
    pub key: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "${{{}/{r}.{}}}", self.component, self.key),
            None => write!(f, "${{{}.{}}}", self.component, self.key),
        }
    }
}

/// A piece of a scalar: literal text or a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text as is.
    Text(String),
    /// `${...}`.
    Ref(Reference),
}

/// Splits a scalar into text and references. `$${` is a literal `${`.
pub fn split(s: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            text.push_str("${");
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix("${") else {
            text.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(format!(
                "unclosed reference in `{s}`: expected `${{component.output}}`"
            ));
        };
        let body = &body_start[..end];
        let reference = parse_body(body).ok_or_else(|| {
            format!("invalid reference `${{{body}}}`: expected `${{component.output}}` or `${{component/resource.output}}`")
        })?;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Ref(reference));
        rest = &body_start[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn parse_body(body: &str) -> Option<Reference> {
    let (target, key) = body.split_once('.')?;
    let (component, resource) = match target.split_once('/') {
        Some((c, r)) => (c, Some(r)),
        None => (target, None),
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    let key_ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !name_ok(component) || resource.is_some_and(|r| !name_ok(r)) || !key_ok {
        return None;
    }
    Some(Reference {
        component: component.into(),
        resource: resource.map(Into::into),
        key: key.into(),
    })
}

/// What [`scan`] found.
#[derive(Debug, Default)]
pub struct Scan {
    /// References with the position of their scalar.
    pub refs: Vec<(Reference, Pos)>,
    /// Syntax errors with their positions.
    pub errors: Vec<(String, Pos)>,
}

/// Every reference in a subtree, with the position of its scalar.
pub fn scan(node: &Node) -> Scan {
    let mut found = Scan::default();
    walk(node, &mut found.refs, &mut found.errors);
    found
}

fn walk(node: &Node, refs: &mut Vec<(Reference, Pos)>, errors: &mut Vec<(String, Pos)>) {
    match &node.kind {
        NodeKind::Scalar(s, _) => {
            if s.contains('$') {
                match split(s) {
                    Ok(pieces) => {
                        for p in pieces {
                            if let Piece::Ref(r) = p {
                                refs.push((r, node.start));
                            }
                        }
                    }
                    Err(e) => errors.push((e, node.start)),
                }
            }
        }
        NodeKind::Seq(items) => items.iter().for_each(|i| walk(i, refs, errors)),
        NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| walk(v, refs, errors)),
    }
}

/// Looks a reference up in `inputs`.
pub fn lookup<'a>(
    r: &Reference,
    inputs: &'a BTreeMap<String, ComponentOutputs>,
) -> Option<&'a serde_json::Value> {
    inputs.get(&r.component)?.get(r.resource.as_deref(), &r.key)
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Resolves every reference in `text` to a string.
pub fn resolve_str(
    text: &str,
    inputs: &BTreeMap<String, ComponentOutputs>,
) -> Result<String, Vec<Reference>> {
    let pieces = split(text).map_err(|_| Vec::new())?;
    let mut out = String::new();
    let mut missing = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Ref(r) => match lookup(&r, inputs) {
                Some(v) => out.push_str(&text_of(v)),
                None => missing.push(r),
            },
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// A copy of `node` with every reference replaced by its value. A scalar that
/// is exactly one reference takes the value's type (a list stays a list).
pub fn resolve(
    node: &Node,
    inputs: &BTreeMap<String, ComponentOutputs>,
) -> Result<Node, Vec<Reference>> {
    let mut missing = Vec::new();
    let resolved = resolve_node(node, inputs, &mut missing);
    if missing.is_empty() {
        Ok(resolved)
    } else {
        Err(missing)
    }
}

fn resolve_node(
    node: &Node,
    inputs: &BTreeMap<String, ComponentOutputs>,
    missing: &mut Vec<Reference>,
) -> Node {
    match &node.kind {
        NodeKind::Scalar(s, style) if s.contains('$') => {
            let Ok(pieces) = split(s) else {
                return node.clone();
            };
            if let [Piece::Ref(r)] = pieces.as_slice() {
                return match lookup(r, inputs) {
                    Some(v) => Node::from_json(v, node.start),
                    None => {
                        missing.push(r.clone());
                        node.clone()
                    }
                };
            }
            let mut out = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => out.push_str(&t),
                    Piece::Ref(r) => match lookup(&r, inputs) {
                        Some(v) => out.push_str(&text_of(v)),
                        None => missing.push(r),
                    },
                }
            }
            let style = if *style == Style::Plain {
                Style::Quoted
            } else {
                *style
            };
            Node {
                kind: NodeKind::Scalar(out, style),
                start: node.start,
                end: node.end,
            }
        }
        NodeKind::Seq(items) => Node {
            kind: NodeKind::Seq(
                items
                    .iter()
                    .map(|i| resolve_node(i, inputs, missing))
                    .collect(),
            ),
            start: node.start,
            end: node.end,
        },
        NodeKind::Map(entries) => Node {
            kind: NodeKind::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), resolve_node(v, inputs, missing)))
                    .collect(),
            ),
            start: node.start,
            end: node.end,
        },
        _ => node.clone(),
    }
}

/// A component's settings with every reference resolved, or an error that
/// names the references whose outputs are not recorded. Never hands a
/// driver unresolved `${...}` text.
pub(crate) fn resolved_settings(
    spec: &gp_core::ComponentSpec,
    inputs: &std::collections::BTreeMap<String, gp_driver::ComponentOutputs>,
) -> Result<gp_core::yaml::Node, crate::EngineError> {
    resolve(&spec.settings_node(), inputs).map_err(|missing| crate::EngineError::Failed {
        message: format!(
            "the settings of {} reference outputs that are not recorded: {}",
            spec.name.value,
            missing
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        hint: Some("deploy the components it needs first".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_references() {
        assert_eq!(
            split("postgres://${rds.host}:${rds.port}/x").unwrap(),
            vec![
                Piece::Text("postgres://".into()),
                Piece::Ref(Reference {
                    component: "rds".into(),
                    resource: None,
                    key: "host".into()
                }),
                Piece::Text(":".into()),
                Piece::Ref(Reference {
                    component: "rds".into(),
                    resource: None,
                    key: "port".into()
                }),
                Piece::Text("/x".into()),
            ]
        );
        assert_eq!(
            split("$${literal} $5").unwrap(),
            vec![Piece::Text("${literal} $5".into())]
        );
        assert!(split("${rds}").is_err());
        assert!(split("${rds.host").is_err());
        let r = split("${rds/backstage.secret_path}").unwrap();
        assert!(matches!(&r[0], Piece::Ref(x) if x.resource.as_deref() == Some("backstage")));
    }

    #[test]
    fn resolves_with_types() {
        let mut inputs = BTreeMap::new();
        let mut o = ComponentOutputs::default();
        o.values.insert("port".into(), serde_json::json!(5432));
        o.values
            .insert("subnets".into(), serde_json::json!(["a", "b"]));
        inputs.insert("rds".to_string(), o);
        let node = gp_core::yaml::parse(
            "p: ${rds.port}\nurl: h:${rds.port}\ns: ${rds.subnets}\nm: ${rds.nope}\n",
        )
        .unwrap()
        .unwrap();
        let missing = resolve(&node, &inputs).unwrap_err();
        assert_eq!(missing[0].key, "nope");
        let node = gp_core::yaml::parse("p: ${rds.port}\nurl: h:${rds.port}\ns: ${rds.subnets}\n")
            .unwrap()
            .unwrap();
        let r = resolve(&node, &inputs).unwrap();
        assert_eq!(
            r.to_json(),
            serde_json::json!({"p": 5432, "url": "h:5432", "s": ["a", "b"]})
        );
    }
}
