//! The JSON every command prints with `--output json`, as types: one
//! convention (camelCase keys, kebab-case values, `schemaVersion` on every
//! document), and the JSON Schema of each command's output
//! (`goldenpath schema --output-of COMMAND`), generated from the same types.
//!
//! A failing command prints an [`ErrorOutput`] on stdout (a run that
//! streams events ends with an `error` line instead), so stdout is JSON
//! whatever happens.

use schemars::{JsonSchema, Schema};
use serde::Serialize;

use crate::cmd::validate::{DiagnosticJson, ValidateReport};

/// The version every document here carries as `schemaVersion`.
pub const SCHEMA_VERSION: u32 = 1;

/// `goldenpath init`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The example written.
    pub example: String,
    /// The directory written into.
    pub dir: String,
    /// The files written, relative to `dir`.
    pub files: Vec<String>,
}

/// `goldenpath state-dir`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateDirOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The resolved state directory (not created).
    pub state_dir: String,
}

/// `goldenpath env`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Every variable goldenpath reads.
    pub variables: Vec<EnvVar>,
}

/// One environment variable.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether it is set now.
    pub set: bool,
}

/// `goldenpath graph`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Nodes in topological order.
    pub nodes: Vec<GraphNode>,
    /// `from` needs `to`.
    pub edges: Vec<GraphEdge>,
}

/// A node of `graph`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// Component.
    pub component: String,
    /// Plane.
    pub plane: gp_core::Plane,
    /// Tier.
    pub tier: gp_core::Tier,
    /// `target` or `dependency`.
    pub role: String,
    /// `run`, `skip` or `blocked`.
    pub disposition: String,
    /// Why, for skip and blocked.
    pub reason: Option<String>,
}

/// An edge of `graph`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdge {
    /// The component that needs.
    pub from: String,
    /// The component needed.
    pub to: String,
    /// The need as written (`rds/backstage`).
    pub need: String,
}

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

/// `goldenpath terraform unlock`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TerraformUnlockOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Component.
    pub component: String,
    /// The lock removed.
    pub lock_id: String,
}

/// `goldenpath db list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabasesOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Databases on the foundational instances.
    pub databases: Vec<gp_engine::databases::DatabaseRow>,
}

/// `goldenpath secret list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Secrets (paths and tags; never values).
    pub secrets: Vec<gp_driver::secrets::SecretMeta>,
}

/// `goldenpath secret get`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The path.
    pub path: String,
    /// With `--reveal` the value (parsed when it is JSON); otherwise its
    /// keys with `***` values.
    pub value: serde_json::Value,
    /// Whether `value` is the real value.
    pub revealed: bool,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
    /// When it was created (UTC).
    pub created: String,
    /// When it was last written (UTC).
    pub updated: String,
}

/// `goldenpath secret put`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretPutOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The path.
    pub path: String,
    /// Created (true) or updated (false).
    pub created: bool,
}

/// `goldenpath dns plan`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsPlanOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Each host record.
    pub records: Vec<gp_engine::hosts::HostRecordPlan>,
}

/// `goldenpath dns apply`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsApplyOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Per component.
    pub components: Vec<gp_engine::hosts::HostRecordsApplied>,
}

/// `goldenpath dns list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsListOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The zones' records.
    pub records: Vec<ZoneRecord>,
}

/// One record of a zone.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneRecord {
    /// The zone's component.
    pub zone: String,
    /// The record as its backend reports it (`name`, `type`, `value`,
    /// `owner`, `ownership`).
    pub record: serde_json::Value,
}

/// `goldenpath verify propagation`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropagationOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Every artifact carries the contract.
    pub ok: bool,
    /// What does not.
    pub findings: Vec<PropagationFinding>,
}

/// A value in an artifact that disagrees with the contract.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropagationFinding {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The value found.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// `goldenpath request validate`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestChecksOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Per request file.
    pub requests: Vec<RequestCheck>,
}

/// One checked request.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestCheck {
    /// Its id (the file, when it could not be read).
    pub request: String,
    /// The file.
    pub file: String,
    /// It parses and passes the schema and ownership rules.
    pub valid: bool,
    /// The platform rules it breaks.
    pub refused: Vec<String>,
    /// Whether it needs a recorded approval.
    pub needs_approval: bool,
}

