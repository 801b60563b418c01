//! Self-service requests beyond databases: an S3 bucket
//! (`S3BucketRequest`, ids `S3-NNNN`), a Secrets Manager secret
//! (`SecretRequest`, `SEC-NNNN`) and an ECR repository
//! (`EcrRepositoryRequest`, `ECR-NNNN`), in the platform's layout:
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
//! `metadata` and `spec` are read as one set of fields (a field may sit in
//! either, or at the top), each keeping its position. A field the kind
//! does not know is a warning — or an error naming the field meant, when it
//! is one or two letters away from one. Schema problems (types, patterns,
//! ranges) are invalid input; [`LoadedResource::guard`] applies the
//! platform's rules, each breach a refusal; [`LoadedResource::route`] says
//! who approves; [`LoadedResource::desired`] is what apply makes, with the
//! platform's per-purpose defaults filled in and named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, InvalidInput};
use crate::request::Route;
use crate::spec::Platform;
use crate::yaml::{self, Pos, Spanned};

/// The kinds of resource request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    /// An S3 bucket.
    S3,
    /// A Secrets Manager secret.
    Secret,
    /// An ECR repository.
    Ecr,
}

impl ResourceKind {
    /// As the registry and the CLI write it: `s3`, `secret`, `ecr`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::S3 => "s3",
            ResourceKind::Secret => "secret",
            ResourceKind::Ecr => "ecr",
        }
    }
    /// The id prefix: `S3-`, `SEC-`, `ECR-`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            ResourceKind::S3 => "S3-",
            ResourceKind::Secret => "SEC-",
            ResourceKind::Ecr => "ECR-",
        }
    }
    /// The `kind:` a file of it names.
    pub fn kind_name(self) -> &'static str {
        match self {
            ResourceKind::S3 => "S3BucketRequest",
            ResourceKind::Secret => "SecretRequest",
            ResourceKind::Ecr => "EcrRepositoryRequest",
        }
    }
    /// What one is, in words.
    pub fn noun(self) -> &'static str {
        match self {
            ResourceKind::S3 => "bucket",
            ResourceKind::Secret => "secret",
            ResourceKind::Ecr => "repository",
        }
    }
    /// From `request schema KIND` and `--kind`: `s3`/`bucket`,
    /// `secret`, `ecr`/`registry-repo`.
    pub fn parse(s: &str) -> Option<ResourceKind> {
        match s.to_ascii_lowercase().as_str() {
            "s3" | "bucket" | "s3bucketrequest" => Some(ResourceKind::S3),
            "secret" | "sec" | "secretrequest" | "secretsmanager" => Some(ResourceKind::Secret),
            "ecr" | "registry-repo" | "repository" | "ecrrepositoryrequest" => {
                Some(ResourceKind::Ecr)
            }
            _ => None,
        }
    }
    /// All of them.
    pub const ALL: [ResourceKind; 3] = [ResourceKind::S3, ResourceKind::Secret, ResourceKind::Ecr];
}

/// Which resource kind a parsed file is, if it is one: by `kind:`, else
/// by its id's prefix, else by `service:`.
pub fn detect(node: &yaml::Node) -> Option<ResourceKind> {
    let field = |k: &str| {
        node.get(k)
            .and_then(|n| n.as_str())
            .or_else(|| {
                node.get("metadata")
                    .and_then(|m| m.get(k))
                    .and_then(|n| n.as_str())
            })
            .or_else(|| {
                node.get("spec")
                    .and_then(|m| m.get(k))
                    .and_then(|n| n.as_str())
            })
    };
    if let Some(kind) = node.get("kind").and_then(|k| k.as_str()) {
        return match kind {
            "S3BucketRequest" | "BucketRequest" | "S3Request" => Some(ResourceKind::S3),
            "SecretRequest" => Some(ResourceKind::Secret),
            "EcrRepositoryRequest"
            | "ECRRepositoryRequest"
            | "EcrRequest"
            | "ECRRequest"
            | "ContainerRegistryRequest"
            | "ContainerRepositoryRequest"
            | "RegistryRepositoryRequest" => Some(ResourceKind::Ecr),
            _ => None,
        };
    }
    let id = field("id").unwrap_or_default();
    for k in ResourceKind::ALL {
        if id.starts_with(k.id_prefix()) {
            return Some(k);
        }
    }
    match field("service") {
        Some("s3") => Some(ResourceKind::S3),
        Some("secretsmanager" | "secrets-manager") => Some(ResourceKind::Secret),
        Some("ecr") => Some(ResourceKind::Ecr),
        _ => None,
    }
}

/// A request file's id: `id` at the top, else under `metadata` or `spec`.
pub fn file_id(node: &yaml::Node) -> Option<&str> {
    node.get("id")
        .and_then(|n| n.as_str())
        .or_else(|| {
            node.get("metadata")
                .and_then(|m| m.get("id"))
                .and_then(|n| n.as_str())
        })
        .or_else(|| {
            node.get("spec")
                .and_then(|m| m.get("id"))
                .and_then(|n| n.as_str())
        })
}

// ---- the bucket ----

/// What a bucket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PurposeType {
    /// Logs: no versioning, Standard-IA at 30 days, expired at 90.
    Logs,
    /// Uploads: versioned.
    Uploads,
    /// Backups: versioned, Glacier at 90 days.
    Backups,
    /// A data lake: versioned, Standard-IA at 30 days.
    DataLake,
    /// Static assets: unversioned; needs the platform's approval.
    StaticAssets,
}

impl PurposeType {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            PurposeType::Logs => "logs",
            PurposeType::Uploads => "uploads",
            PurposeType::Backups => "backups",
            PurposeType::DataLake => "data-lake",
            PurposeType::StaticAssets => "static-assets",
        }
    }
    /// The platform's defaults for it: versioning, days to Standard-IA, to
    /// Glacier, to expiry.
    pub fn defaults(self) -> (bool, Option<u32>, Option<u32>, Option<u32>) {
        match self {
            PurposeType::Logs => (false, Some(30), None, Some(90)),
            PurposeType::Uploads => (true, None, None, None),
            PurposeType::Backups => (true, None, Some(90), None),
            PurposeType::DataLake => (true, Some(30), None, None),
            PurposeType::StaticAssets => (false, None, None, None),
        }
    }
}

/// `purpose`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Purpose {
    /// logs, uploads, backups, data-lake, static-assets.
    #[serde(rename = "type")]
    pub kind: Spanned<PurposeType>,
    /// What it holds, 10 to 200 characters.
    pub description: Spanned<String>,
}

/// Server-side encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EncryptionType {
    /// S3-managed keys (AES-256).
    SseS3,
    /// A KMS key (staging and prod need it).
    SseKms,
}

/// `encryption`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// sse-s3 (default) or sse-kms.
    #[serde(rename = "type")]
    pub kind: Spanned<EncryptionType>,
    /// The KMS key's alias (`alias/...` or the bare name); sse-kms needs it.
    #[serde(default)]
    pub kms_key_alias: Option<Spanned<String>>,
}

/// Public access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PublicAccess {
    /// Every public-access block on (the default).
    Blocked,
    /// An approved exception: the blocks are off; needs the platform's
    /// approval.
    ExceptionApproved,
}

/// Retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RetentionType {
    /// Kept until deleted.
    Indefinite,
    /// Kept for a time: needs a lifecycle.
    TimeBounded,
    /// Kept as a regulation says: needs a lifecycle.
    ComplianceDriven,
}

