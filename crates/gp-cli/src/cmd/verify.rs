//! `goldenpath verify propagation`: proves the build id and hostnames
//! reached every rendered artifact and Terraform variables file.

use clap::Subcommand;

use super::{DeploymentArgs, shown};
use crate::Context;
use crate::exit::{Code, Reported};

/// `goldenpath verify ...`.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Check a deployment's rendered GitOps files and Terraform variables:
    /// each must carry the build id where the contract requires it, no
    /// other build's id, and only hostnames under the deployment's suffix
    /// (or allowed persistent ones). Prints file:line and the value.
    Propagation(DeploymentArgs),
}

/// Runs `verify ...`.
pub fn run(ctx: &Context, cmd: VerifyCommand) -> anyhow::Result<()> {
    let VerifyCommand::Propagation(a) = cmd;
    let deployment = a.deployment()?;
    ctx.check_env(&a.env)?;
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    let findings = engine.verify_propagation(&a.env, deployment)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::PropagationOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            deployment: deployment.key(),
            ok: findings.is_empty(),
            findings: findings
                .iter()
                .map(|f| crate::outputs::PropagationFinding {
                    file: shown(&f.file),
                    line: f.line,
                    value: f.value.clone(),
                    problem: f.problem.clone(),
                })
                .collect(),
        })?;
    } else if findings.is_empty() {
        ctx.printer.data(&format!(
            "propagation of {} in {}: every artifact carries the contract",
            deployment.key(),
            a.env
        ))?;
    } else {
        let mut out = String::new();
        for f in &findings {
            out.push_str(&format!(
                "{}:{}: {} `{}`\n",
                shown(&f.file),
                f.line,
                f.problem,
                f.value
            ));
        }
        out.push_str(&format!("{} problem(s)", findings.len()));
        ctx.printer.data(&out)?;
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Reported(Code::Failed).into())
    }
}
