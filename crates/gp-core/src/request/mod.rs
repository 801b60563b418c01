//! Self-service requests: one model for every kind.
//!
//! A request file asks for a resource: a database on an environment's
//! foundational instance (`RDS-NNNN`), an S3 bucket (`S3-NNNN`), a Secrets
//! Manager secret (`SEC-NNNN`) or an ECR repository (`ECR-NNNN`). Every kind
//! is read by one reader ([`read`]) in every layout the platform uses —
//! goldenpath's flat one, or `metadata`/`spec` with a field in either (or at
//! the top), comments, a `---` marker, keys the kind does not know (a
//! warning; a near miss of a known field is an error naming it, with the
//! spec's own typo metric) — and has one id scheme ([`id`]).
//!
//! ```yaml
//! apiVersion: goldenpath.io/v1
//! kind: S3BucketRequest
//! metadata: { id: S3-0001, owner: team-orders, requester: alice }
//! spec:
//!   environment: dev
//!   application: orders
//!   bucketName: goldenpath-dev-orders-logs
//!   purpose: { type: logs, description: access logs of the orders API }
//!   tags: { costCenter: cc-042 }
//! ```
//!
//! Each kind lives in a module of its own ([`database`], [`bucket`],
//! [`secret`], [`repository`]) implementing [`KindRules`]: its schema
//! problems (invalid input, exit 2), the platform's rules (a breach is a
//! refusal, exit 3), its approval route, its per-purpose defaults and the
//! [`Desired`] state apply makes. Approvals bind the SHA-256 of a request's
//! canonical content ([`Request::hash`]), so an edited request needs new
//! approvals.
//!
//! ```
//! use gp_core::request::{Request, RequestKind, Route};
//! let text = "id: RDS-0001\nenvironment: dev\ndatabaseName: orders\nusername: orders_app\nowner: team-orders\nrequester: alice\ndomain: commerce\n";
//! let r = Request::from_source("requests/RDS-0001.yaml".as_ref(), text).unwrap();
//! assert_eq!(r.kind(), RequestKind::Database);
//! assert_eq!(r.route(), Route::SelfServe);
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use crate::diag::{Diagnostic, InvalidInput};
use crate::spec::Platform;
use crate::yaml::{self, Spanned};

pub mod bucket;
pub mod database;
mod fields;
pub mod id;
mod kind;
pub mod read;
pub mod repository;
pub mod secret;
pub mod template;

pub use bucket::{BucketRequest, DesiredBucket};
pub use database::{DatabaseRequest, DesiredDatabase};
pub use fields::{Flag, RiskField, RiskTier};
pub use id::RequestId;
pub use kind::{
    At, Delivery, GLOBAL, KindRules, REQUEST_TAG, RequestKind, Route, is_reserved_name, kind_names,
};
pub use repository::{DesiredRepository, RepositoryRequest};
pub use secret::{DesiredSecret, SecretRequest};

/// What a file asks for, by kind.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    /// A database.
    #[serde(rename = "rds")]
    Database(DatabaseRequest),
    /// A bucket.
    #[serde(rename = "s3")]
    Bucket(BucketRequest),
    /// A secret.
    #[serde(rename = "secret")]
    Secret(SecretRequest),
    /// A repository.
    #[serde(rename = "ecr")]
    Repository(RepositoryRequest),
}

impl Body {
    /// Its kind's rules.
    pub fn rules(&self) -> &dyn KindRules {
        match self {
            Body::Database(r) => r,
            Body::Bucket(r) => r,
            Body::Secret(r) => r,
            Body::Repository(r) => r,
        }
    }
}

/// What apply makes: every value resolved, defaults filled in.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Desired {
    /// A database.
    #[serde(rename = "rds")]
    Database(DesiredDatabase),
    /// A bucket.
    #[serde(rename = "s3")]
    Bucket(DesiredBucket),
    /// A secret.
    #[serde(rename = "secret")]
    Secret(DesiredSecret),
    /// A repository.
    #[serde(rename = "ecr")]
    Repository(DesiredRepository),
}

impl Desired {
    /// The resource's name: the database, the bucket, the secret's path,
    /// the repository.
    pub fn name(&self) -> &str {
        match self {
            Desired::Database(d) => &d.database,
            Desired::Bucket(b) => &b.name,
            Desired::Secret(s) => &s.name,
            Desired::Repository(r) => &r.name,
        }
    }

    /// Fields the file left out that the platform's defaults filled in.
    pub fn defaulted(&self) -> &[String] {
        match self {
            Desired::Database(d) => &d.defaulted,
            Desired::Bucket(b) => &b.defaulted,
            Desired::Secret(s) => &s.defaulted,
            Desired::Repository(r) => &r.defaulted,
        }
    }

