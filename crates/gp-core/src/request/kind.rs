//! What every kind of request shares: the kinds, their names and routes,
//! the rules each kind implements, and what a request delivers to the
//! cluster. Imports no kind's module, so each kind's module imports this.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::spec::Platform;
use crate::yaml::{Pos, Spanned};

/// The kinds of request.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum RequestKind {
    /// A database and its login role on a foundational instance.
    #[serde(rename = "rds")]
    Database,
    /// An S3 bucket.
    #[serde(rename = "s3")]
    Bucket,
    /// A Secrets Manager secret.
    #[serde(rename = "secret")]
    Secret,
    /// An ECR repository.
    #[serde(rename = "ecr")]
    Repository,
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Database,
        RequestKind::Bucket,
        RequestKind::Secret,
        RequestKind::Repository,
    ];

    /// As the registry and the CLI write it: `rds`, `s3`, `secret`, `ecr`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Database => "rds",
            RequestKind::Bucket => "s3",
            RequestKind::Secret => "secret",
            RequestKind::Repository => "ecr",
        }
    }

    /// The id prefix: `RDS-`, `S3-`, `SEC-`, `ECR-`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            RequestKind::Database => "RDS-",
            RequestKind::Bucket => "S3-",
            RequestKind::Secret => "SEC-",
            RequestKind::Repository => "ECR-",
        }
    }

    /// The `kind:` goldenpath writes in a file of it.
    pub fn kind_name(self) -> &'static str {
        match self {
            RequestKind::Database => "DatabaseRequest",
            RequestKind::Bucket => "S3BucketRequest",
            RequestKind::Secret => "SecretRequest",
            RequestKind::Repository => "EcrRepositoryRequest",
        }
    }

    /// What one is, in words.
    pub fn noun(self) -> &'static str {
        match self {
            RequestKind::Database => "database",
            RequestKind::Bucket => "bucket",
            RequestKind::Secret => "secret",
            RequestKind::Repository => "repository",
        }
    }

    /// From a command line or the registry: `rds`/`database`/`postgres`,
    /// `s3`/`bucket`, `secret`, `ecr`/`repository`/`registry-repo`, or a
    /// `kind:` name.
    pub fn parse(s: &str) -> Option<RequestKind> {
        match s.to_ascii_lowercase().as_str() {
            "rds" | "database" | "db" | "postgres" | "postgresql" => Some(RequestKind::Database),
            "s3" | "bucket" => Some(RequestKind::Bucket),
            "secret" | "sec" | "secretsmanager" | "secrets-manager" => Some(RequestKind::Secret),
            "ecr" | "registry-repo" | "repository" | "repo" => Some(RequestKind::Repository),
            _ => kind_of_name(s),
        }
    }
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who must approve a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Nobody: it applies on its own.
    SelfServe,
    /// The platform group.
    Platform,
    /// The security group.
    Security,
    /// One of each.
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

    /// This route with the platform group added (an adoption needs the
    /// platform's approval whatever else the request needs).
    pub fn with_platform(self) -> Route {
        match self {
            Route::SelfServe | Route::Platform => Route::Platform,
            Route::Security | Route::PlatformAndSecurity => Route::PlatformAndSecurity,
        }
    }

    /// From two flags: the security group, and the platform group.
    pub(crate) fn of(security: bool, platform: bool) -> Route {
        match (security, platform) {
            (true, true) => Route::PlatformAndSecurity,
            (true, false) => Route::Security,
            (false, true) => Route::Platform,
            (false, false) => Route::SelfServe,
        }
    }
}

