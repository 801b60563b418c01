//! Outputs of the registry commands: builds, export, import, report, verify, leases.

use schemars::JsonSchema;
use serde::Serialize;

/// `goldenpath builds list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildsOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Newest first. A build whose rows do not check out against the
    /// registry's chain has the status `tampered`.
    pub builds: Vec<gp_registry::BuildSummary>,
    /// What does not check out (the command exits 3 when there is any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tampered: Vec<gp_registry::Tampered>,
}

/// `goldenpath registry export --format json`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Every finished phase, oldest first.
    pub phases: Vec<gp_registry::Phase>,
}

/// `goldenpath registry import`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Per file.
    pub files: Vec<FileImport>,
}

/// One imported file.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileImport {
    /// The file.
    pub file: String,
    /// What was read and added.
    pub report: gp_registry::ImportReport,
}

/// `goldenpath registry report`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Per phase.
    pub phases: Vec<gp_registry::PhaseStats>,
}

/// `goldenpath registry verify`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// No breach.
    pub ok: bool,
    /// What does not check out.
    pub breaches: Vec<gp_registry::Breach>,
}

/// `goldenpath registry migrate`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrateOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The registry, described without credentials.
    pub registry: String,
    /// It is at the schema this goldenpath needs.
    pub current: bool,
}

/// `goldenpath registry grant-runner`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The role granted SELECT and INSERT on the ledger.
    pub role: String,
}

/// `goldenpath lease list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeasesOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Every lease recorded.
    pub leases: Vec<gp_registry::LeaseState>,
    /// What does not check out (the command exits 3 when there is any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tampered: Vec<gp_registry::Tampered>,
}

/// `goldenpath lease unlock`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseUnlockOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// The lease ended, if one was held.
    pub ended: Option<EndedLease>,
}

/// A lease a forced unlock ended.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndedLease {
    /// Its id.
    pub lease_id: String,
    /// Who held it.
    pub holder: String,
    /// Who ended it.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// `goldenpath builds extend` and `builds keep`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildExpiryOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// The build.
    pub build_id: String,
    /// When it expires (µs since the epoch).
    pub expires_us: Option<i64>,
    /// Why it is kept, if it is.
    pub kept: Option<String>,
}

/// `goldenpath builds sweep`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweepOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// The open pull requests it was given.
    pub open_pull_requests: Vec<u64>,
    /// Whether nothing was torn down (`--dry-run`).
    pub dry_run: bool,
    /// Each preview of a pull request not open.
    pub swept: Vec<gp_engine::previews::SweptPreview>,
}

/// `goldenpath ci github` (and `ci github release --out`, `ci github
/// deployment`): the files, and what became of each.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiFilesOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Each file.
    pub files: Vec<CiFile>,
}

/// One file `ci` writes or checks.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiFile {
    /// Where.
    pub path: String,
    /// `written`, `unchanged` (as the spec generates it) or `differs`
    /// (`--check`).
    pub state: String,
}

/// The JSON shape of `builds show`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildDetail {
    pub(crate) schema_version: u32,
    pub(crate) env: String,
    pub(crate) build_id: String,
    pub(crate) reservation: Option<gp_registry::Reservation>,
    pub(crate) status: String,
    pub(crate) events: Vec<gp_registry::DeploymentEvent>,
    pub(crate) phases: Vec<gp_registry::Phase>,
    pub(crate) journal: Vec<gp_registry::JournalRow>,
    pub(crate) lease: Option<gp_registry::LeaseState>,
    pub(crate) overrides: Vec<gp_registry::Override>,
}