/// `goldenpath request plan`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPlanOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Request id.
    pub request: String,
    /// `rds`, `s3`, `secret`, `ecr`.
    pub kind: gp_core::request::RequestKind,
    /// Environment (`global` for a repository that names none).
    pub env: String,
    /// The database, bucket, secret path or repository.
    pub resource: String,
    /// What apply makes, the platform's defaults filled in (and named in
    /// `defaulted`).
    pub desired: gp_core::request::Desired,
    /// The foundational instance a database goes on.
    pub instance: Option<String>,
    /// Whether it exists already.
    pub exists: Option<bool>,
    /// The owner of a database of that name on the instance, if one exists.
    pub existing_owner: Option<String>,
    /// What apply would change, in order; empty when it is as asked.
    pub changes: Vec<String>,
    /// Why what is there could not be read.
    pub read_error: Option<String>,
    /// The files apply delivers to the GitOps repository, by path.
    pub deliveries: std::collections::BTreeMap<String, String>,
    /// Everything that refuses it: the platform rules it breaks,
    /// resources others own, a policy `deny`.
    pub refused: Vec<String>,
    /// Whether it needs a recorded approval.
    pub needs_approval: bool,
    /// Why.
    pub approval_reason: Option<String>,
    /// Whether every approval it needs is recorded for exactly this content.
    pub approved: bool,
    /// Where its approvals stand.
    pub approval: gp_engine::requests::ApprovalState,
    /// SHA-256 of its content (what an approval binds to).
    pub hash: String,
}

impl RequestPlanOutput {
    /// The engine's plan, as printed.
    pub fn of(p: &gp_engine::requests::RequestPlan) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            request: p.request.clone(),
            kind: p.kind,
            env: p.env.clone(),
            resource: p.resource.clone(),
            desired: p.desired.clone(),
            instance: p.instance.clone(),
            exists: p.exists,
            existing_owner: p.existing_owner.clone(),
            changes: p.changes.clone(),
            read_error: p.read_error.clone(),
            deliveries: p.deliveries.clone(),
            refused: p.refused.clone(),
            needs_approval: p.approval_reason.is_some(),
            approval_reason: p.approval_reason.map(str::to_string),
            approved: p.approval.complete(),
            approval: p.approval.clone(),
            hash: p.hash.clone(),
        }
    }
}

/// `goldenpath request apply`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestAppliedOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Request id.
    pub request: String,
    /// `rds`, `s3`, `secret`, `ecr`.
    pub kind: gp_core::request::RequestKind,
    /// Environment.
    pub env: String,
    /// The database, bucket, secret path or repository.
    pub resource: String,
    /// The instance a database is on.
    pub instance: Option<String>,
    /// A database's login role.
    pub role: Option<String>,
    /// Where a database's credentials are.
    pub secret_path: Option<String>,
    /// A cloud resource's ARN.
    pub arn: Option<String>,
    /// Whether apply created it (else it was there and adopted).
    pub created: bool,
    /// The changes made (none: it was as asked).
    pub changes: Vec<String>,
    /// Resources added and changed.
    pub counts: gp_driver::Counts,
    /// The files delivered to the GitOps repository (its ExternalSecret).
    pub delivered: Vec<String>,
}

impl RequestAppliedOutput {
    /// What the engine applied, as printed.
    pub fn of(a: &gp_engine::requests::RequestApplied) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            request: a.request.clone(),
            kind: a.kind,
            env: a.env.clone(),
            resource: a.resource.clone(),
            instance: a.instance.clone(),
            role: a.role.clone(),
            secret_path: a.secret_path.clone(),
            arn: a.arn.clone(),
            created: a.created,
            changes: a.changes.clone(),
            counts: a.counts,
            delivered: a.delivered.clone(),
        }
    }
}

/// `goldenpath request withdraw`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestWithdrawnOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// What was withdrawn.
    pub withdrawn: gp_engine::requests::RequestWithdrawn,
}

/// `goldenpath resources list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// What requests created or adopted.
    pub resources: Vec<ResourceRow>,
}

/// A resource a request applied.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRow {
    /// `rds`, `s3`, `secret`, `ecr`.
    pub kind: String,
    /// Environment.
    pub env: String,
    /// The database, bucket, secret path or repository.
    pub resource: String,
    /// Its ARN, when the cloud gave one.
    pub arn: Option<String>,
    /// The request.
    pub request: String,
    /// Who asked.
    pub requester: String,
    /// Who applied it.
    pub applied_by: String,
    /// When (UTC).
    pub at: String,
    /// Whether it was created (else adopted).
    pub created: Option<bool>,
    /// Whether its request was withdrawn since (the resource is kept).
    pub withdrawn: bool,
}

