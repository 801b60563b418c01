//! Self-service requests: a file (`requests/RDS-NNNN.yaml`, or wherever
//! `requests.paths` says) asks for a database on an environment's
//! foundational instance. Two layouts are read: goldenpath's flat one, and
//! the platform's nested one —
//!
//! ```yaml
//! id: RDS-0007
//! service: postgres
//! environment: dev
//! owner: team-orders
//! requester: alice
//! metadata: { title: Orders database, description: ..., created: 2026-01-05 }
//! spec: { databaseName: orders, username: orders_app, size: small, domain: commerce,
//!         storageGb: 20, maxStorageGb: 100, backupRetentionDays: 7,
//!         multiAz: false, performanceInsights: false, risk: low }
//! ```
//!
//! with the platform's defaults: `size: small`, `storageGb: 20`,
//! `maxStorageGb: 100`, `risk: low`, `backupRetentionDays: 7`, `multiAz` and
//! `performanceInsights` false. A file's name need not be its id; ids are
//! unique across files.
//!
//! Loading checks the file against the request's schema (types, patterns,
//! ranges) — problems there are invalid input. [`DatabaseRequest::guard`]
//! then applies the platform's rules (prod keeps backups 14 days, dev
//! databases are small) — breaking one is a refusal. Whether an approval is
//! needed is [`DatabaseRequest::needs_approval`]; the registry records
//! approvals against the request's content hash, so editing an approved
//! request needs a new approval.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, InvalidInput};
use crate::spec::Platform;
use crate::yaml::{self, Pos, Spanned};

/// Instance size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// The smallest; the only size dev gets.
    Small,
    /// Medium.
    Medium,
    /// Large.
    Large,
    /// Extra large.
    Xlarge,
}

/// Risk profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// None.
    None,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High: needs an approval.
    High,
    /// Access-related.
    Access,
}

/// A request's description (the nested layout's `metadata`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestMetadata {
    /// A title.
    #[serde(default)]
    pub title: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// When it was written.
    #[serde(default)]
    pub created: Option<String>,
}

/// A database on the foundational instance (the flat layout; the nested
/// one is read into the same fields).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "goldenpath database request")]
pub struct DatabaseRequest {
    /// `goldenpath.dev/v1alpha1` (optional).
    #[serde(default)]
    pub api_version: Option<Spanned<String>>,
    /// `DatabaseRequest` (optional).
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// `RDS-NNNN`.
    #[schemars(regex(pattern = r"^RDS-[0-9]{4}$"))]
    pub id: Spanned<String>,
    /// `postgres` (the nested layout names the service).
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    /// Title, description, creation date.
    #[serde(default)]
    pub metadata: Option<RequestMetadata>,
    /// The environment.
    pub environment: Spanned<String>,
    /// The database.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{2,62}$"))]
    pub database_name: Spanned<String>,
    /// Its login role.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{2,30}$"))]
    pub username: Spanned<String>,
    /// Instance size (default `small`).
    #[serde(default = "small")]
    pub size: Spanned<Size>,
    /// Storage, GB (default 20).
    #[serde(default = "twenty")]
    #[schemars(range(min = 20, max = 500))]
    pub storage_gb: Spanned<u32>,
    /// Storage autoscaling limit, GB; more than `storageGb` (default 100).
    #[serde(default = "hundred")]
    #[schemars(range(min = 20, max = 1000))]
    pub max_storage_gb: Spanned<u32>,
    /// Days of backups (default 7).
    #[serde(default = "seven")]
    #[schemars(range(min = 1, max = 35))]
    pub backup_retention_days: Spanned<u32>,
    /// The owning team.
    pub owner: Spanned<String>,
    /// Who asks.
    pub requester: Spanned<String>,
    /// The business domain.
    pub domain: Spanned<String>,
    /// Risk profile (default `low`).
    #[serde(default = "low")]
    pub risk: Spanned<Risk>,
    /// Multi-AZ (default false; prod needs it).
    #[serde(default)]
    pub multi_az: Option<Spanned<bool>>,
    /// Performance Insights (default false).
    #[serde(default)]
    pub performance_insights: Option<Spanned<bool>>,
    /// The foundational postgres component to put it on (default: the only
    /// one).
    #[serde(default)]
    pub instance: Option<Spanned<String>>,
}

