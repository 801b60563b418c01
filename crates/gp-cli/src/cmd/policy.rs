//! `goldenpath policy list|check|test`: Rego policies over rendered
//! manifests and Terraform plans, the built-in set, and unit tests.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gp_core::Deployment;
use gp_policy::{Context as PolicyContext, Finding, PolicySet, Runner, Severity, Subject};

use crate::Context;
use crate::exit::CliError;
use crate::outputs::{PolicyCheckOutput, PolicyListOutput, PolicyTestOutput, SCHEMA_VERSION};
use crate::printer::Output;

/// `goldenpath policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The rules: built-in and the spec's (`policy.paths`), each with its
    /// id, what it checks and why.
    List,
    /// Check a rendered deployment (its folder in the GitOps repository),
    /// or a folder of manifests and plan JSON files (`--dir`); exit 3 on a
    /// `deny`. `--output json|sarif|github` for machines and CI.
    Check(CheckArgs),
    /// Run the policies' unit tests (`test_` rules, as `opa test` does).
    Test(TestArgs),
}

/// Arguments of `policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The environment whose facts apply (host suffix, stores, namespaces);
    /// default the spec's first.
    #[arg(long)]
    pub env: Option<String>,
    /// A build of that environment (else the persistent deployment).
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: Option<String>,
    /// Check this folder instead of the deployment's rendered one: every
    /// `*.yaml`/`*.yml` (each `---` document) and every `*.json` Terraform
    /// plan (`terraform show -json`) below it.
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// A Terraform plan as `terraform show -json` prints it (repeatable);
    /// its component is the file name up to the first dot.
    #[arg(long = "plan", value_name = "FILE")]
    pub plans: Vec<PathBuf>,
}

/// Arguments of `policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Run the built-in set's own tests too.
    #[arg(long)]
    pub builtin: bool,
}

/// Runs `policy ...`.
pub fn run(ctx: &Context, cmd: PolicyCommand) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let set = PolicySet::load(platform)?;
    match cmd {
        PolicyCommand::List => list(ctx, &set),
        PolicyCommand::Check(a) => check(ctx, platform, &set, a),
        PolicyCommand::Test(a) => test(ctx, platform, &set, a),
    }
}

fn list(ctx: &Context, set: &PolicySet) -> anyhow::Result<()> {
    if ctx.printer.is_json() {
        ctx.printer.json(&PolicyListOutput {
            schema_version: SCHEMA_VERSION,
            rules: set.rules.clone(),
        })?;
        return Ok(());
    }
    let mut out = String::new();
    for r in &set.rules {
        let subject = r.subject.map_or("any", Subject::as_str);
        let state = if r.disabled {
            " (disabled)"
        } else if r.overridden {
            " (overridden)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:<32} {:<9} {}{state}\n",
            r.id,
            subject,
            if r.rationale.is_empty() {
                r.file.as_str()
            } else {
                r.rationale.as_str()
            }
        ));
    }
    ctx.printer.data(out.trim_end())?;
    Ok(())
}

fn contract_for<'p>(
    ctx: &Context,
    platform: &'p gp_core::Platform,
    env: Option<&str>,
    build: Option<&str>,
) -> anyhow::Result<gp_core::Contract<'p>> {
    let env = match env {
        Some(e) => {
            ctx.check_env(e)?;
            e.to_string()
        }
        None => platform
            .spec
            .environments
            .keys()
            .next()
            .map(|k| k.value.clone())
            .ok_or_else(|| CliError::invalid("the spec has no environment"))?,
    };
    let deployment = match build {
        Some(b) => Deployment::Ephemeral(b.parse()?),
        None => Deployment::Persistent,
    };
    Ok(gp_core::Contract::new(platform, &env, deployment)
        .map_err(|e| CliError::invalid(e.to_string()))?)
}

