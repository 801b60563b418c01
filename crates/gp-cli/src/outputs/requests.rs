//! Outputs of the request commands, resources and owners.

use schemars::JsonSchema;
use serde::Serialize;

use super::*;

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