fn seven() -> Spanned<u32> {
    Spanned::unpositioned(7)
}
fn twenty() -> Spanned<u32> {
    Spanned::unpositioned(20)
}
fn hundred() -> Spanned<u32> {
    Spanned::unpositioned(100)
}
fn small() -> Spanned<Size> {
    Spanned::unpositioned(Size::Small)
}
fn low() -> Spanned<Risk> {
    Spanned::unpositioned(Risk::Low)
}

/// Who must approve a request, by tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Nobody: it applies on its own.
    SelfServe,
    /// The platform group (a `large` or `xlarge` size).
    Platform,
    /// The security group (an access-related risk).
    Security,
    /// One of each (prod, or a high risk).
    PlatformAndSecurity,
}

impl Route {
    /// The groups whose approval it needs.
    pub fn groups(self) -> &'static [&'static str] {
        match self {
            Route::SelfServe => &[],
            Route::Platform => &["platform"],
            Route::Security => &["security"],
            Route::PlatformAndSecurity => &["platform", "security"],
        }
    }
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::SelfServe => "self-serve",
            Route::Platform => "platform",
            Route::Security => "security",
            Route::PlatformAndSecurity => "platform-and-security",
        }
    }
}

/// The nested layout (`service`, `metadata`, `spec: {...}`) read into the
/// flat one: `spec`'s fields moved up, each node keeping its position.
fn flatten(node: &yaml::Node) -> yaml::Node {
    let yaml::NodeKind::Map(entries) = &node.kind else {
        return node.clone();
    };
    let Some((_, spec)) = entries.iter().find(|(k, _)| k.as_str() == Some("spec")) else {
        return node.clone();
    };
    let yaml::NodeKind::Map(inner) = &spec.kind else {
        return node.clone();
    };
    let mut out: Vec<(yaml::Node, yaml::Node)> = entries
        .iter()
        .filter(|(k, _)| k.as_str() != Some("spec"))
        .cloned()
        .collect();
    out.extend(inner.iter().cloned());
    yaml::Node {
        kind: yaml::NodeKind::Map(out),
        start: node.start,
        end: node.end,
    }
}

/// Why a file is not a database request (another service's request, or
/// no request at all), if it is not.
fn foreign_kind(node: &yaml::Node) -> Option<String> {
    let service = node.get("service").and_then(|s| s.as_str());
    let id = node.get("id").and_then(|s| s.as_str()).unwrap_or_default();
    match service {
        Some("postgres" | "rds" | "postgresql") | None
            if id.starts_with("RDS-") || service.is_some() =>
        {
            None
        }
        Some(other) => Some(format!(
            "a `{other}` request ({id}): goldenpath applies only database requests (service: postgres)"
        )),
        None if id.is_empty() => Some("not a request: it has no `id`".into()),
        None => Some(format!(
            "`{id}` is not a database request id (RDS-NNNN), and the file names no service"
        )),
    }
}

/// A request file's YAML: one document, not empty, no control character
/// in a value. Any kind of request file is read through this.
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
    Ok(node)
}

/// A request file, read and checked against the schema.
#[derive(Clone, Debug)]
pub struct LoadedRequest {
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub source: Arc<str>,
    /// What it asks.
    pub request: DatabaseRequest,
    /// A hash of what it asks, for approvals.
    pub hash: String,
}

