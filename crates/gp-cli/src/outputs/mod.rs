//! The JSON every command prints with `--output json`, as types: one
//! convention (camelCase keys, kebab-case values, `schemaVersion` on every
//! document), and the JSON Schema of each command's output
//! (`goldenpath schema --output-of COMMAND`), generated from the same types.
//!
//! A failing command prints an [`ErrorOutput`] on stdout (a run that
//! streams events ends with an `error` line instead), so stdout is JSON
//! whatever happens.

use schemars::JsonSchema;
use serde::Serialize;

/// The version every document here carries as `schemaVersion`.
pub const SCHEMA_VERSION: u32 = 1;

mod infra;
mod registry;
mod requests;
mod schema;

pub use infra::*;
pub use registry::*;
pub use requests::*;
pub use schema::*;

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

/// The JSON shape of `goldenpath validate --output json`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateReport {
    /// Version of this shape.
    pub schema_version: u32,
    /// Whether everything checked is valid.
    pub valid: bool,
    /// The spec file.
    pub spec: String,
    /// Components declared.
    pub components: usize,
    /// Environments declared.
    pub environments: usize,
    /// Problems found.
    pub diagnostics: Vec<DiagnosticJson>,
}

/// A diagnostic in JSON.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticJson {
    /// File.
    pub file: String,
    /// 1-based line, if known.
    pub line: Option<u32>,
    /// 1-based column, if known.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl From<&gp_core::Diagnostic> for DiagnosticJson {
    fn from(d: &gp_core::Diagnostic) -> Self {
        Self {
            file: d.file.display().to_string(),
            line: d.pos.map(|p| p.line),
            column: d.pos.map(|p| p.col),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// What `drift --output json` prints: the report of a check, or (with
/// `--approve`) the approval recorded.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DriftOutput {
    /// A check.
    Report(gp_engine::drift::DriftReport),
    /// An approval of putting drift back.
    Approved(DriftApproved),
}

/// An approval of putting back the drift found in foundational components.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftApproved {
    /// Version of this shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// The components whose drift may be put back.
    pub approved: Vec<String>,
}

/// What `metrics --output json` prints (and the metrics endpoint answers).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The four keys over the window.
    #[serde(flatten)]
    pub metrics: gp_registry::DeliveryMetrics,
}