/// `retentionPolicy`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// indefinite, time-bounded, compliance-driven.
    #[serde(rename = "type")]
    pub kind: Spanned<RetentionType>,
    /// Why.
    #[serde(default)]
    pub rationale: Option<Spanned<String>>,
}

/// `lifecycle` of a bucket.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketLifecycle {
    /// Days until objects expire (1 to 36500).
    #[serde(default)]
    pub expire_days: Option<Spanned<u32>>,
    /// Days until Standard-IA (at least 30).
    #[serde(default)]
    pub transition_to_ia_days: Option<Spanned<u32>>,
    /// Days until Glacier (at least 90).
    #[serde(default)]
    pub transition_to_glacier_days: Option<Spanned<u32>>,
}

/// `accessLogging`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogging {
    /// On or off (staging and prod need it on).
    pub enabled: Spanned<bool>,
    /// Where the logs go (needed when on).
    #[serde(default)]
    pub target_bucket: Option<Spanned<String>>,
}

/// An S3 bucket request, its `metadata` and `spec` read as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath bucket request")]
pub struct BucketRequest {
    /// `S3-NNNN`.
    pub id: Spanned<String>,
    /// The environment.
    pub environment: Spanned<String>,
    /// `{prefix}-{env}-{application}-{purpose}`, e.g. goldenpath-dev-orders-logs.
    pub bucket_name: Spanned<String>,
    /// What it is for.
    pub purpose: Purpose,
    /// The default storage class objects are written with, as S3 names it
    /// (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...); recorded as a tag.
    #[serde(default)]
    pub storage_class: Option<Spanned<String>>,
    /// Encryption (default sse-s3).
    #[serde(default)]
    pub encryption: Option<Encryption>,
    /// Versioning (default: the purpose's).
    #[serde(default)]
    pub versioning: Option<Spanned<bool>>,
    /// blocked (default) or exception-approved.
    #[serde(default)]
    pub public_access: Option<Spanned<PublicAccess>>,
    /// Retention.
    #[serde(default)]
    pub retention_policy: Option<Retention>,
    /// Lifecycle rules (default: the purpose's).
    #[serde(default)]
    pub lifecycle: Option<BucketLifecycle>,
    /// Server access logging.
    #[serde(default)]
    pub access_logging: Option<AccessLogging>,
    /// The size, GB, past which the owner is alerted; recorded as a tag.
    #[serde(default)]
    pub cost_alert_gb: Option<Spanned<u64>>,
    /// Whether the app sets CORS rules on it; recorded as a tag.
    #[serde(default)]
    pub cors_enabled: Option<Spanned<bool>>,
    /// Tags; `costCenter` is required.
    #[serde(default)]
    pub tags: BTreeMap<String, Spanned<String>>,
    /// The owning team.
    pub owner: Spanned<String>,
    /// The application.
    pub application: Spanned<String>,
    /// Who asks.
    pub requester: Spanned<String>,
}

// ---- the secret ----

/// A risk tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    /// Low.
    Low,
    /// Medium: the security group approves.
    Medium,
    /// High (or `critical`): the security group approves, and a secret
    /// must rotate.
    #[serde(alias = "critical")]
    High,
}

impl RiskTier {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::High => "high",
        }
    }
}

/// `risk`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRisk {
    /// low, medium, high.
    pub tier: Spanned<RiskTier>,
}

/// A risk written as a tier (`risk: high`) or as `risk: {tier: high}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RiskField {
    /// `risk: high`.
    Tier(RiskTier),
    /// `risk: {tier: high}`.
    Map(SecretRisk),
}

impl RiskField {
    /// The tier.
    pub fn tier(&self) -> RiskTier {
        match self {
            RiskField::Tier(t) => *t,
            RiskField::Map(m) => m.tier.value,
        }
    }
}

/// A yes or no written as a boolean or as a word (`IMMUTABLE`, `enabled`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Flag {
    /// `true` or `false`.
    Bool(bool),
    /// A word.
    Word(String),
}

impl Flag {
    /// What it says, if it says yes or no.
    pub fn truth(&self) -> Option<bool> {
        match self {
            Flag::Bool(b) => Some(*b),
            Flag::Word(w) => match w.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "enabled" | "immutable" => Some(true),
                "false" | "no" | "off" | "disabled" | "mutable" => Some(false),
                _ => None,
            },
        }
    }
}

/// `rotation`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// The platform's rotation class (`none` for no rotation).
    pub rotation_class: Spanned<String>,
}

/// `lifecycle` of a secret.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretLifecycle {
    /// active (default), deprecated, ...
    #[serde(default)]
    pub status: Option<Spanned<String>>,
    /// Days Secrets Manager keeps it after a deletion, 7 to 30 (default 30).
    #[serde(default)]
    pub recovery_window_in_days: Option<Spanned<u32>>,
}

/// `access`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretAccess {
    /// The app's namespace.
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// The Kubernetes Secret the ExternalSecret writes.
    #[serde(default)]
    pub k8s_secret_name: Option<Spanned<String>>,
    /// IAM principals (ARNs) that may read it.
    #[serde(default)]
    pub read_principals: Vec<Spanned<String>>,
    /// IAM principals that may write it.
    #[serde(default)]
    pub write_principals: Vec<Spanned<String>>,
    /// IAM principals for break-glass access (the security group approves).
    #[serde(default)]
    pub break_glass_principals: Vec<Spanned<String>>,
}

/// A secret request, its `metadata` and `spec` read as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath secret request")]
pub struct SecretRequest {
    /// `SEC-NNNN`.
    pub id: Spanned<String>,
    /// The secret's name (`metadata.name`).
    pub name: Spanned<String>,
    /// The service it belongs to.
    pub service: Spanned<String>,
    /// The environment.
    pub environment: Spanned<String>,
    /// The business domain.
    #[serde(default)]
    pub domain: Option<Spanned<String>>,
    /// The owning team (default: the service).
    #[serde(default)]
    pub owner: Option<Spanned<String>>,
    /// Who asks (when absent, whoever applies it is who asked).
    #[serde(default)]
    pub requester: Option<Spanned<String>>,
    /// `aws-secrets-manager` (the default; the only one applied).
    #[serde(default)]
    pub provider: Option<Spanned<String>>,
    /// What it holds (api-key, database-credentials, ...); a tag.
    #[serde(default)]
    pub secret_type: Option<Spanned<String>>,
    /// Its risk: `{tier: low|medium|high}` (or the tier alone).
    #[serde(default)]
    pub risk: Option<Spanned<RiskField>>,
    /// Its rotation.
    #[serde(default)]
    pub rotation: Option<Rotation>,
    /// Status and recovery window.
    #[serde(default)]
    pub lifecycle: Option<SecretLifecycle>,
    /// Who and what may read and write it.
    #[serde(default)]
    pub access: SecretAccess,
    /// Days it lives before review; a tag.
    #[serde(default)]
    pub ttl_days: Option<Spanned<u32>>,
}

// ---- the repository ----

