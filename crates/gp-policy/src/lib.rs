//! Policies before anything reaches the cluster: Rego (OPA's language,
//! evaluated by `regorus`) over every object of a rendered deployment and
//! over each Terraform plan, with conftest's conventions — `deny`,
//! `violation` and `warn` rules whose messages are strings or objects with
//! `msg` — in `package main` (or the configured packages), beside a
//! built-in rule set shipped in the binary.
//!
//! - `input` is one object (a manifest, a Helm values file, or a plan as
//!   `terraform show -json` prints it, sensitive values replaced);
//!   `data.goldenpath` holds the deployment's facts and, under `object`,
//!   the object's `file`, `line` and `component`.
//! - A rule is known by an id: a file's `# id:` header, else its package.
//!   A user file declaring a built-in rule's package replaces that rule;
//!   `policy.disable` turns rules off by id.
//! - Evaluation runs in a child process ([`Runner::Child`]) with a time
//!   limit (regorus's own timer, and a kill after it) and an address-space
//!   limit, so a policy that loops or allocates without bound stops with a
//!   clear error and never takes the deploy down with it.

#![allow(clippy::print_stdout)]

mod docs;
mod eval;
mod format;
mod load;
mod plan;
mod worker;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use docs::{component_for, docs_under, read_docs};
pub use eval::evaluate;
pub use format::{github, sarif};
pub use load::{BUILTIN, PolicySet, Rule, split_documents};
pub use plan::redact_plan;
pub use worker::{Runner, worker_main};

/// What a rule checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// Rendered objects: manifests and Helm values files.
    Manifests,
    /// Terraform plans.
    Plan,
}

impl Subject {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Manifests => "manifests",
            Subject::Plan => "plan",
        }
    }
}

/// How bad a finding is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `warn`: shown and recorded.
    Warn,
    /// `deny` or `violation`: refuses.
    Deny,
}

/// One object to check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Doc {
    /// Manifest or plan.
    pub subject: Subject,
    /// Where it is (relative to the GitOps repository, or the plan's name).
    pub file: String,
    /// The line its document starts on (1-based).
    pub line: usize,
    /// The component it belongs to (empty when unknown).
    pub component: String,
    /// The object.
    pub input: serde_json::Value,
}

/// A rule's verdict on one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The rule's id (`image-pinned`, `main`, or the `id` a message
    /// object carries).
    pub rule: String,
    /// Deny or warn.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The component.
    pub component: String,
    /// The file.
    pub file: String,
    /// The line the object starts on.
    pub line: usize,
    /// Whether an override (`--override-policy RULE --reason`) let it pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overridden: bool,
}

/// A policy unit test's result.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestResult {
    /// `data.PACKAGE.test_NAME`.
    pub name: String,
    /// The file it is in.
    pub file: String,
    /// Whether it evaluated to true.
    pub passed: bool,
    /// Why it failed to evaluate, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a check could not finish.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy file does not parse, or a setting is wrong.
    #[error("{0}")]
    Invalid(#[from] gp_core::InvalidInput),
    /// The evaluation hit its time or memory limit.
    #[error("{0}")]
    Limit(String),
    /// The evaluation failed (a runtime error in a policy, the worker).
    #[error("{0}")]
    Failed(String),
}

/// What the worker process is asked to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// Every module: display path and source.
    pub modules: Vec<(String, String)>,
    /// The rules to evaluate: package, rule name, severity, subject, id.
    pub queries: Vec<Query>,
    /// `data.goldenpath` (without `object`).
    pub context: serde_json::Value,
    /// The objects.
    pub docs: Vec<Doc>,
    /// Time limit in milliseconds.
    pub timeout_ms: u64,
    /// Unit tests to run instead of checks: `data.PACKAGE.test_NAME` and
    /// the file.
    #[serde(default)]
    pub tests: Vec<(String, String)>,
}

/// One rule to evaluate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Query {
    /// `goldenpath.builtin.image_pinned`, `main`.
    pub package: String,
    /// `deny`, `violation` or `warn`.
    pub rule: String,
    /// What it checks (`None`: both).
    pub subject: Option<Subject>,
    /// The id its findings carry.
    pub id: String,
}

