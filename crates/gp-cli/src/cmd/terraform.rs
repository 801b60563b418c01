//! `goldenpath terraform unlock`: releases a stale Terraform state lock,
//! recording who and why before it runs `terraform force-unlock`.

use clap::{Args, Subcommand};

use super::DeploymentArgs;
use crate::Context;
use crate::progress::Progress;

/// `goldenpath terraform ...`.
#[derive(Debug, Subcommand)]
pub enum TerraformCommand {
    /// Force-unlock a component's state (the lock id is in the lock error).
    Unlock(UnlockArgs),
}

/// Arguments of `terraform unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// The terraform component.
    pub component: String,
    /// The lock's id, as the lock error printed it.
    #[arg(long)]
    pub lock_id: String,
    /// Why (recorded with your name).
    #[arg(long)]
    pub reason: String,
}

/// Runs `terraform ...`.
pub fn run(ctx: &Context, cmd: TerraformCommand) -> anyhow::Result<()> {
    let TerraformCommand::Unlock(a) = cmd;
    let deployment = a.deployment.deployment()?;
    let progress = Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    engine.unlock(
        &a.deployment.env,
        deployment,
        &a.component,
        &a.lock_id,
        &a.reason,
    )?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::TerraformUnlockOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.deployment.env.clone(),
            deployment: deployment.key(),
            component: a.component.clone(),
            lock_id: a.lock_id.clone(),
        })?;
    }
    ctx.printer.status(&format!(
        "unlocked {} ({} in {}); recorded with your name and reason",
        a.component,
        deployment.key(),
        a.deployment.env
    ));
    Ok(())
}