/// The `kind:` names each kind is known by.
pub fn kind_names(kind: RequestKind) -> &'static [&'static str] {
    match kind {
        RequestKind::Database => &[
            "DatabaseRequest",
            "RdsRequest",
            "RDSRequest",
            "RdsDatabaseRequest",
            "PostgresRequest",
            "PostgresDatabaseRequest",
        ],
        RequestKind::Bucket => &["S3BucketRequest", "BucketRequest", "S3Request"],
        RequestKind::Secret => &["SecretRequest", "SecretsManagerRequest"],
        RequestKind::Repository => &[
            "EcrRepositoryRequest",
            "ECRRepositoryRequest",
            "EcrRequest",
            "ECRRequest",
            "ContainerRegistryRequest",
            "ContainerRepositoryRequest",
            "RegistryRepositoryRequest",
        ],
    }
}

/// The kind a `kind:` name stands for.
pub fn kind_of_name(name: &str) -> Option<RequestKind> {
    RequestKind::ALL
        .into_iter()
        .find(|k| kind_names(*k).iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// Positioned diagnostics in one request file.
pub struct At<'a> {
    path: &'a Path,
    source: &'a str,
}

impl<'a> At<'a> {
    /// Diagnostics in `path`, quoting `source`.
    pub fn new(path: &'a Path, source: &'a str) -> Self {
        Self { path, source }
    }

    /// A diagnostic at `pos`.
    pub fn at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, self.source, pos, message)
    }
}

/// What every kind of request implements: its identity, its rules, its
/// route and what apply makes of it.
pub trait KindRules {
    /// The kind.
    fn kind(&self) -> RequestKind;
    /// Its id, as written.
    fn id(&self) -> &Spanned<String>;
    /// Its environment, when it names one (a repository may serve all).
    fn environment(&self) -> Option<&Spanned<String>>;
    /// Who asked, when the file says.
    fn requester(&self) -> Option<&Spanned<String>>;
    /// The owning team.
    fn owner(&self) -> &str;
    /// The business domain, when it names one.
    fn domain(&self) -> Option<&Spanned<String>> {
        None
    }
    /// The resource's name as the file writes it (database, bucket, secret
    /// name, repository).
    fn resource_name(&self) -> &str;
    /// Whether it asks to adopt something that exists and nobody owns
    /// (`adopt: true`).
    fn adopt(&self) -> Option<&Spanned<bool>>;
    /// Settings that weaken an existing resource the request asks for by
    /// name (`allowWeakening: [tagImmutability, ...]`).
    fn allowed_weakenings(&self) -> &[Spanned<String>];
    /// Problems of shape, type, pattern and range (invalid input).
    fn schema_problems(&self, at: &At<'_>) -> Vec<Diagnostic>;
    /// The platform's rules: each breach is a refusal.
    fn guard(&self, platform: &Platform, at: &At<'_>) -> Vec<Diagnostic>;
    /// Where the file is stricter-than-needed advice: accepted, with a
    /// warning (a name outside the convention the platform's rule admits).
    fn advice(&self, platform: &Platform, at: &At<'_>) -> Vec<Diagnostic> {
        let _ = (platform, at);
        Vec::new()
    }
    /// Who must approve it, and why (for messages).
    fn route(&self) -> (Route, &'static str);
}

/// Something a request delivers to the cluster through the GitOps
/// repository: an ExternalSecret that takes its secret into the app's
/// namespace. The gitops driver renders it, checks it against the External
/// Secrets CRD and the policies, and commits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The ExternalSecret's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The Kubernetes Secret it writes.
    pub target: String,
    /// The secret's path in the secrets store.
    pub remote_key: String,
    /// The keys it copies one by one; empty: the whole secret extracted.
    pub keys: Vec<String>,
}

/// The tag goldenpath puts on every cloud resource a request made or
/// adopted: its request id.
pub const REQUEST_TAG: &str = "goldenpath:request";

/// The environment of a request that names none (a repository serves
/// every environment).
pub const GLOBAL: &str = "global";

/// Names PostgreSQL keeps for itself.
pub fn is_reserved_name(name: &str) -> bool {
    name.starts_with("pg_")
        || matches!(
            name,
            "postgres" | "template0" | "template1" | "public" | "information_schema"
        )
}