/// A repository request, its `metadata` and `spec` read as one.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "goldenpath container-registry request")]
pub struct EcrRequest {
    /// `ECR-NNNN`.
    pub id: Spanned<String>,
    /// The repository (`team/app` or `app`), as ECR names it.
    #[serde(alias = "name", alias = "repository")]
    pub repository_name: Spanned<String>,
    /// The environment (default: none; a repository serves every one).
    #[serde(default)]
    pub environment: Option<Spanned<String>>,
    /// Scan images on push (default true; prod needs it).
    #[serde(default)]
    pub scan_on_push: Option<Spanned<Flag>>,
    /// Tags cannot be overwritten (default true; prod needs it).
    #[serde(default, alias = "immutableTags")]
    pub tag_immutability: Option<Spanned<Flag>>,
    /// ECR's own form of the same: IMMUTABLE or MUTABLE.
    #[serde(default)]
    pub image_tag_mutability: Option<Spanned<String>>,
    /// Keep the last N images (1 to 1000; default 30).
    #[serde(default, alias = "keepLast", alias = "keepLastImages")]
    pub keep_last: Option<Spanned<u32>>,
    /// `lifecyclePolicy: {keepLast: N}`, as the catalog template writes it.
    #[serde(default, alias = "lifecycle")]
    pub lifecycle_policy: Option<EcrLifecycle>,
    /// Its risk (low, medium, high).
    #[serde(default)]
    pub risk: Option<Spanned<RiskField>>,
    /// The owning team.
    pub owner: Spanned<String>,
    /// Who asks (when absent, whoever applies it is who asked).
    #[serde(default)]
    pub requester: Option<Spanned<String>>,
}

/// `lifecyclePolicy`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcrLifecycle {
    /// Keep the last N images.
    #[serde(default, alias = "keepLastImages", alias = "maxImageCount")]
    pub keep_last: Option<Spanned<u32>>,
}

/// What a file asks for.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ResourceSpec {
    /// A bucket.
    S3(BucketRequest),
    /// A secret.
    Secret(SecretRequest),
    /// A repository.
    Ecr(EcrRequest),
}

/// A resource request file, read and checked against its kind's schema.
#[derive(Clone, Debug)]
pub struct LoadedResource {
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub source: Arc<str>,
    /// What it asks.
    pub spec: ResourceSpec,
    /// A hash of what it asks, for approvals.
    pub hash: String,
    /// Fields the kind does not know (positioned; not errors).
    pub warnings: Vec<Diagnostic>,
}

/// What apply makes: every value resolved, defaults filled in.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Desired {
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

/// A bucket as apply makes it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredBucket {
    /// Its name.
    pub name: String,
    /// `AES256`, or `aws:kms` with the key.
    pub kms_key: Option<String>,
    /// Versioning on.
    pub versioning: bool,
    /// Every public-access block on.
    pub block_public: bool,
    /// Days to Standard-IA.
    pub ia_days: Option<u32>,
    /// Days to Glacier.
    pub glacier_days: Option<u32>,
    /// Days to expiry.
    pub expire_days: Option<u32>,
    /// Where access logs go.
    pub log_target: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

/// A secret as apply makes it (never a value: the app's owners write it).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredSecret {
    /// Its path in Secrets Manager.
    pub name: String,
    /// Days kept after a deletion.
    pub recovery_window_days: u32,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Readers, writers, break-glass (ARNs).
    pub read: Vec<String>,
    /// Writers.
    pub write: Vec<String>,
    /// Break-glass.
    pub break_glass: Vec<String>,
    /// The ExternalSecret's name, namespace and target Secret, if the app
    /// takes it into Kubernetes.
    pub external_secret: Option<(String, String, String)>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

/// A repository as apply makes it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredRepository {
    /// Its name.
    pub name: String,
    /// Scan on push.
    pub scan_on_push: bool,
    /// Immutable tags.
    pub immutable: bool,
    /// Images kept.
    pub keep_last: u32,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Fields left out that the platform's defaults filled in.
    pub defaulted: Vec<String>,
}

/// The top-level, `metadata` and `spec` fields as one map, each node
/// keeping its position (`spec` over `metadata` over the top).
fn merged(node: &yaml::Node) -> yaml::Node {
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

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
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
    "labels",
    "annotations",
    "status",
    "notes",
    "service",
    "version",
];