/// What the worker answers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Response {
    /// Findings.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Test results.
    #[serde(default)]
    pub tests: Vec<TestResult>,
    /// Why it stopped.
    #[serde(default)]
    pub error: Option<String>,
    /// Whether the error is a limit.
    #[serde(default)]
    pub limit: bool,
}

/// The deployment's facts for `data.goldenpath`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// Environment.
    pub env: String,
    /// `persistent`, `foundational` or the build's key.
    pub deployment: String,
    /// The build id, if a build.
    pub build: Option<String>,
    /// Whether the environment is held to production rules.
    pub production: bool,
    /// The deployment's host suffix.
    pub host_suffix: String,
    /// Secret stores ExternalSecrets may name.
    pub stores: Vec<String>,
    /// Namespaces Applications may target.
    pub allowed_namespaces: Vec<String>,
    /// Argo CD projects Applications may use.
    pub allowed_projects: Vec<String>,
    /// Protected Terraform addresses per component.
    pub protect: std::collections::BTreeMap<String, Vec<String>>,
    /// The contract's tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Context {
    /// The facts of one deployment, from the spec and the contract.
    pub fn of(platform: &gp_core::Platform, contract: &gp_core::Contract<'_>) -> Context {
        let spec = &platform.spec;
        let settings = &spec.policy;
        let mut namespaces: Vec<String> = vec![spec.gitops.argocd_namespace.clone()];
        let mut protect = std::collections::BTreeMap::new();
        for c in &spec.components {
            let node = c.settings_node();
            if c.driver.value == "gitops"
                && let Some(ns) = node.get("namespace").and_then(|n| n.as_str())
            {
                namespaces.push(ns.to_string());
            }
            if c.driver.value == "terraform"
                && let Some(gp_core::yaml::NodeKind::Seq(items)) =
                    node.get("protect").map(|p| &p.kind)
            {
                let patterns: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect();
                protect.insert(c.name.value.clone(), patterns);
            }
        }
        namespaces.extend(settings.allowed_namespaces.iter().cloned());
        namespaces.sort();
        namespaces.dedup();
        let projects = if settings.allowed_projects.is_empty() {
            vec![spec.gitops.project.clone()]
        } else {
            settings.allowed_projects.clone()
        };
        Context {
            env: contract.env().to_string(),
            deployment: contract.deployment().key(),
            build: contract.build_id().map(|b| b.to_string()),
            production: settings
                .production_environments
                .iter()
                .any(|e| e == contract.env()),
            host_suffix: contract.host_suffix(),
            stores: Self::stores(platform),
            allowed_namespaces: namespaces,
            allowed_projects: projects,
            protect,
            tags: contract.tags(),
        }
    }
}

impl Context {
    /// The secret stores a deployment has: with the aws backend the
    /// ClusterSecretStore goldenpath renders on the component installing the
    /// External Secrets chart (none without one); with the local store, the
    /// store the cluster is set up with (goldenpath renders none), named by
    /// `gitops.secretStore` too.
    fn stores(platform: &gp_core::Platform) -> Vec<String> {
        let spec = &platform.spec;
        let store = spec.gitops.secret_store.clone();
        if spec.secrets.backend != gp_core::spec::SecretsBackend::Aws {
            return vec![store];
        }
        let renders = spec.components.iter().any(|c| {
            c.driver.value == "gitops"
                && c.settings_node()
                    .get("chart")
                    .and_then(|ch| ch.get("chart"))
                    .and_then(|n| n.as_str())
                    == Some("external-secrets")
        });
        if renders { vec![store] } else { Vec::new() }
    }
}

/// Where a deployment's rendered folder is inside the GitOps repository,
/// and the component a file in it belongs to: `apps/{env}/persistent/{c}/…`
/// or `apps/{env}/builds/{B}/{c}/…`.
pub fn component_of(rel: &str) -> String {
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["apps", _, "builds", _, c, _, ..] => (*c).to_string(),
        ["apps", _, _, c, _, ..] => (*c).to_string(),
        _ => String::new(),
    }
}

/// The files of a folder to check, sorted: `*.yaml`, `*.yml` and `*.json`
/// (a JSON file is a Terraform plan when it has `resource_changes`).
pub fn files_under(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let p = e.path();
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p)?;
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file()
                && p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