    /// What the request delivers to the cluster.
    pub fn deliveries(&self) -> Vec<Delivery> {
        match self {
            Desired::Database(d) => d.external_secret.iter().cloned().collect(),
            Desired::Secret(s) => s.external_secret.iter().cloned().collect(),
            Desired::Bucket(_) | Desired::Repository(_) => Vec::new(),
        }
    }
}

/// A request file, read and checked against its kind's schema.
#[derive(Clone, Debug)]
pub struct Request {
    /// The file, as shown to the user.
    pub path: PathBuf,
    /// Its text.
    pub source: Arc<str>,
    /// What it asks.
    pub body: Body,
    /// The SHA-256 (hex) of what it asks, in a canonical form: approvals
    /// bind it.
    pub hash: String,
    /// Fields its kind does not know (positioned; not errors).
    pub warnings: Vec<Diagnostic>,
}

impl Request {
    /// Reads and checks a request file.
    pub fn load(path: &Path) -> Result<Request, InvalidInput> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::file(path, format!("cannot read the request: {e}")))?;
        Self::from_source(path, &text)
    }

    /// Parses and checks request text of any kind.
    pub fn from_source(path: &Path, text: &str) -> Result<Request, InvalidInput> {
        let read = read::read(path, text)?;
        let mut problems = read.problems;
        let f = &read.fields;
        let body = match read.kind {
            RequestKind::Database => yaml::from_node(f).map(Body::Database),
            RequestKind::Bucket => yaml::from_node(f).map(Body::Bucket),
            RequestKind::Secret => yaml::from_node(f).map(Body::Secret),
            RequestKind::Repository => yaml::from_node(f).map(Body::Repository),
        };
        let body = match body {
            Ok(b) if problems.is_empty() => b,
            Ok(_) => return Err(InvalidInput(problems)),
            Err(e) => {
                // After the near misses: a missing field is often one.
                problems.push(
                    Diagnostic::at(path, text, e.pos.unwrap_or(f.start), e.message)
                        .with_hint_opt(e.hint),
                );
                return Err(InvalidInput(problems));
            }
        };
        let warnings = read.warnings;
        let mut request = Request {
            path: path.to_path_buf(),
            source: Arc::from(text),
            hash: content_hash(&body),
            body,
            warnings,
        };
        let at = At::new(path, text);
        let mut problems = request.rules().schema_problems(&at);
        problems.extend(id::problems(request.kind(), request.id(), &at));
        if problems.is_empty() {
            request.warnings.sort_by_key(|d| d.pos);
            Ok(request)
        } else {
            problems.sort_by_key(|d| d.pos);
            Err(InvalidInput(problems))
        }
    }

    /// Its kind's rules.
    pub fn rules(&self) -> &dyn KindRules {
        self.body.rules()
    }

    /// Diagnostics in this file.
    pub fn at(&self) -> At<'_> {
        At::new(&self.path, &self.source)
    }

    /// The kind.
    pub fn kind(&self) -> RequestKind {
        self.rules().kind()
    }

    /// The id, as written.
    pub fn id(&self) -> &Spanned<String> {
        self.rules().id()
    }

    /// The environment: `global` for a repository that names none.
    pub fn env(&self) -> &str {
        self.rules()
            .environment()
            .map_or(GLOBAL, |e| e.value.as_str())
    }

    /// Who asked, when the file says.
    pub fn requester(&self) -> Option<&str> {
        self.rules().requester().map(|r| r.value.as_str())
    }

    /// The owning team.
    pub fn owner(&self) -> &str {
        self.rules().owner()
    }

    /// The resource's name as the file writes it.
    pub fn resource_name(&self) -> &str {
        self.rules().resource_name()
    }

    /// Whether it asks to adopt what exists (`adopt: true`).
    pub fn adopts(&self) -> bool {
        self.rules().adopt().is_some_and(|a| a.value)
    }

    /// Whether it names `setting` in `allowWeakening`.
    pub fn allows_weakening(&self, setting: &str) -> bool {
        self.rules()
            .allowed_weakenings()
            .iter()
            .any(|w| w.value == setting)
    }

    /// The platform's rules, plus the environment being declared. Each
    /// breach is a positioned refusal.
    pub fn guard(&self, platform: &Platform) -> Vec<Diagnostic> {
        let at = self.at();
        let mut out = Vec::new();
        if let Some(e) = self.rules().environment()
            && platform.environment(&e.value).is_none()
        {
            let declared: Vec<String> = platform.environment_names().map(String::from).collect();
            out.push(
                at.at(
                    e.start,
                    format!(
                        "environment `{}` is not declared (declared: {})",
                        e.value,
                        declared.join(", ")
                    ),
                )
                .with_hint_opt(crate::spec::suggest(&e.value, declared.iter())),
            );
        }
        out.extend(self.rules().guard(platform, &at));
        out
    }

    /// Warnings that need the platform: accepted, but not the convention.
    pub fn advice(&self, platform: &Platform) -> Vec<Diagnostic> {
        self.rules().advice(platform, &self.at())
    }

    /// Who must approve it. Adopting what exists, or weakening it, needs
    /// the platform group too, whatever else the request needs.
    pub fn route(&self) -> Route {
        let (route, _) = self.rules().route();
        if self.adopts() || !self.rules().allowed_weakenings().is_empty() {
            route.with_platform()
        } else {
            route
        }
    }

    /// Whether it needs a recorded approval.
    pub fn needs_approval(&self) -> bool {
        self.route() != Route::SelfServe
    }

    /// Why it needs an approval, for messages.
    pub fn approval_reason(&self) -> &'static str {
        let (route, why) = self.rules().route();
        if route != Route::SelfServe {
            why
        } else if self.adopts() {
            "it adopts an existing resource"
        } else if !self.rules().allowed_weakenings().is_empty() {
            "it may weaken an existing resource"
        } else {
            why
        }
    }

    /// What apply makes, in `contract` (the request's environment).
    pub fn desired(&self, contract: &crate::Contract<'_>) -> Desired {
        match &self.body {
            Body::Database(r) => Desired::Database(r.desired(contract)),
            Body::Bucket(r) => Desired::Bucket(r.desired()),
            Body::Secret(r) => Desired::Secret(r.desired(contract)),
            Body::Repository(r) => Desired::Repository(r.desired()),
        }
    }

    /// `domain` and `owner` against an enums file of the platform's shape
    /// (top-level keys, each a list): keys `domains`/`domain` and
    /// `owners`/`owner`. Positioned problems (invalid input).
    pub fn enum_problems(&self, enums: &yaml::Node, enums_file: &Path) -> Vec<Diagnostic> {
        let at = self.at();
        let rules = self.rules();
        let owner = match &self.body {
            Body::Database(r) => Some(&r.owner),
            Body::Bucket(r) => Some(&r.owner),
            Body::Secret(r) => r.owner.as_ref(),
            Body::Repository(r) => Some(&r.owner),
        };
        let mut out = Vec::new();
        for (field, value, keys) in [
            ("domain", rules.domain(), ["domains", "domain"]),
            ("owner", owner, ["owners", "owner"]),
        ] {
            let Some(value) = value else { continue };
            let list = keys.iter().find_map(|k| enums.get(k));
            let Some(yaml::NodeKind::Seq(items)) = list.map(|l| &l.kind) else {
                continue;
            };
            let allowed: Vec<String> = items
                .iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect();
            if !allowed.contains(&value.value) {
                out.push(
                    at.at(
                        value.start,
                        format!(
                            "{field} `{}` is not in {} (allowed: {})",
                            value.value,
                            enums_file.display(),
                            allowed.join(", ")
                        ),
                    )
                    .with_hint_opt(crate::spec::suggest(&value.value, allowed.iter())),
                );
            }
        }
        out
    }
}