impl LoadedResource {
    /// Reads and checks a resource request file.
    pub fn load(path: &Path) -> Result<LoadedResource, InvalidInput> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::file(path, format!("cannot read the request: {e}")))?;
        Self::from_source(path, &text)
    }

    /// Parses and checks request text of any resource kind.
    pub fn from_source(path: &Path, text: &str) -> Result<LoadedResource, InvalidInput> {
        let node = crate::request::parse_file(path, text)?;
        let Some(kind) = detect(&node) else {
            return Err(Diagnostic::at(
                path,
                text,
                node.start,
                "not a bucket, secret or repository request (kind S3BucketRequest, SecretRequest or EcrRepositoryRequest)",
            )
            .into());
        };
        let mut problems = Vec::new();
        if let Some(v) = node.get("apiVersion")
            && !matches!(
                v.as_str(),
                Some(
                    "goldenpath.io/v1"
                        | "goldenpath.io/v1beta1"
                        | "goldenpath.io/v1alpha1"
                        | crate::spec::API_VERSION
                )
            )
        {
            problems.push(Diagnostic::at(
                path,
                text,
                v.start,
                format!(
                    "unsupported apiVersion `{}` (goldenpath.io/v1)",
                    v.as_str().unwrap_or_default()
                ),
            ));
        }
        let flat = merged(&node);
        let known = known_fields(kind);
        let mut warnings = Vec::new();
        if let yaml::NodeKind::Map(entries) = &flat.kind {
            for (k, _) in entries {
                let key = k.as_str().unwrap_or_default();
                if known.contains(&key) || IGNORED.contains(&key) {
                    continue;
                }
                match known.iter().find(|f| distance(f, key) <= 2) {
                    Some(meant) => problems.push(
                        Diagnostic::at(path, text, k.start, format!("unknown field `{key}`"))
                            .with_hint(format!("did you mean `{meant}`?")),
                    ),
                    None => warnings.push(Diagnostic::at(
                        path,
                        text,
                        k.start,
                        format!(
                            "field `{key}` is not part of a {}; it is ignored",
                            kind.kind_name()
                        ),
                    )),
                }
            }
        }
        let at_err = |e: yaml::Error| {
            Diagnostic::at(path, text, e.pos.unwrap_or(flat.start), e.message).with_hint_opt(e.hint)
        };
        let spec = match kind {
            ResourceKind::S3 => yaml::from_node(&flat).map(ResourceSpec::S3),
            ResourceKind::Secret => yaml::from_node(&flat).map(ResourceSpec::Secret),
            ResourceKind::Ecr => yaml::from_node(&flat).map(ResourceSpec::Ecr),
        };
        let spec = match spec {
            Ok(s) => s,
            Err(e) => {
                problems.push(at_err(e));
                return Err(InvalidInput(problems));
            }
        };
        let loaded = LoadedResource {
            path: path.to_path_buf(),
            source: Arc::from(text),
            hash: content_hash(&spec),
            spec,
            warnings,
        };
        problems.extend(loaded.schema_problems());
        if problems.is_empty() {
            Ok(loaded)
        } else {
            Err(InvalidInput(problems))
        }
    }

    fn at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, pos, message)
    }

    /// The kind.
    pub fn kind(&self) -> ResourceKind {
        match &self.spec {
            ResourceSpec::S3(_) => ResourceKind::S3,
            ResourceSpec::Secret(_) => ResourceKind::Secret,
            ResourceSpec::Ecr(_) => ResourceKind::Ecr,
        }
    }

    /// The id.
    pub fn id(&self) -> &Spanned<String> {
        match &self.spec {
            ResourceSpec::S3(r) => &r.id,
            ResourceSpec::Secret(r) => &r.id,
            ResourceSpec::Ecr(r) => &r.id,
        }
    }

    /// The environment (`global` for a repository that names none).
    pub fn env(&self) -> &str {
        match &self.spec {
            ResourceSpec::S3(r) => &r.environment.value,
            ResourceSpec::Secret(r) => &r.environment.value,
            ResourceSpec::Ecr(r) => r.environment.as_ref().map_or("global", |e| &e.value),
        }
    }

    /// Who asked, if the file says.
    pub fn requester(&self) -> Option<&str> {
        match &self.spec {
            ResourceSpec::S3(r) => Some(&r.requester.value),
            ResourceSpec::Secret(r) => r.requester.as_ref().map(|v| v.value.as_str()),
            ResourceSpec::Ecr(r) => r.requester.as_ref().map(|v| v.value.as_str()),
        }
    }

    /// The owning team.
    pub fn owner(&self) -> &str {
        match &self.spec {
            ResourceSpec::S3(r) => &r.owner.value,
            ResourceSpec::Secret(r) => r.owner.as_ref().map_or(&r.service.value, |o| &o.value),
            ResourceSpec::Ecr(r) => &r.owner.value,
        }
    }

    /// The resource's name as the request writes it (bucket, secret name,
    /// repository).
    pub fn resource_name(&self) -> &str {
        match &self.spec {
            ResourceSpec::S3(r) => &r.bucket_name.value,
            ResourceSpec::Secret(r) => &r.name.value,
            ResourceSpec::Ecr(r) => &r.repository_name.value,
        }
    }

    fn schema_problems(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let id = self.id();
        let prefix = self.kind().id_prefix();
        let digits = id.value.strip_prefix(prefix).unwrap_or_default();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            out.push(self.at(
                id.start,
                format!(
                    "invalid id `{}`: expected {prefix}NNNN, e.g. {prefix}0001",
                    id.value.escape_debug()
                ),
            ));
        }
        let text = |out: &mut Vec<Diagnostic>, field: &str, v: &Spanned<String>, max: usize| {
            if v.value.trim().is_empty() {
                out.push(self.at(v.start, format!("{field} is empty")));
            } else if v.value.chars().count() > max {
                out.push(self.at(v.start, format!("{field} is longer than {max} characters")));
            }
        };
        let dns_label = |s: &str, max: usize| {
            (1..=max).contains(&s.len())
                && s.as_bytes()[0].is_ascii_alphanumeric()
                && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let arn = |s: &str| {
            // An account id is a principal too.
            if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                return true;
            }
            let parts: Vec<&str> = s.splitn(6, ':').collect();
            parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "iam"
                && (parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit()))
                && (parts[5].starts_with("role/")
                    || parts[5].starts_with("user/")
                    || parts[5] == "root")
                && parts[5].len() <= 512
                && !s.contains(['*', ' ', '"'])
        };
        match &self.spec {
            ResourceSpec::S3(r) => {
                for (f, v) in [
                    ("owner", &r.owner),
                    ("application", &r.application),
                    ("requester", &r.requester),
                ] {
                    text(&mut out, f, v, 128);
                }
                let n = &r.bucket_name.value;
                let ok = (3..=63).contains(&n.len())
                    && n.as_bytes()[0].is_ascii_alphanumeric()
                    && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !n.contains("--");
                if !ok {
                    out.push(self.at(
                        r.bucket_name.start,
                        format!("invalid bucketName `{}`: 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit", n.escape_debug()),
                    ));
                }
                if let Some(t) = r
                    .retention_policy
                    .as_ref()
                    .and_then(|x| x.rationale.as_ref())
                {
                    text(&mut out, "retentionPolicy.rationale", t, 500);
                }
                let d = &r.purpose.description;
                let len = d.value.chars().count();
                if !(10..=200).contains(&len) {
                    out.push(self.at(
                        d.start,
                        format!("purpose.description must be 10 to 200 characters, found {len}"),
                    ));
                }
                if let Some(l) = &r.lifecycle {
                    if let Some(v) = &l.transition_to_ia_days
                        && v.value < 30
                    {
                        out.push(self.at(v.start, format!("transitionToIaDays must be at least 30 (S3's minimum for Standard-IA), found {}", v.value)));
                    }
                    if let Some(v) = &l.transition_to_glacier_days
                        && v.value < 90
                    {
                        out.push(self.at(
                            v.start,
                            format!(
                                "transitionToGlacierDays must be at least 90, found {}",
                                v.value
                            ),
                        ));
                    }
                    if let Some(v) = &l.expire_days
                        && !(1..=36500).contains(&v.value)
                    {
                        out.push(self.at(
                            v.start,
                            format!("expireDays must be 1 to 36500, found {}", v.value),
                        ));
                    }
                    if let (Some(ia), Some(g)) =
                        (&l.transition_to_ia_days, &l.transition_to_glacier_days)
                        && g.value <= ia.value
                    {
                        out.push(self.at(g.start, format!("transitionToGlacierDays ({}) must come after transitionToIaDays ({})", g.value, ia.value)));
                    }
                    let last = l
                        .transition_to_glacier_days
                        .as_ref()
                        .or(l.transition_to_ia_days.as_ref());
                    if let (Some(t), Some(e)) = (last, &l.expire_days)
                        && e.value <= t.value
                    {
                        out.push(self.at(
                            e.start,
                            format!(
                                "expireDays ({}) must come after the last transition ({} days)",
                                e.value, t.value
                            ),
                        ));
                    }
                }
                if let Some(e) = &r.encryption
                    && let Some(a) = &e.kms_key_alias
                {
                    let name = a.value.strip_prefix("alias/").unwrap_or(&a.value);
                    let ok = (1..=250).contains(&name.len())
                        && !name.starts_with("aws/")
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
                    if !ok {
                        out.push(self.at(a.start, format!("invalid kmsKeyAlias `{}`: alias/NAME of letters, digits, `/`, `_` and `-` (not an AWS-managed aws/ key)", a.value.escape_debug())));
                    }
                }
                if let Some(s) = &r.storage_class {
                    let norm = s.value.to_ascii_uppercase().replace('-', "_");
                    const CLASSES: &[&str] = &[
                        "STANDARD",
                        "STANDARD_IA",
                        "INTELLIGENT_TIERING",
                        "ONEZONE_IA",
                        "GLACIER_IR",
                        "GLACIER",
                        "DEEP_ARCHIVE",
                        "REDUCED_REDUNDANCY",
                    ];
                    if !CLASSES.contains(&norm.as_str()) {
                        out.push(self.at(
                            s.start,
                            format!(
                                "unknown storageClass `{}` (one of {})",
                                s.value.escape_debug(),
                                CLASSES.join(", ")
                            ),
                        ));
                    }
                }
                if let Some(a) = &r.access_logging
                    && let Some(t) = &a.target_bucket
                    && !(3..=63).contains(&t.value.len())
                {
                    out.push(self.at(t.start, "accessLogging.targetBucket is not a bucket name"));
                }
                if let Some(a) = &r.access_logging
                    && a.enabled.value
                    && a.target_bucket.is_none()
                {
                    out.push(
                        self.at(
                            a.enabled.start,
                            "accessLogging is enabled without a targetBucket",
                        )
                        .with_hint("name the bucket the access logs go to"),
                    );
                }
                if !r.tags.contains_key("costCenter") {
                    out.push(
                        self.at(r.id.start, "tags.costCenter is required")
                            .with_hint("add tags: { costCenter: ... }"),
                    );
                }
                for (k, v) in &r.tags {
                    if k.is_empty() || k.len() > 128 || k.starts_with("aws:") || v.value.len() > 256
                    {
                        out.push(self.at(v.start, format!("tag `{}`: keys 1 to 128 characters (never aws:), values at most 256", k.escape_debug())));
                    }
                }
            }
            ResourceSpec::Secret(r) => {
                for (f, v) in [("name", &r.name), ("service", &r.service)] {
                    if !dns_label(&v.value, 63) {
                        out.push(self.at(
                            v.start,
                            format!(
                                "invalid {f} `{}`: lower-case letters, digits and `-`, at most 63",
                                v.value.escape_debug()
                            ),
                        ));
                    }
                }
                for v in [&r.domain, &r.owner, &r.requester].into_iter().flatten() {
                    text(&mut out, "a name", v, 128);
                }
                if let Some(p) = &r.provider
                    && !matches!(
                        p.value.as_str(),
                        "aws-secrets-manager" | "aws" | "secretsmanager" | "secrets-manager"
                    )
                {
                    out.push(self.at(
                        p.start,
                        format!(
                            "provider `{}` is not one goldenpath applies (aws-secrets-manager)",
                            p.value.escape_debug()
                        ),
                    ));
                }
                if let Some(l) = &r.lifecycle
                    && let Some(w) = &l.recovery_window_in_days
                    && !(7..=30).contains(&w.value)
                {
                    out.push(self.at(w.start, format!("recoveryWindowInDays must be 7 to 30 (Secrets Manager's range), found {}", w.value)));
                }
                if let Some(t) = &r.ttl_days
                    && !(1..=3650).contains(&t.value)
                {
                    out.push(self.at(
                        t.start,
                        format!("ttlDays must be 1 to 3650, found {}", t.value),
                    ));
                }
                if let Some(ns) = &r.access.namespace
                    && !dns_label(&ns.value, 63)
                {
                    out.push(self.at(
                        ns.start,
                        format!("invalid namespace `{}`", ns.value.escape_debug()),
                    ));
                }
                if let Some(k) = &r.access.k8s_secret_name
                    && !(dns_label(&k.value.replace('.', "-"), 253))
                {
                    out.push(self.at(
                        k.start,
                        format!(
                            "invalid k8sSecretName `{}`: a Kubernetes name",
                            k.value.escape_debug()
                        ),
                    ));
                }
                if r.access.k8s_secret_name.is_some() != r.access.namespace.is_some() {
                    let at = r
                        .access
                        .k8s_secret_name
                        .as_ref()
                        .or(r.access.namespace.as_ref())
                        .map_or(r.id.start, |v| v.start);
                    out.push(self.at(at, "access.namespace and access.k8sSecretName go together (the ExternalSecret needs both)"));
                }
                for p in r
                    .access
                    .read_principals
                    .iter()
                    .chain(&r.access.write_principals)
                    .chain(&r.access.break_glass_principals)
                {
                    if !arn(&p.value) {
                        out.push(self.at(p.start, format!("`{}` is not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME) or an account id, and wildcards are never allowed", p.value.escape_debug())));
                    }
                }
                if let Some(rot) = &r.rotation
                    && !dns_label(&rot.rotation_class.value, 32)
                {
                    out.push(self.at(rot.rotation_class.start, "invalid rotationClass"));
                }
                // What becomes a tag: a word, never free text.
                let status = r.lifecycle.as_ref().and_then(|l| l.status.as_ref());
                for (field, v) in [
                    ("secretType", r.secret_type.as_ref()),
                    ("lifecycle.status", status),
                ] {
                    if let Some(v) = v
                        && !dns_label(&v.value, 64)
                    {
                        out.push(self.at(
                            v.start,
                            format!(
                                "invalid {field}: lower-case letters, digits and `-`, at most 64"
                            ),
                        ));
                    }
                }
            }
            ResourceSpec::Ecr(r) => {
                text(&mut out, "owner", &r.owner, 128);
                let n = &r.repository_name.value;
                let ok = (2..=256).contains(&n.len())
                    && n.split('/').all(|seg| {
                        !seg.is_empty()
                            && seg.as_bytes()[0].is_ascii_alphanumeric()
                            && seg.as_bytes()[seg.len() - 1].is_ascii_alphanumeric()
                            && seg.bytes().all(|b| {
                                b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                            })
                    });
                if !ok {
                    out.push(self.at(r.repository_name.start, format!("invalid repositoryName `{}`: lower-case segments of letters, digits, `.`, `_`, `-`, split by `/`", n.escape_debug())));
                }
                let keep = r.keep_last.as_ref().or(r
                    .lifecycle_policy
                    .as_ref()
                    .and_then(|l| l.keep_last.as_ref()));
                if let Some(k) = keep
                    && !(1..=1000).contains(&k.value)
                {
                    out.push(self.at(
                        k.start,
                        format!("keepLast must be 1 to 1000, found {}", k.value),
                    ));
                }
                for (field, f) in [
                    ("scanOnPush", &r.scan_on_push),
                    ("tagImmutability", &r.tag_immutability),
                ] {
                    if let Some(f) = f
                        && f.value.truth().is_none()
                    {
                        out.push(self.at(
                            f.start,
                            format!(
                                "{field} is true or false (or IMMUTABLE/MUTABLE, enabled/disabled)"
                            ),
                        ));
                    }
                }
                if let Some(m) = &r.image_tag_mutability
                    && !matches!(m.value.as_str(), "IMMUTABLE" | "MUTABLE")
                {
                    out.push(self.at(
                        m.start,
                        format!(
                            "imageTagMutability is IMMUTABLE or MUTABLE, found `{}`",
                            m.value.escape_debug()
                        ),
                    ));
                }
                if let (Some(m), Some(t)) = (&r.image_tag_mutability, &r.tag_immutability)
                    && Some(m.value == "IMMUTABLE") != t.value.truth()
                {
                    out.push(self.at(t.start, "tagImmutability and imageTagMutability disagree"));
                }
            }
        }
        out
    }

    /// The platform's rules. Each breach is a positioned refusal (exit 3,
    /// nothing created).
    pub fn guard(&self, platform: &Platform) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let env_node = match &self.spec {
            ResourceSpec::S3(r) => Some(&r.environment),
            ResourceSpec::Secret(r) => Some(&r.environment),
            ResourceSpec::Ecr(r) => r.environment.as_ref(),
        };
        if let Some(e) = env_node
            && platform.environment(&e.value).is_none()
        {
            out.push(self.at(
                e.start,
                format!(
                    "environment `{}` is not declared (declared: {})",
                    e.value,
                    platform.environment_names().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let env = self.env();
        let strict = matches!(env, "staging" | "prod");
        match &self.spec {
            ResourceSpec::S3(r) => {
                let expected = crate::Contract::new(platform, env, crate::Deployment::Persistent)
                    .map(|c| {
                        c.request_bucket_name(&r.application.value, r.purpose.kind.value.as_str())
                    })
                    .ok();
                if let Some(x) = &expected
                    && platform.environment(env).is_some()
                    && &r.bucket_name.value != x
                {
                    out.push(
                        self.at(r.bucket_name.start, format!("bucketName `{}` is outside the platform's convention {{prefix}}-{{env}}-{{application}}-{{purpose}}", r.bucket_name.value))
                            .with_hint(format!("name it {x}")),
                    );
                }
                let enc = r.encryption.as_ref();
                if strict && enc.is_none_or(|e| e.kind.value != EncryptionType::SseKms) {
                    out.push(
                        self.at(
                            enc.map_or(r.bucket_name.start, |e| e.kind.start),
                            format!("{env} buckets are encrypted with a KMS key"),
                        )
                        .with_hint("set encryption: { type: sse-kms, kmsKeyAlias: alias/... }"),
                    );
                }
                if let Some(e) = enc
                    && e.kind.value == EncryptionType::SseKms
                    && e.kms_key_alias.is_none()
                {
                    out.push(
                        self.at(e.kind.start, "sse-kms needs kmsKeyAlias")
                            .with_hint("name the key: kmsKeyAlias: alias/..."),
                    );
                }
                let logging = r.access_logging.as_ref();
                if strict && !logging.is_some_and(|a| a.enabled.value) {
                    out.push(
                        self.at(
                            logging.map_or(r.bucket_name.start, |a| a.enabled.start),
                            format!("{env} buckets keep access logs"),
                        )
                        .with_hint("set accessLogging: { enabled: true, targetBucket: ... }"),
                    );
                }
                if let Some(ret) = &r.retention_policy
                    && ret.kind.value != RetentionType::Indefinite
                    && !r.lifecycle.as_ref().is_some_and(|l| {
                        l.expire_days.is_some()
                            || l.transition_to_glacier_days.is_some()
                            || l.transition_to_ia_days.is_some()
                    })
                {
                    out.push(
                        self.at(
                            ret.kind.start,
                            "a time-bounded or compliance-driven retention needs a lifecycle",
                        )
                        .with_hint("set lifecycle: { expireDays: ... } (or its transitions)"),
                    );
                }
                if let Some(ret) = &r.retention_policy
                    && ret.kind.value == RetentionType::ComplianceDriven
                    && ret
                        .rationale
                        .as_ref()
                        .is_none_or(|t| t.value.trim().is_empty())
                {
                    out.push(self.at(
                        ret.kind.start,
                        "a compliance-driven retention names its rationale (the regulation)",
                    ));
                }
                if r.purpose.kind.value == PurposeType::Logs
                    && let Some(v) = &r.versioning
                    && v.value
                {
                    out.push(self.at(
                        v.start,
                        "log buckets are not versioned (the platform's rule for logs)",
                    ));
                }
            }
            ResourceSpec::Secret(r) => {
                let tier = r.risk.as_ref().map_or(RiskTier::Low, |t| t.value.tier());
                let rotates = r
                    .rotation
                    .as_ref()
                    .is_some_and(|x| x.rotation_class.value != "none");
                if tier == RiskTier::High && !rotates {
                    let at = r
                        .rotation
                        .as_ref()
                        .map(|x| x.rotation_class.start)
                        .or(r.risk.as_ref().map(|t| t.start))
                        .unwrap_or(r.id.start);
                    out.push(
                        self.at(at, "a high-risk secret must rotate")
                            .with_hint("set rotation: { rotationClass: ... } (not none)"),
                    );
                }
                if let Some(ns) = &r.access.namespace
                    && matches!(
                        ns.value.as_str(),
                        "kube-system"
                            | "kube-public"
                            | "kube-node-lease"
                            | "default"
                            | "external-secrets"
                            | "argocd"
                    )
                {
                    out.push(self.at(ns.start, format!("namespace `{}` belongs to the platform; an app's secret goes to the app's namespace", ns.value)));
                }
            }
            ResourceSpec::Ecr(r) => {
                let (scan, immutable) = self.ecr_flags(r);
                if env == "prod"
                    || matches!(
                        r.risk.as_ref().map(|x| x.value.tier()),
                        Some(RiskTier::High)
                    )
                {
                    if !scan {
                        out.push(
                            self.at(
                                r.scan_on_push
                                    .as_ref()
                                    .map_or(r.repository_name.start, |v| v.start),
                                "prod and high-risk repositories scan images on push",
                            ),
                        );
                    }
                    if !immutable {
                        let at = r
                            .tag_immutability
                            .as_ref()
                            .map(|v| v.start)
                            .or(r.image_tag_mutability.as_ref().map(|v| v.start))
                            .unwrap_or(r.repository_name.start);
                        out.push(
                            self.at(at, "prod and high-risk repositories have immutable tags"),
                        );
                    }
                }
            }
        }
        out
    }

    fn ecr_flags(&self, r: &EcrRequest) -> (bool, bool) {
        let scan = r
            .scan_on_push
            .as_ref()
            .is_none_or(|v| v.value.truth() != Some(false));
        let immutable = match (&r.tag_immutability, &r.image_tag_mutability) {
            (Some(t), _) => t.value.truth() != Some(false),
            (None, Some(m)) => m.value == "IMMUTABLE",
            (None, None) => true,
        };
        (scan, immutable)
    }

    /// Who must approve it. A bucket: the platform for a public-access
    /// exception, static assets or prod. A secret: security for a medium
    /// or high tier or break-glass principals, with the platform too in
    /// prod. A repository: security for a high risk, the platform for prod.
    pub fn route(&self) -> Route {
        let prod = self.env() == "prod";
        match &self.spec {
            ResourceSpec::S3(r) => {
                let public = r
                    .public_access
                    .as_ref()
                    .is_some_and(|p| p.value == PublicAccess::ExceptionApproved);
                if public || r.purpose.kind.value == PurposeType::StaticAssets || prod {
                    Route::Platform
                } else {
                    Route::SelfServe
                }
            }
            ResourceSpec::Secret(r) => {
                let tier = r.risk.as_ref().map_or(RiskTier::Low, |t| t.value.tier());
                let security = tier != RiskTier::Low || !r.access.break_glass_principals.is_empty();
                match (security, prod) {
                    (true, true) => Route::PlatformAndSecurity,
                    (true, false) => Route::Security,
                    (false, true) => Route::Platform,
                    (false, false) => Route::SelfServe,
                }
            }
            ResourceSpec::Ecr(r) => {
                let high = matches!(
                    r.risk.as_ref().map(|x| x.value.tier()),
                    Some(RiskTier::High)
                );
                match (high, prod) {
                    (true, true) => Route::PlatformAndSecurity,
                    (true, false) => Route::Security,
                    (false, true) => Route::Platform,
                    (false, false) => Route::SelfServe,
                }
            }
        }
    }

    /// Why it needs an approval, for messages.
    pub fn approval_reason(&self) -> &'static str {
        let prod = self.env() == "prod";
        match &self.spec {
            ResourceSpec::S3(r)
                if r.public_access
                    .as_ref()
                    .is_some_and(|p| p.value == PublicAccess::ExceptionApproved) =>
            {
                "it asks for a public-access exception"
            }
            ResourceSpec::S3(r) if r.purpose.kind.value == PurposeType::StaticAssets => {
                "it holds static assets"
            }
            ResourceSpec::Secret(r) if !r.access.break_glass_principals.is_empty() => {
                "it grants break-glass access"
            }
            ResourceSpec::Secret(r)
                if r.risk
                    .as_ref()
                    .is_some_and(|t| t.value.tier() != RiskTier::Low) =>
            {
                "its risk tier is medium or high"
            }
            ResourceSpec::Ecr(r)
                if matches!(
                    r.risk.as_ref().map(|x| x.value.tier()),
                    Some(RiskTier::High)
                ) =>
            {
                "its risk is high"
            }
            _ if prod => "it is for prod",
            _ => "it does not",
        }
    }

    /// Whether it needs a recorded approval.
    pub fn needs_approval(&self) -> bool {
        self.route() != Route::SelfServe
    }

    /// What apply makes, every default filled in and named.
    pub fn desired(&self, contract: &crate::Contract<'_>) -> Desired {
        match &self.spec {
            ResourceSpec::S3(r) => {
                let (ver, ia, glacier, expire) = r.purpose.kind.value.defaults();
                let mut defaulted = Vec::new();
                let purpose = r.purpose.kind.value.as_str();
                let versioning = match &r.versioning {
                    Some(v) => v.value,
                    None => {
                        defaulted.push(format!("versioning: {ver} (default for {purpose})"));
                        ver
                    }
                };
                let (ia_days, glacier_days, expire_days) = match &r.lifecycle {
                    Some(l) => (
                        l.transition_to_ia_days.as_ref().map(|v| v.value),
                        l.transition_to_glacier_days.as_ref().map(|v| v.value),
                        l.expire_days.as_ref().map(|v| v.value),
                    ),
                    None => {
                        if ia.is_some() || glacier.is_some() || expire.is_some() {
                            defaulted.push(format!(
                                "lifecycle: {} (default for {purpose})",
                                lifecycle_words(ia, glacier, expire)
                            ));
                        }
                        (ia, glacier, expire)
                    }
                };
                let kms_key = r
                    .encryption
                    .as_ref()
                    .filter(|e| e.kind.value == EncryptionType::SseKms)
                    .and_then(|e| e.kms_key_alias.as_ref())
                    .map(|a| {
                        if a.value.starts_with("alias/") {
                            a.value.clone()
                        } else {
                            format!("alias/{}", a.value)
                        }
                    });
                if r.encryption.is_none() {
                    defaulted.push("encryption: sse-s3 (default)".into());
                }
                if r.public_access.is_none() {
                    defaulted.push("publicAccess: blocked (default)".into());
                }
                let mut tags: BTreeMap<String, String> = r
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect();
                tags.insert("goldenpath:request".into(), r.id.value.clone());
                tags.insert("owner".into(), r.owner.value.clone());
                tags.insert("application".into(), r.application.value.clone());
                tags.insert("environment".into(), r.environment.value.clone());
                tags.insert("purpose".into(), purpose.into());
                if let Some(s) = &r.storage_class {
                    tags.insert(
                        "storageClass".into(),
                        s.value.to_ascii_uppercase().replace('-', "_"),
                    );
                }
                if let Some(c) = &r.cost_alert_gb {
                    tags.insert("costAlertGb".into(), c.value.to_string());
                }
                if let Some(c) = &r.cors_enabled {
                    tags.insert("corsEnabled".into(), c.value.to_string());
                }
                if let Some(ret) = &r.retention_policy {
                    tags.insert(
                        "retention".into(),
                        serde_json::to_value(ret.kind.value)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                    );
                }
                Desired::Bucket(DesiredBucket {
                    name: r.bucket_name.value.clone(),
                    kms_key,
                    versioning,
                    block_public: r
                        .public_access
                        .as_ref()
                        .is_none_or(|p| p.value == PublicAccess::Blocked),
                    ia_days,
                    glacier_days,
                    expire_days,
                    log_target: r
                        .access_logging
                        .as_ref()
                        .filter(|a| a.enabled.value)
                        .and_then(|a| a.target_bucket.as_ref())
                        .map(|t| t.value.clone()),
                    tags,
                    defaulted,
                })
            }
            ResourceSpec::Secret(r) => {
                let mut defaulted = Vec::new();
                let window = r
                    .lifecycle
                    .as_ref()
                    .and_then(|l| l.recovery_window_in_days.as_ref())
                    .map(|w| w.value)
                    .unwrap_or_else(|| {
                        defaulted.push("recoveryWindowInDays: 30 (default)".into());
                        30
                    });
                let mut tags = BTreeMap::new();
                tags.insert("goldenpath:request".to_string(), r.id.value.clone());
                tags.insert("owner".into(), self.owner().to_string());
                tags.insert("service".into(), r.service.value.clone());
                tags.insert("environment".into(), r.environment.value.clone());
                tags.insert(
                    "riskTier".into(),
                    r.risk
                        .as_ref()
                        .map_or(RiskTier::Low, |t| t.value.tier())
                        .as_str()
                        .into(),
                );
                tags.insert(
                    "rotationClass".into(),
                    r.rotation
                        .as_ref()
                        .map_or("none".into(), |x| x.rotation_class.value.clone()),
                );
                if let Some(d) = &r.domain {
                    tags.insert("domain".into(), d.value.clone());
                }
                if let Some(t) = &r.secret_type {
                    tags.insert("secretType".into(), t.value.clone());
                }
                if let Some(t) = &r.ttl_days {
                    tags.insert("ttlDays".into(), t.value.to_string());
                }
                let status = r
                    .lifecycle
                    .as_ref()
                    .and_then(|l| l.status.as_ref())
                    .map_or("active".to_string(), |s| s.value.clone());
                tags.insert("lifecycle".into(), status);
                let external_secret = match (&r.access.namespace, &r.access.k8s_secret_name) {
                    (Some(ns), Some(k)) => Some((
                        contract.request_external_secret_name(&r.service.value, &r.name.value),
                        ns.value.clone(),
                        k.value.clone(),
                    )),
                    _ => None,
                };
                let list = |v: &[Spanned<String>]| v.iter().map(|p| p.value.clone()).collect();
                Desired::Secret(DesiredSecret {
                    name: contract.request_secret_path(&r.service.value, &r.name.value),
                    recovery_window_days: window,
                    tags,
                    read: list(&r.access.read_principals),
                    write: list(&r.access.write_principals),
                    break_glass: list(&r.access.break_glass_principals),
                    external_secret,
                    defaulted,
                })
            }
            ResourceSpec::Ecr(r) => {
                let mut defaulted = Vec::new();
                let (scan, immutable) = self.ecr_flags(r);
                if r.scan_on_push.is_none() {
                    defaulted.push("scanOnPush: true (default)".into());
                }
                if r.tag_immutability.is_none() && r.image_tag_mutability.is_none() {
                    defaulted.push("tagImmutability: true (default)".into());
                }
                let keep = r
                    .keep_last
                    .as_ref()
                    .or(r
                        .lifecycle_policy
                        .as_ref()
                        .and_then(|l| l.keep_last.as_ref()))
                    .map(|k| k.value)
                    .unwrap_or_else(|| {
                        defaulted.push("keepLast: 30 (default)".into());
                        30
                    });
                let mut tags = BTreeMap::new();
                tags.insert("goldenpath:request".to_string(), r.id.value.clone());
                tags.insert("owner".into(), r.owner.value.clone());
                tags.insert(
                    "riskTier".into(),
                    r.risk
                        .as_ref()
                        .map_or(RiskTier::Low, |t| t.value.tier())
                        .as_str()
                        .into(),
                );
                if let Some(e) = &r.environment {
                    tags.insert("environment".into(), e.value.clone());
                }
                Desired::Repository(DesiredRepository {
                    name: r.repository_name.value.clone(),
                    scan_on_push: scan,
                    immutable,
                    keep_last: keep,
                    tags,
                    defaulted,
                })
            }
        }
    }
}

/// A lifecycle in words.
pub fn lifecycle_words(ia: Option<u32>, glacier: Option<u32>, expire: Option<u32>) -> String {
    let mut parts = Vec::new();
    if let Some(d) = ia {
        parts.push(format!("Standard-IA at {d} days"));
    }
    if let Some(d) = glacier {
        parts.push(format!("Glacier at {d} days"));
    }
    if let Some(d) = expire {
        parts.push(format!("expire at {d} days"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The fields a kind reads (after `metadata` and `spec` are merged).
fn known_fields(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::S3 => &[
            "id",
            "environment",
            "bucketName",
            "purpose",
            "storageClass",
            "encryption",
            "versioning",
            "publicAccess",
            "retentionPolicy",
            "lifecycle",
            "accessLogging",
            "costAlertGb",
            "corsEnabled",
            "tags",
            "owner",
            "application",
            "requester",
            "name",
        ],
        ResourceKind::Secret => &[
            "id",
            "name",
            "service",
            "environment",
            "domain",
            "owner",
            "requester",
            "provider",
            "secretType",
            "risk",
            "rotation",
            "lifecycle",
            "access",
            "ttlDays",
        ],
        ResourceKind::Ecr => &[
            "id",
            "repositoryName",
            "name",
            "repository",
            "environment",
            "scanOnPush",
            "tagImmutability",
            "immutableTags",
            "imageTagMutability",
            "keepLast",
            "keepLastImages",
            "lifecyclePolicy",
            "lifecycle",
            "risk",
            "owner",
            "requester",
        ],
    }
}

fn content_hash(spec: &ResourceSpec) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(spec).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON Schema of a kind's file, in the platform's layout: its fields
/// under `spec` (any of them may also be written under `metadata` or at
/// the top), `apiVersion` and `kind`.
pub fn json_schema(kind: ResourceKind) -> serde_json::Value {
    let mut fields = match kind {
        ResourceKind::S3 => serde_json::to_value(schemars::schema_for!(BucketRequest)),
        ResourceKind::Secret => serde_json::to_value(schemars::schema_for!(SecretRequest)),
        ResourceKind::Ecr => serde_json::to_value(schemars::schema_for!(EcrRequest)),
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
            "apiVersion": {"enum": ["goldenpath.io/v1", crate::spec::API_VERSION]},
            "kind": {"const": kind.kind_name()},
            "id": {"type": "string", "pattern": format!("^{}[0-9]{{4}}$", kind.id_prefix())},
            "metadata": {"type": "object"},
            "spec": fields,
        },
        "$defs": defs.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "---
# the platform's layout
apiVersion: goldenpath.io/v1
kind: S3BucketRequest
metadata:
  id: S3-0001
  owner: team-orders
  requester: alice
  labels: { team: orders }
spec:
  environment: dev
  application: orders
  bucketName: goldenpath-dev-orders-logs
  purpose:
    type: logs
    description: access logs of the orders API
  tags:
    costCenter: cc-042
";

    fn load(text: &str) -> Result<LoadedResource, InvalidInput> {
        LoadedResource::from_source(Path::new("requests/S3-0001.yaml"), text)
    }

    #[test]
    fn a_bucket_reads_with_the_purposes_defaults() {
        let r = load(BUCKET).unwrap();
        assert_eq!(r.kind(), ResourceKind::S3);
        assert_eq!(r.id().value, "S3-0001");
        assert_eq!(r.requester(), Some("alice"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let ResourceSpec::S3(b) = &r.spec else {
            panic!()
        };
        assert_eq!(b.bucket_name.start.line, 13, "positions are the file's");
        assert_eq!(r.route(), Route::SelfServe);
        // A typo is an error that names the field meant; an extra field a
        // warning.
        let err = load(&BUCKET.replace("bucketName", "bucketNme")).unwrap_err();
        assert_eq!(err.0[0].pos.unwrap().line, 13, "{err}");
        assert!(
            err.0[0].hint.as_deref().unwrap().contains("bucketName"),
            "{err}"
        );
        let r = load(&BUCKET.replace(
            "  application: orders",
            "  application: orders\n  ticket: OPS-12",
        ))
        .unwrap();
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].pos.unwrap().line, 13);
    }

    #[test]
    fn bucket_schema_problems_are_positioned() {
        let err = load(
            &BUCKET
                .replace("access logs of the orders API", "logs")
                .replace("S3-0001", "S3-1")
                .replace(
                    "  tags:\n    costCenter: cc-042\n",
                    "  lifecycle: { transitionToIaDays: 7 }\n  tags: { costCenter: x }\n",
                ),
        )
        .unwrap_err();
        let msgs: Vec<String> = err
            .0
            .iter()
            .map(|d| format!("{}: {}", d.pos.unwrap().line, d.message))
            .collect();
        assert!(
            msgs.iter().any(|m| m.starts_with("6: invalid id `S3-1`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("16: purpose.description must be 10 to 200")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("transitionToIaDays must be at least 30")),
            "{msgs:?}"
        );
        let err = load(&BUCKET.replace("type: logs", "type: videos")).unwrap_err();
        assert!(err.0[0].message.contains("unknown value `videos`"), "{err}");
        assert_eq!(err.0[0].pos.unwrap().line, 15);
    }

    #[test]
    fn secrets_and_repositories_read_in_their_layouts() {
        let sec = "apiVersion: goldenpath.io/v1
kind: SecretRequest
metadata:
  id: SEC-0007
  name: stripe-key
  service: payments
  environment: dev
  domain: commerce
spec:
  provider: aws-secrets-manager
  secretType: api-key
  risk: { tier: high }
  rotation: { rotationClass: standard }
  lifecycle: { status: active, recoveryWindowInDays: 7 }
  access:
    namespace: payments
    k8sSecretName: stripe
    readPrincipals: [arn:aws:iam::123456789012:role/payments-api]
  ttlDays: 90
";
        let r = LoadedResource::from_source(Path::new("SEC-0007.yaml"), sec).unwrap();
        assert_eq!(r.kind(), ResourceKind::Secret);
        assert_eq!(r.route(), Route::Security);
        assert_eq!(r.requester(), None);
        let none = LoadedResource::from_source(
            Path::new("x.yaml"),
            &sec.replace("rotationClass: standard", "rotationClass: none"),
        )
        .unwrap();
        let p = Platform::from_source(Path::new("goldenpath.yaml"), "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: goldenpath\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\ncomponents: []\n").unwrap();
        let g = none.guard(&p);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].pos.unwrap().line, 13);
        let wildcard = LoadedResource::from_source(
            Path::new("x.yaml"),
            &sec.replace("role/payments-api", "role/*"),
        )
        .unwrap_err();
        assert!(
            wildcard.0[0]
                .message
                .contains("wildcards are never allowed"),
            "{wildcard}"
        );
        let ecr = "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0003, owner: team-payments }\nspec:\n  repositoryName: payments/api\n  scanOnPush: enabled\n  tagImmutability: IMMUTABLE\n  lifecyclePolicy: { keepLast: 25 }\n  risk: { tier: critical }\n";
        let r = LoadedResource::from_source(Path::new("ECR-0003.yaml"), ecr).unwrap();
        assert_eq!(r.env(), "global");
        assert_eq!(r.route(), Route::Security, "critical is high");
        let c = crate::Contract::new(&p, "dev", crate::Deployment::Persistent).unwrap();
        let Desired::Repository(d) = r.desired(&c) else {
            panic!()
        };
        assert_eq!((d.scan_on_push, d.immutable, d.keep_last), (true, true, 25));
    }
}
