//! The one reader of request files, for every kind and layout.
//!
//! A file is one YAML document (a leading `---` and comments are fine)
//! with no control character in a value. Its kind comes from `kind:`,
//! else its id's prefix, else `service:`. Its fields are read as one map:
//! the top level, then `metadata`, then `spec` (a later one wins), each
//! node keeping its position — so the platform's nested layout, its flat
//! one and goldenpath's own all read alike. A key the kind does not know
//! is a warning; one close to a known field (the spec's typo metric,
//! [`crate::spec::closest`]) is an error naming the field meant.

use std::path::Path;

use crate::diag::{Diagnostic, InvalidInput};
use crate::yaml;

use super::kind::{RequestKind, kind_of_name};

/// The `apiVersion`s a request file may carry.
pub const API_VERSIONS: [&str; 4] = [
    "goldenpath.io/v1",
    "goldenpath.io/v1beta1",
    "goldenpath.io/v1alpha1",
    crate::spec::API_VERSION,
];

/// The kind a `service:` names.
fn kind_of_service(service: &str) -> Option<RequestKind> {
    match service.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "rds" => Some(RequestKind::Database),
        "s3" => Some(RequestKind::Bucket),
        "secretsmanager" | "secrets-manager" | "aws-secrets-manager" => Some(RequestKind::Secret),
        "ecr" => Some(RequestKind::Repository),
        _ => None,
    }
}

/// A field at the top, else under `metadata`, else under `spec`.
fn field<'n>(node: &'n yaml::Node, key: &str) -> Option<&'n yaml::Node> {
    node.get(key)
        .or_else(|| node.get("metadata").and_then(|m| m.get(key)))
        .or_else(|| node.get("spec").and_then(|m| m.get(key)))
}

/// A request file's id: `id` at the top, else under `metadata` or `spec`.
pub fn file_id(node: &yaml::Node) -> Option<&str> {
    field(node, "id").and_then(|n| n.as_str())
}

/// The kind of a parsed file, or why it is no request goldenpath reads.
pub fn detect(node: &yaml::Node) -> Result<RequestKind, String> {
    if let Some(kind) = node.get("kind").and_then(|k| k.as_str()) {
        return kind_of_name(kind).ok_or_else(|| {
            format!(
                "`kind: {kind}` is not a request goldenpath reads (DatabaseRequest, S3BucketRequest, SecretRequest, EcrRepositoryRequest)"
            )
        });
    }
    let id = file_id(node).unwrap_or_default();
    if let Some(k) = RequestKind::ALL
        .into_iter()
        .find(|k| id.starts_with(k.id_prefix()))
    {
        return Ok(k);
    }
    // `service:` of the platform's database requests sits at the top; a
    // secret request's `service` is the app it belongs to, so only a known
    // service decides.
    let service = field(node, "service").and_then(|s| s.as_str());
    if let Some(k) = service.and_then(kind_of_service) {
        return Ok(k);
    }
    match service {
        Some(s) if id.is_empty() => Err(format!(
            "a `{s}` request with no id: goldenpath reads database, bucket, secret and repository requests"
        )),
        Some(s) => Err(format!(
            "a `{s}` request ({id}): goldenpath reads database, bucket, secret and repository requests"
        )),
        None if id.is_empty() => Err("not a request: it has no `id` and no `kind`".into()),
        None => Err(format!(
            "`{id}` is not a request id goldenpath reads (RDS-, S3-, SEC- or ECR-NNNN), and the file names no kind"
        )),
    }
}

/// A request file's YAML: one document, not empty, no control character
/// in a value.
pub fn parse_file(path: &Path, text: &str) -> Result<yaml::Node, InvalidInput> {
    let node = yaml::parse(text)
        .map_err(|e| Diagnostic::at(path, text, e.pos, format!("invalid YAML: {}", e.message)))?
        .ok_or_else(|| Diagnostic::file(path, "the request is empty"))?;
    if let Some((pos, c)) = yaml::find_control(&node) {
        return Err(Diagnostic::at(
            path,
            text,
            pos,
            format!(
                "control character {} in a value: escape sequences and NULs are not allowed",
                c.escape_unicode()
            ),
        )
        .into());
    }
    if !matches!(node.kind, yaml::NodeKind::Map(_)) {
        return Err(Diagnostic::at(
            path,
            text,
            node.start,
            format!("a request is a mapping, found a {}", node.kind_name()),
        )
        .into());
    }
    Ok(node)
}