/// The SHA-256 (hex) of a request's canonical content: its kind and fields
/// as JSON in declaration order, not its formatting.
fn content_hash(body: &Body) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(body).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    crate::hex(&digest)
}

/// The JSON Schema of a kind's file, in the platform's layout: its fields
/// under `spec` (any of them may also be written under `metadata` or at
/// the top), `apiVersion` and `kind`.
pub fn json_schema(kind: RequestKind) -> serde_json::Value {
    let mut fields = match kind {
        RequestKind::Database => serde_json::to_value(schemars::schema_for!(DatabaseRequest)),
        RequestKind::Bucket => serde_json::to_value(schemars::schema_for!(BucketRequest)),
        RequestKind::Secret => serde_json::to_value(schemars::schema_for!(SecretRequest)),
        RequestKind::Repository => serde_json::to_value(schemars::schema_for!(RepositoryRequest)),
    }
    .unwrap_or_default();
    let defs = fields.as_object_mut().and_then(|o| o.remove("$defs"));
    let title = fields["title"].clone();
    if let Some(o) = fields.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
        // Any field may sit in metadata or at the top, so none is required
        // of `spec` by itself.
        o.remove("required");
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": {
            "apiVersion": {"enum": read::API_VERSIONS},
            "kind": {"enum": kind_names(kind)},
            "id": {"type": "string", "pattern": format!("^{}[0-9]{{4}}$", kind.id_prefix())},
            "metadata": {"type": "object"},
            "spec": fields,
        },
        "$defs": defs.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests;
