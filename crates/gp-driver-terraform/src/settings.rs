//! The `terraform` driver's typed settings: the root, binary, backend,
//! guards and variables.

use super::*;

/// Where the state lives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendSettings {
    /// A file under `{state}/tfstate/`.
    Local,
    /// An S3 bucket (with an optional DynamoDB lock table).
    S3(S3Backend),
}

/// S3 backend settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Backend {
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// DynamoDB lock table.
    #[serde(default)]
    pub dynamodb_table: Option<String>,
}

/// Per-plan limits.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// At most this many creates (replacements count).
    #[serde(default)]
    pub max_create: Option<u32>,
    /// At most this many in-place updates.
    #[serde(default)]
    pub max_change: Option<u32>,
    /// At most this many deletions (replacements count).
    #[serde(default)]
    pub max_destroy: Option<u32>,
}

/// Settings of a `terraform` component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TerraformSettings {
    /// The root module, relative to the spec.
    pub root: Spanned<String>,
    /// `terraform`, `tofu`, or a path.
    #[serde(default)]
    pub binary: Option<String>,
    /// `local` (default) or `{s3: {...}}`.
    #[serde(default)]
    pub backend: Option<BackendSettings>,
    /// Extra variables; values may reference outputs.
    #[serde(default)]
    pub variables: Option<RawNode>,
    /// Address patterns (`*` matches anything) that may never be deleted or
    /// replaced.
    #[serde(default)]
    pub protect: Vec<Spanned<String>>,
    /// Per-plan limits.
    #[serde(default)]
    pub limits: Limits,
    /// Kill a terraform command after this long (default 30m).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// How long to wait for a state lock (default 0s: fail at once).
    #[serde(default)]
    pub lock_timeout: Option<String>,
}
