//! Outputs of the commands about systems: databases, secrets, DNS, Terraform, propagation, docs, policies, orphans, the catalog.

use schemars::JsonSchema;
use serde::Serialize;

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

/// `goldenpath iam policy`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamPolicyOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The environment.
    pub env: String,
    /// The role (`plan`, `apply`, `teardown`, `reap`, `requests`).
    pub role: String,
    /// Its name in the workflows (`{prefix}-{env}-ci-{role}`).
    pub role_name: String,
    /// The IAM policy document.
    pub policy: serde_json::Value,
}

/// `goldenpath iam trust`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamTrustOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The repository.
    pub repo: String,
    /// Each role's trust policy.
    pub roles: Vec<IamTrustRole>,
}

/// One role's trust.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamTrustRole {
    /// The environment.
    pub env: String,
    /// The role.
    pub role: String,
    /// Its name in the workflows.
    pub name: String,
    /// The OIDC subjects it accepts.
    pub subjects: Vec<String>,
    /// The trust policy document.
    pub trust: serde_json::Value,
}

/// `goldenpath iam check`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamCheckOutput {
    /// Version of this shape.
    pub schema_version: u32,
    /// The environment.
    pub env: String,
    /// The role.
    pub role: String,
    /// Whether a run with the policy would fail.
    pub fails: bool,
    /// Actions no statement allows.
    pub missing: Vec<IamActionOn>,
    /// Actions allowed, but not on the contract's names.
    pub uncovered: Vec<IamActionOn>,
    /// Actions a Deny takes back.
    pub denied: Vec<IamDenied>,
    /// Action patterns beyond need.
    pub beyond: Vec<IamBeyond>,
    /// Resource patterns wider than need.
    pub wider: Vec<IamBeyond>,
    /// Statements with a condition this check reads as met.
    pub conditional: Vec<String>,
}

/// An action on a resource.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamActionOn {
    /// The IAM action.
    pub action: String,
    /// The resource (ARN or pattern).
    pub resource: String,
}

/// An action a Deny takes back.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamDenied {
    /// The IAM action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// The Deny's id (or its line).
    pub statement: String,
}

/// A pattern of a statement beyond need.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamBeyond {
    /// The statement's id (or its line).
    pub statement: String,
    /// The pattern.
    pub pattern: String,
}