fn check(
    ctx: &Context,
    platform: &gp_core::Platform,
    set: &PolicySet,
    a: CheckArgs,
) -> anyhow::Result<()> {
    let contract = contract_for(ctx, platform, a.env.as_deref(), a.build_id.as_deref())?;
    let mut docs = match &a.dir {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(CliError::invalid(format!("{} is not a folder", dir.display())).into());
            }
            gp_policy::docs_under(dir, dir)?
        }
        None if a.plans.is_empty() || a.env.is_some() => {
            let repo = gp_driver_gitops::gitops_dir(platform);
            let folder = repo.join(gp_driver_gitops::render::deployment_dir(&contract));
            if !folder.is_dir() {
                return Err(CliError::invalid(format!(
                    "{} has not been rendered ({} does not exist)",
                    contract.deployment().key(),
                    folder.display()
                ))
                .hint("deploy it first, or check a folder: goldenpath policy check --dir PATH")
                .into());
            }
            gp_policy::docs_under(&folder, &repo)?
        }
        None => Vec::new(),
    };
    for p in &a.plans {
        let shown = p.display().to_string();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut d = gp_policy::read_docs(p, &name)?;
        for doc in &mut d {
            doc.file = shown.clone();
        }
        docs.extend(d);
    }
    let context = PolicyContext::of(platform, &contract);
    let findings = Runner::current_exe()
        .check(set, &context, docs)
        .map_err(policy_error)?;
    print_findings(ctx, &findings)?;
    let denied = findings
        .iter()
        .filter(|f| f.severity == Severity::Deny)
        .count();
    if denied > 0 {
        return Err(CliError::refused(format!(
            "{denied} polic{} denied",
            if denied == 1 { "y finding" } else { "y findings" }
        ))
        .hint("fix the objects, or override one rule in a deploy: --override-policy RULE --reason TEXT")
        .into());
    }
    Ok(())
}

/// A policy error as the CLI reports it: bad policy files exit 2, a limit
/// or a failure exit 1.
pub fn policy_error(e: gp_policy::PolicyError) -> anyhow::Error {
    match e {
        gp_policy::PolicyError::Invalid(i) => i.into(),
        gp_policy::PolicyError::Limit(m) => CliError::failed(m)
            .hint("a policy loops or builds something without bound; policy.timeout and policy.memoryMib set the limits")
            .into(),
        gp_policy::PolicyError::Failed(m) => CliError::failed(m).into(),
    }
}

/// Findings as text, JSON, SARIF or GitHub annotations.
pub fn print_findings(ctx: &Context, findings: &[Finding]) -> anyhow::Result<()> {
    match ctx.printer.output() {
        Output::Json => ctx.printer.json(&PolicyCheckOutput {
            schema_version: SCHEMA_VERSION,
            denied: findings
                .iter()
                .filter(|f| f.severity == Severity::Deny && !f.overridden)
                .count(),
            warned: findings
                .iter()
                .filter(|f| f.severity == Severity::Warn)
                .count(),
            findings: findings.to_vec(),
        })?,
        Output::Sarif => ctx.printer.json(&gp_policy::sarif(findings))?,
        Output::Github => ctx.printer.data(gp_policy::github(findings).trim_end())?,
        Output::Text => {
            let mut out = String::new();
            for f in findings {
                out.push_str(&format!(
                    "{}:{} {} {} [{}] {}\n",
                    f.file,
                    f.line,
                    match f.severity {
                        Severity::Deny => "deny",
                        Severity::Warn => "warn",
                    },
                    f.rule,
                    f.component,
                    f.message
                ));
            }
            let deny = findings
                .iter()
                .filter(|f| f.severity == Severity::Deny)
                .count();
            let warn = findings.len() - deny;
            out.push_str(&format!("{deny} denied, {warn} warned"));
            ctx.printer.data(&out)?;
        }
    }
    Ok(())
}

fn test(
    ctx: &Context,
    platform: &gp_core::Platform,
    set: &PolicySet,
    a: TestArgs,
) -> anyhow::Result<()> {
    let contract = contract_for(ctx, platform, None, None)?;
    let context = PolicyContext::of(platform, &contract);
    let results = Runner::current_exe()
        .test(set, &context, a.builtin)
        .map_err(policy_error)?;
    let failed = results.iter().filter(|t| !t.passed).count();
    if ctx.printer.is_json() {
        ctx.printer.json(&PolicyTestOutput {
            schema_version: SCHEMA_VERSION,
            passed: results.len() - failed,
            failed,
            tests: results.clone(),
        })?;
    } else {
        let mut out = String::new();
        for t in &results {
            out.push_str(&format!(
                "{}: {} ({}){}\n",
                t.name,
                if t.passed { "PASS" } else { "FAIL" },
                t.file,
                t.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "{} passed, {failed} failed",
            results.len() - failed
        ));
        ctx.printer.data(&out)?;
    }
    if failed > 0 {
        return Err(CliError::failed(format!("{failed} policy test(s) failed")).into());
    }
    Ok(())
}