impl ResourceRow {
    /// What a request applied, as listed.
    pub fn of(a: gp_engine::requests::AppliedRequest) -> Self {
        Self {
            at: gp_registry::format_utc(a.at_us),
            kind: a.kind,
            env: a.env,
            resource: a.resource,
            arn: a.arn,
            request: a.request,
            requester: a.requester,
            applied_by: a.applied_by,
            created: a.created,
            withdrawn: a.withdrawn,
        }
    }
}

/// `goldenpath owners`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnersOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The environment.
    pub env: String,
    /// Every name held, and who holds it.
    pub held: Vec<OwnedRow>,
}

/// A held name (or set of names), with examples of the names it holds.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnedRow {
    /// What is held, and by whom.
    #[serde(flatten)]
    pub held: gp_core::ownership::Held,
    /// Names it holds (a per-build one instantiated for a few builds).
    pub examples: Vec<String>,
}

/// `goldenpath request new`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestNewOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The new request's id.
    pub request: String,
    /// The file written.
    pub file: String,
}

/// `goldenpath request approve`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestApprovedOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Request id.
    pub request: String,
    /// Who approved.
    pub by: String,
    /// The content approved (SHA-256).
    pub hash: String,
    /// Whether the request needed an approval at all.
    pub needed: bool,
    /// Whether every approval it needs is now recorded.
    pub approved: bool,
    /// The groups still to approve it.
    pub missing: Vec<String>,
}

/// `goldenpath request list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestListOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Requests on disk or recorded.
    pub requests: Vec<gp_engine::requests::RequestRow>,
}

/// `goldenpath docs fix`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocsFixOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// What was changed.
    pub changed: Vec<gp_docs::Fixed>,
}

/// `goldenpath gitops bootstrap`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitopsBootstrapOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The root Application (argoproj.io/v1alpha1).
    pub application: serde_json::Value,
}

/// `goldenpath catalog --output json`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Backstage entities (`backstage.io/v1alpha1`), by kind and name.
    pub entities: Vec<serde_json::Value>,
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

/// `goldenpath policy list`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyListOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The rules, built-in first.
    pub rules: Vec<gp_policy::Rule>,
}

/// `goldenpath policy check`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyCheckOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Findings that refuse (not overridden).
    pub denied: usize,
    /// Warnings.
    pub warned: usize,
    /// Every finding, in the order of the objects.
    pub findings: Vec<gp_policy::Finding>,
}

/// `goldenpath policy test`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTestOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Each test.
    pub tests: Vec<gp_policy::TestResult>,
}

/// `goldenpath orphans`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrphansOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The environment.
    pub env: String,
    /// What the sweep found, and what became of it.
    pub resources: Vec<gp_engine::sweep::SweptResource>,
}

/// `goldenpath docs baseline`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocsBaselineOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The baseline file written.
    pub file: String,
    /// Entries in it.
    pub entries: usize,
    /// Findings they accept.
    pub findings: usize,
}

/// `goldenpath docs rules`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocsRulesOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// Every rule.
    pub rules: Vec<DocsRule>,
}

/// One docs rule.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocsRule {
    /// Its id (`GP-META-001`).
    pub id: String,
    /// What it checks.
    pub summary: String,
}

/// What `schema` and `request schema` print: a JSON Schema document.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct SchemaDocument(pub serde_json::Map<String, serde_json::Value>);

/// A line of a run's JSON Lines stream (`deploy`, `teardown`): an event,
/// then the outcome, or an error.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RunLine<T: JsonSchema> {
    /// Progress.
    Event(gp_engine::Event),
    /// The last line of a run that finished.
    Outcome(OutcomeLine<T>),
    /// The last line of a run that could not start or finish.
    Error(ErrorLine),
}

/// `{"event": "outcome", "outcome": ...}`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeLine<T: JsonSchema> {
    /// Always `outcome`.
    pub event: OutcomeTag,
    /// The run's result.
    pub outcome: T,
}

/// The `outcome` tag.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeTag {
    /// `outcome`.
    Outcome,
}