impl LoadedRequest {
    /// Reads and checks a request file.
    pub fn load(path: &Path) -> Result<LoadedRequest, InvalidInput> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::file(path, format!("cannot read the request: {e}")))?;
        Self::from_source(path, &text)
    }

    /// Parses and checks request text.
    pub fn from_source(path: &Path, text: &str) -> Result<LoadedRequest, InvalidInput> {
        let node = parse_file(path, text)?;
        if let Some(kind) = foreign_kind(&node) {
            return Err(Diagnostic::at(path, text, node.start, kind)
                .with_hint("goldenpath applies database requests (service: postgres, ids RDS-NNNN); list only their files in requests.paths")
                .into());
        }
        let node = flatten(&node);
        let request: DatabaseRequest = yaml::from_node(&node).map_err(|e| {
            Diagnostic::at(path, text, e.pos.unwrap_or(node.start), e.message).with_hint_opt(e.hint)
        })?;
        let loaded = LoadedRequest {
            path: path.to_path_buf(),
            source: Arc::from(text),
            hash: content_hash(&request),
            request,
        };
        let problems = loaded.schema_problems();
        if problems.is_empty() {
            Ok(loaded)
        } else {
            Err(InvalidInput(problems))
        }
    }

    fn at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, pos, message)
    }

    fn schema_problems(&self) -> Vec<Diagnostic> {
        let r = &self.request;
        let mut out = Vec::new();
        if let Some(v) = &r.api_version
            && v.value != crate::spec::API_VERSION
        {
            out.push(self.at(v.start, format!("unsupported apiVersion `{}`", v.value)));
        }
        if let Some(sv) = &r.service
            && !matches!(sv.value.as_str(), "postgres" | "rds" | "postgresql")
        {
            out.push(self.at(sv.start, format!("service `{}` is not postgres", sv.value)));
        }
        if let Some(k) = &r.kind
            && k.value != "DatabaseRequest"
        {
            out.push(self.at(
                k.start,
                format!("expected `kind: DatabaseRequest`, found `{}`", k.value),
            ));
        }
        let id_ok = r.id.value.len() == 8
            && r.id.value.starts_with("RDS-")
            && r.id.value[4..].bytes().all(|b| b.is_ascii_digit());
        if !id_ok {
            out.push(self.at(
                r.id.start,
                format!(
                    "invalid id `{}`: expected RDS-NNNN, e.g. RDS-0002",
                    r.id.value
                ),
            ));
        }
        let name_ok = |s: &str, max: usize| {
            (3..=max).contains(&s.len())
                && s.as_bytes()[0].is_ascii_lowercase()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !name_ok(&r.database_name.value, 63) {
            out.push(self.at(
                r.database_name.start,
                format!(
                    "invalid databaseName `{}`: it must match ^[a-z][a-z0-9_]{{2,62}}$",
                    r.database_name.value.escape_debug()
                ),
            ));
        }
        if !name_ok(&r.username.value, 31) {
            out.push(self.at(
                r.username.start,
                format!(
                    "invalid username `{}`: it must match ^[a-z][a-z0-9_]{{2,30}}$",
                    r.username.value.escape_debug()
                ),
            ));
        }
        let range = |v: &Spanned<u32>, name: &str, lo: u32, hi: u32| {
            (!(lo..=hi).contains(&v.value)).then(|| {
                self.at(
                    v.start,
                    format!("{name} must be between {lo} and {hi}, found {}", v.value),
                )
            })
        };
        out.extend(range(&r.storage_gb, "storageGb", 20, 500));
        out.extend(range(&r.max_storage_gb, "maxStorageGb", 20, 1000));
        out.extend(range(
            &r.backup_retention_days,
            "backupRetentionDays",
            1,
            35,
        ));
        if r.max_storage_gb.value <= r.storage_gb.value {
            out.push(self.at(
                r.max_storage_gb.start,
                format!(
                    "maxStorageGb ({}) must exceed storageGb ({})",
                    r.max_storage_gb.value, r.storage_gb.value
                ),
            ));
        }
        for (field, v) in [
            ("owner", &r.owner),
            ("requester", &r.requester),
            ("domain", &r.domain),
        ] {
            if v.value.trim().is_empty() {
                out.push(self.at(v.start, format!("{field} is empty")));
            } else if v.value.len() > 128 {
                out.push(self.at(v.start, format!("{field} is longer than 128 characters")));
            }
        }
        for (field, v) in [
            ("databaseName", &r.database_name),
            ("username", &r.username),
        ] {
            if is_reserved_name(&v.value) {
                out.push(
                    self.at(
                        v.start,
                        format!(
                            "`{}` is reserved by PostgreSQL and can never be requested",
                            v.value
                        ),
                    )
                    .with_hint(format!("choose another {field}")),
                );
            }
        }
        out
    }

    /// Names a request may not take because someone else owns them: the
    /// instance's admin role, every role and database a component of the
    /// spec declares (`owned`: name, kind, component), and — from the
    /// registry — names applied by another request (`taken`: name, kind,
    /// request id). Each is a positioned problem (invalid input, exit 2).
    pub fn ownership_problems(
        &self,
        owned: &[(String, &'static str, String)],
        taken: &[(String, &'static str, String)],
    ) -> Vec<Diagnostic> {
        let r = &self.request;
        let mut out = Vec::new();
        for (field, v, kind) in [
            ("databaseName", &r.database_name, "database"),
            ("username", &r.username, "role"),
        ] {
            if let Some((_, k, component)) = owned.iter().find(|(n, _, _)| *n == v.value) {
                out.push(
                    self.at(
                        v.start,
                        format!(
                            "`{}` is a {k} the platform spec owns (component `{component}`); a request can never take it over",
                            v.value
                        ),
                    )
                    .with_hint(format!("choose another {field}")),
                );
            } else if let Some((_, k, other)) = taken
                .iter()
                .find(|(n, k, id)| *n == v.value && *k == kind && *id != r.id.value)
            {
                out.push(
                    self.at(
                        v.start,
                        format!(
                            "`{}` is a {k} that request {other} created; a request may only adopt what no one else owns",
                            v.value
                        ),
                    )
                    .with_hint(format!("choose another {field}")),
                );
            }
        }
        out
    }

    /// The platform's rules. Each breach is a positioned refusal.
    pub fn guard(&self, platform: &Platform) -> Vec<Diagnostic> {
        let r = &self.request;
        let mut out = Vec::new();
        let env = r.environment.value.as_str();
        if platform.environment(env).is_none() {
            out.push(self.at(
                r.environment.start,
                format!(
                    "environment `{env}` is not declared (declared: {})",
                    platform.environment_names().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if env == "prod" && r.backup_retention_days.value < 14 {
            out.push(
                self.at(
                    r.backup_retention_days.start,
                    format!(
                        "prod databases keep backups at least 14 days; this asks for {}",
                        r.backup_retention_days.value
                    ),
                )
                .with_hint("set backupRetentionDays: 14 or more"),
            );
        }
        if env == "prod" && !r.multi_az.as_ref().is_some_and(|m| m.value) {
            out.push(
                self.at(
                    r.multi_az.as_ref().map_or(r.environment.start, |m| m.start),
                    "prod databases run in several availability zones",
                )
                .with_hint("set multiAz: true"),
            );
        }
        if env == "dev" && r.size.value != Size::Small {
            out.push(
                self.at(r.size.start, "dev databases must be `small`")
                    .with_hint(
                        "use size: small in dev; larger sizes are for test, staging and prod",
                    ),
            );
        }
        out
    }

    /// Who must approve it: prod and high risk need the platform and the
    /// security groups, a `large` or `xlarge` size the platform group, an
    /// access-related risk the security group; the rest is self-serve.
    pub fn route(&self) -> Route {
        let r = &self.request;
        if r.environment.value == "prod" || r.risk.value == Risk::High {
            Route::PlatformAndSecurity
        } else if matches!(r.size.value, Size::Large | Size::Xlarge) {
            Route::Platform
        } else if r.risk.value == Risk::Access {
            Route::Security
        } else {
            Route::SelfServe
        }
    }

    /// Whether it needs a recorded approval.
    pub fn needs_approval(&self) -> bool {
        self.route() != Route::SelfServe
    }

    /// Why it needs an approval, for messages.
    pub fn approval_reason(&self) -> &'static str {
        let r = &self.request;
        if r.environment.value == "prod" {
            "it is for prod"
        } else if r.risk.value == Risk::High {
            "its risk is high"
        } else if matches!(r.size.value, Size::Large | Size::Xlarge) {
            "its size is large"
        } else if r.risk.value == Risk::Access {
            "its risk is access-related"
        } else {
            "it does not"
        }
    }

    /// `domain` and `owner` against an enums file of the platform's shape
    /// (top-level keys, each a list): keys `domains`/`domain` and
    /// `owners`/`owner`. Positioned problems (invalid input).
    pub fn enum_problems(&self, enums: &yaml::Node, enums_file: &Path) -> Vec<Diagnostic> {
        let r = &self.request;
        let mut out = Vec::new();
        for (field, value, keys) in [
            ("domain", &r.domain, ["domains", "domain"]),
            ("owner", &r.owner, ["owners", "owner"]),
        ] {
            let list = keys.iter().find_map(|k| enums.get(k));
            let Some(yaml::NodeKind::Seq(items)) = list.map(|l| &l.kind) else {
                continue;
            };
            let allowed: Vec<&str> = items.iter().filter_map(|i| i.as_str()).collect();
            if !allowed.contains(&value.value.as_str()) {
                out.push(self.at(
                    value.start,
                    format!(
                        "{field} `{}` is not in {} (allowed: {})",
                        value.value,
                        enums_file.display(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        out
    }
}

/// What approvals and the registry need of any request (a database's, a
/// bucket's, a secret's, a repository's).
pub trait Approvable {
    /// Its id.
    fn request_id(&self) -> &str;
    /// Its environment.
    fn request_env(&self) -> &str;
    /// Who asked, when the file says.
    fn request_requester(&self) -> Option<&str>;
    /// The hash of its content.
    fn request_hash(&self) -> &str;
    /// Who must approve it.
    fn request_route(&self) -> Route;
    /// `rds`, `s3`, `secret`, `ecr`.
    fn request_kind(&self) -> &'static str;
}

impl Approvable for LoadedRequest {
    fn request_id(&self) -> &str {
        &self.request.id.value
    }
    fn request_env(&self) -> &str {
        &self.request.environment.value
    }
    fn request_requester(&self) -> Option<&str> {
        Some(&self.request.requester.value)
    }
    fn request_hash(&self) -> &str {
        &self.hash
    }
    fn request_route(&self) -> Route {
        self.route()
    }
    fn request_kind(&self) -> &'static str {
        "rds"
    }
}

impl Approvable for crate::resource::LoadedResource {
    fn request_id(&self) -> &str {
        &self.id().value
    }
    fn request_env(&self) -> &str {
        self.env()
    }
    fn request_requester(&self) -> Option<&str> {
        self.requester()
    }
    fn request_hash(&self) -> &str {
        &self.hash
    }
    fn request_route(&self) -> Route {
        self.route()
    }
    fn request_kind(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// Names PostgreSQL keeps for itself.
pub fn is_reserved_name(name: &str) -> bool {
    name.starts_with("pg_")
        || matches!(
            name,
            "postgres" | "template0" | "template1" | "public" | "information_schema"
        )
}

/// The SHA-256 (hex) of what a request asks, in a canonical form (its
/// fields as JSON in declaration order, not its formatting): approvals bind
/// it, so an edited request needs a new approval.
fn content_hash(r: &DatabaseRequest) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(r).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The request's JSON Schema.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(DatabaseRequest)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "id: RDS-0001
environment: dev
databaseName: orders
username: orders_app
size: small
storageGb: 20
maxStorageGb: 100
owner: team-orders
requester: alice
domain: commerce
risk: low
";

    fn load(text: &str) -> Result<LoadedRequest, InvalidInput> {
        LoadedRequest::from_source(Path::new("requests/RDS-0001.yaml"), text)
    }

    #[test]
    fn a_good_request_loads_with_defaults() {
        let r = load(GOOD).unwrap();
        assert_eq!(r.request.backup_retention_days.value, 7);
        assert!(!r.needs_approval());
        let edited = load(&GOOD.replace("storageGb: 20", "storageGb: 30")).unwrap();
        assert_ne!(r.hash, edited.hash);
        let reformatted = load(&GOOD.replace("risk: low", "risk:   low   ")).unwrap();
        assert_eq!(r.hash, reformatted.hash);
    }

    const NESTED: &str = "# the platform's layout
id: RDS-0007
service: postgres
environment: dev
owner: team-orders
requester: alice
metadata:
  title: Orders
  description: the orders service's database
  created: 2026-01-05
spec:
  databaseName: orders
  username: orders_app
  domain: commerce
  multiAz: false
  performanceInsights: true
";

    #[test]
    fn the_nested_layout_reads_with_the_platforms_defaults() {
        let r = LoadedRequest::from_source(Path::new("rds-requests/dev/RDS-0007.yaml"), NESTED)
            .unwrap();
        let q = &r.request;
        assert_eq!(q.id.value, "RDS-0007");
        assert_eq!(q.database_name.value, "orders");
        assert_eq!(q.database_name.start.line, 12, "positions are the file's");
        assert_eq!(
            (
                q.size.value,
                q.storage_gb.value,
                q.max_storage_gb.value,
                q.risk.value
            ),
            (Size::Small, 20, 100, Risk::Low)
        );
        assert_eq!(
            q.metadata.as_ref().unwrap().title.as_deref(),
            Some("Orders")
        );
        assert_eq!(r.route(), Route::SelfServe);
        // A typo inside `spec` is found at its line.
        let err =
            LoadedRequest::from_source(Path::new("x.yaml"), &NESTED.replace("multiAz", "multiAZ"))
                .unwrap_err();
        assert_eq!(err.0[0].pos.unwrap().line, 15, "{err}");
        // Another service's request, and a file that is no request.
        let err = LoadedRequest::from_source(
            Path::new("SEC-0007-simulated.yaml"),
            "id: SEC-0007\nservice: secretsmanager\n",
        )
        .unwrap_err();
        assert!(
            err.0[0]
                .message
                .contains("a `secretsmanager` request (SEC-0007)"),
            "{err}"
        );
        let err =
            LoadedRequest::from_source(Path::new("notes.yaml"), "title: notes\n").unwrap_err();
        assert!(err.0[0].message.contains("not a request"), "{err}");
        // Routing by tier.
        let large = LoadedRequest::from_source(
            Path::new("x.yaml"),
            &NESTED.replace("  domain: commerce", "  domain: commerce\n  size: large"),
        )
        .unwrap();
        assert_eq!(large.route(), Route::Platform);
        let access = LoadedRequest::from_source(
            Path::new("x.yaml"),
            &NESTED.replace("  domain: commerce", "  domain: commerce\n  risk: access"),
        )
        .unwrap();
        assert_eq!(access.route(), Route::Security);
        let prod = LoadedRequest::from_source(
            Path::new("x.yaml"),
            &NESTED.replace("environment: dev", "environment: prod"),
        )
        .unwrap();
        assert_eq!(prod.route(), Route::PlatformAndSecurity);
    }

    #[test]
    fn schema_problems_are_positioned() {
        let err = load(
            &GOOD
                .replace("maxStorageGb: 100", "maxStorageGb: 20")
                .replace("orders_app", "Orders"),
        )
        .unwrap_err();
        let lines: Vec<(u32, &str)> = err
            .0
            .iter()
            .map(|d| (d.pos.unwrap().line, d.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, 4);
        assert!(lines[0].1.starts_with("invalid username `Orders`"));
        assert_eq!(
            lines[1],
            (7, "maxStorageGb (20) must exceed storageGb (20)")
        );
        let err = load(&GOOD.replace("size: small", "size: huge")).unwrap_err();
        assert!(err.0[0].message.contains("unknown value `huge`"), "{err}");
        // A file's name need not be its id (the platform writes
        // `SEC-0007-simulated.yaml`).
        assert!(LoadedRequest::from_source(Path::new("RDS-0001-orders.yaml"), GOOD).is_ok());
    }
}