/// The top-level, `metadata` and `spec` fields as one map, each node
/// keeping its position (`spec` over `metadata` over the top).
pub fn merged(node: &yaml::Node) -> yaml::Node {
    let yaml::NodeKind::Map(entries) = &node.kind else {
        return node.clone();
    };
    let mut out: Vec<(yaml::Node, yaml::Node)> = Vec::new();
    let mut put = |k: &yaml::Node, v: &yaml::Node| {
        let key = k.as_str().unwrap_or_default();
        out.retain(|(ok, _)| ok.as_str() != Some(key));
        out.push((k.clone(), v.clone()));
    };
    for (k, v) in entries {
        if !matches!(k.as_str(), Some("metadata" | "spec")) {
            put(k, v);
        }
    }
    for part in ["metadata", "spec"] {
        if let Some((_, m)) = entries.iter().find(|(k, _)| k.as_str() == Some(part))
            && let yaml::NodeKind::Map(inner) = &m.kind
        {
            for (k, v) in inner {
                put(k, v);
            }
        }
    }
    yaml::Node {
        kind: yaml::NodeKind::Map(out),
        start: node.start,
        end: node.end,
    }
}

/// Fields the platform's files carry that goldenpath does not read.
const IGNORED: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "title",
    "description",
    "created",
    "updated",
    "labels",
    "annotations",
    "status",
    "notes",
    "version",
];

/// The fields a kind reads (after `metadata` and `spec` are merged).
fn known_fields(kind: RequestKind) -> &'static [&'static str] {
    match kind {
        RequestKind::Database => super::database::FIELDS,
        RequestKind::Bucket => super::bucket::FIELDS,
        RequestKind::Secret => super::secret::FIELDS,
        RequestKind::Repository => super::repository::FIELDS,
    }
}

/// A file read: its kind, its fields as one map (`metadata` and `spec`
/// merged), and the warnings of fields its kind does not know.
pub(crate) struct Read {
    pub kind: RequestKind,
    pub fields: yaml::Node,
    pub warnings: Vec<Diagnostic>,
    /// Problems found so far (the near misses of known fields); the typed
    /// reading's own come after them.
    pub problems: Vec<Diagnostic>,
}

/// Reads a file of any kind. Problems of shape are positioned invalid
/// input.
pub(crate) fn read(path: &Path, text: &str) -> Result<Read, InvalidInput> {
    let node = parse_file(path, text)?;
    let kind = detect(&node).map_err(|why| {
        Diagnostic::at(path, text, node.start, why).with_hint(
            "a request is a database (RDS-NNNN), bucket (S3-NNNN), secret (SEC-NNNN) or repository (ECR-NNNN) request; list only their files in requests.paths",
        )
    })?;
    let mut problems = Vec::new();
    if let Some(v) = node.get("apiVersion")
        && !API_VERSIONS.contains(&v.as_str().unwrap_or_default())
    {
        problems.push(Diagnostic::at(
            path,
            text,
            v.start,
            format!(
                "unsupported apiVersion `{}` (goldenpath.io/v1)",
                v.as_str().unwrap_or_default().escape_debug()
            ),
        ));
    }
    for part in ["metadata", "spec"] {
        if let Some(m) = node.get(part)
            && !matches!(m.kind, yaml::NodeKind::Map(_))
        {
            problems.push(Diagnostic::at(
                path,
                text,
                m.start,
                format!("`{part}` is a mapping, found a {}", m.kind_name()),
            ));
        }
    }
    let flat = merged(&node);
    let known = known_fields(kind);
    let candidates: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    let mut warnings = Vec::new();
    if let yaml::NodeKind::Map(entries) = &flat.kind {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or_default();
            if known.contains(&key) || IGNORED.contains(&key) {
                continue;
            }
            match crate::spec::closest(key, candidates.iter()) {
                Some(meant) => problems.push(
                    Diagnostic::at(path, text, k.start, format!("unknown field `{key}`"))
                        .with_hint(format!("did you mean `{meant}`?")),
                ),
                None => warnings.push(Diagnostic::at(
                    path,
                    text,
                    k.start,
                    format!(
                        "field `{key}` is not part of a {} request; it is ignored",
                        kind.noun()
                    ),
                )),
            }
        }
    }
    Ok(Read {
        kind,
        fields: flat,
        warnings,
        problems,
    })
}