/// `{"event": "error", "error": ...}`, ending a stream.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLine {
    /// Always `error`.
    pub event: ErrorTag,
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` tag.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorTag {
    /// `error`.
    Error,
}

/// What a failing command prints on stdout with `--output json`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error, as JSON.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The exit status: 1 failed, 2 invalid input or usage, 3 refused.
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// Its causes, outermost first.
    pub causes: Vec<String>,
    /// What to do.
    pub hint: Option<String>,
    /// For invalid input: every problem with its position.
    pub diagnostics: Vec<DiagnosticJson>,
}

/// The JSON Schema of what `command` prints with `--output json` (a
/// document, or one line of a stream), or of an error; `None` for a
/// command that prints no JSON. `command` is the command's words, e.g.
/// `builds list`.
pub fn schema_of(command: &str) -> Option<Schema> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let s = match words.as_slice() {
        ["validate"] => doc::<ValidateReport>(),
        ["contract"] => doc::<gp_core::contract::ContractView>(),
        ["init"] => doc::<InitOutput>(),
        ["schema"] | ["request", "schema"] => doc::<SchemaDocument>(),
        ["request", "new"] | ["request", "new", _] => doc::<RequestNewOutput>(),
        ["plan"] => doc::<gp_engine::Plan>(),
        ["deploy"] => doc::<RunLine<gp_engine::DeployOutcome>>(),
        ["teardown"] => doc::<RunLine<gp_engine::TeardownOutcome>>(),
        ["status"] => doc::<StatusOutput>(),
        ["graph"] => doc::<GraphOutput>(),
        ["builds", "list"] => doc::<BuildsOutput>(),
        ["builds", "show"] => doc::<crate::cmd::builds::BuildDetail>(),
        ["registry", "export"] => doc::<ExportOutput>(),
        ["registry", "import"] => doc::<ImportOutput>(),
        ["registry", "report"] => doc::<ReportOutput>(),
        ["registry", "verify"] => doc::<VerifyOutput>(),
        ["registry", "migrate"] => doc::<MigrateOutput>(),
        ["registry", "grant-runner"] => doc::<GrantOutput>(),
        ["lease", "list"] => doc::<LeasesOutput>(),
        ["lease", "unlock"] => doc::<LeaseUnlockOutput>(),
        ["request", "validate"] => doc::<RequestChecksOutput>(),
        ["request", "plan"] => doc::<RequestPlanOutput>(),
        ["request", "approve"] => doc::<RequestApprovedOutput>(),
        ["request", "apply"] => doc::<RequestAppliedOutput>(),
        ["request", "withdraw"] => doc::<RequestWithdrawnOutput>(),
        ["resources", "list"] => doc::<ResourcesOutput>(),
        ["request", "list"] => doc::<RequestListOutput>(),
        ["db", "list"] => doc::<DatabasesOutput>(),
        ["owners"] => doc::<OwnersOutput>(),
        ["secret", "list"] => doc::<SecretsOutput>(),
        ["secret", "get"] => doc::<SecretOutput>(),
        ["secret", "put"] => doc::<SecretPutOutput>(),
        ["dns", "plan"] => doc::<DnsPlanOutput>(),
        ["dns", "apply"] => doc::<DnsApplyOutput>(),
        ["dns", "list"] => doc::<DnsListOutput>(),
        ["terraform", "unlock"] => doc::<TerraformUnlockOutput>(),
        ["verify", "propagation"] => doc::<PropagationOutput>(),
        ["docs", "check"] => doc::<gp_docs::Report>(),
        ["docs", "index"] => doc::<gp_docs::IndexOutcome>(),
        ["docs", "fix"] => doc::<DocsFixOutput>(),
        ["docs", "baseline"] => doc::<DocsBaselineOutput>(),
        ["orphans"] => doc::<OrphansOutput>(),
        ["gitops", "bootstrap"] => doc::<GitopsBootstrapOutput>(),
        ["policy", "list"] => doc::<PolicyListOutput>(),
        ["builds", "extend"] | ["builds", "keep"] => doc::<BuildExpiryOutput>(),
        ["reap"] => doc::<RunLine<gp_engine::expiry::ReapOutcome>>(),
        ["catalog"] => doc::<CatalogOutput>(),
        // A server prints no JSON; with --output json, a refused start's error.
        ["serve"] => doc::<ErrorOutput>(),
        ["policy", "check"] => doc::<PolicyCheckOutput>(),
        ["policy", "test"] => doc::<PolicyTestOutput>(),
        ["docs", "init"] => doc::<gp_docs::init::Initialised>(),
        ["docs", "rules"] => doc::<DocsRulesOutput>(),
        ["env"] => doc::<EnvOutput>(),
        ["state-dir"] => doc::<StateDirOutput>(),
        // A shell script, never JSON: with --output json, the error.
        ["completions"] => doc::<ErrorOutput>(),
        _ => return None,
    };
    Some(s)
}

/// `status` prints one deployment, or the environment at a glance.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusOutput {
    /// `--build-id`, `--persistent` or `--foundational`.
    Deployment(gp_engine::status::DeploymentStatus),
    /// Neither: the foundational plane, the persistent deployment, builds.
    Environment(Box<gp_engine::status::Overview>),
}

/// The schema of `T` or an [`ErrorOutput`], strict: an object accepts only
/// the properties its type declares.
fn doc<T: JsonSchema>() -> Schema {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.meta_schema = Some("https://json-schema.org/draft/2020-12/schema".into());
    let mut generator = settings.into_generator();
    let ok = generator.subschema_for::<T>();
    let err = generator.subschema_for::<ErrorOutput>();
    let mut root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": std::any::type_name::<T>().rsplit("::").next().unwrap_or_default(),
        "anyOf": [ok.to_value(), err.to_value()],
        "$defs": generator.take_definitions(true),
    });
    strict(&mut root, false);
    // An internally tagged enum's arm (`properties: {kind}` beside a
    // `$ref`) evaluates the referenced object's properties as its own: the
    // arm is strict, the object it refers to must not be (it would refuse
    // the tag).
    let mut partial = Vec::new();
    tagged_refs(&root, &mut partial);
    if let Some(defs) = root.get_mut("$defs").and_then(|d| d.as_object_mut()) {
        for name in partial {
            if let Some(d) = defs.get_mut(&name).and_then(|d| d.as_object_mut()) {
                d.remove("unevaluatedProperties");
            }
        }
    }
    Schema::try_from(root).unwrap_or_default()
}

/// The definitions an object with properties of its own refers to.
fn tagged_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.contains_key("properties")
                && let Some(r) = m.get("$ref").and_then(|r| r.as_str())
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                out.push(name.to_string());
            }
            m.values().for_each(|c| tagged_refs(c, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| tagged_refs(c, out)),
        _ => {}
    }
}

/// Adds `unevaluatedProperties: false` to every object schema that lists
/// properties and is a whole object (not one arm of a flattened enum,
/// whose parent carries the rest).
fn strict(v: &mut serde_json::Value, partial: bool) {
    let Some(map) = v.as_object_mut() else {
        if let Some(items) = v.as_array_mut() {
            for i in items {
                strict(i, partial);
            }
        }
        return;
    };
    let has_props = map.contains_key("properties");
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "oneOf" | "anyOf" | "allOf" => strict(child, has_props),
            "properties" | "$defs" | "definitions" => {
                if let Some(m) = child.as_object_mut() {
                    for c in m.values_mut() {
                        strict(c, false);
                    }
                }
            }
            "items" | "additionalProperties" | "prefixItems" => strict(child, false),
            _ => {}
        }
    }
    if has_props && !partial && !map.contains_key("additionalProperties") {
        map.insert(
            "unevaluatedProperties".into(),
            serde_json::Value::Bool(false),
        );
    }
}

/// Every command that prints JSON, as `schema --output-of` takes it.
pub const COMMANDS: &[&str] = &[
    "validate",
    "contract",
    "init",
    "schema",
    "plan",
    "deploy",
    "status",
    "teardown",
    "graph",
    "builds list",
    "builds show",
    "registry export",
    "registry import",
    "registry report",
    "registry verify",
    "registry migrate",
    "registry grant-runner",
    "lease list",
    "lease unlock",
    "request validate",
    "request plan",
    "request approve",
    "request apply",
    "request withdraw",
    "request list",
    "request schema",
    "request new rds",
    "request new s3",
    "request new secret",
    "request new ecr",
    "resources list",
    "db list",
    "owners",
    "secret list",
    "secret get",
    "secret put",
    "dns plan",
    "dns apply",
    "dns list",
    "terraform unlock",
    "verify propagation",
    "docs check",
    "docs index",
    "docs fix",
    "docs baseline",
    "orphans",
    "gitops bootstrap",
    "policy list",
    "builds extend",
    "builds keep",
    "reap",
    "catalog",
    "serve",
    "policy check",
    "policy test",
    "docs init",
    "docs rules",
    "env",
    "state-dir",
    "completions",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_command_has_a_schema() {
        for c in super::COMMANDS {
            assert!(super::schema_of(c).is_some(), "{c}");
        }
    }
}
