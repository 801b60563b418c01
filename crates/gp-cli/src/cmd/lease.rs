//! `goldenpath lease list|unlock`.

use clap::{Args, Subcommand};

use super::{DeploymentArgs, when};
use crate::Context;
use crate::exit::CliError;
use crate::printer::table;

/// `goldenpath lease ...`.
#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Every deployment's lease: who holds it, until when.
    List(ListArgs),
    /// Forcibly end a deployment's lease (recorded with who and why).
    Unlock(UnlockArgs),
}

/// Arguments of `lease list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
}

/// Arguments of `lease unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// Required: this ends someone else's lease.
    #[arg(long)]
    force: bool,
    /// Why (recorded in the registry).
    #[arg(long)]
    reason: Option<String>,
}

/// Runs `lease ...`.
pub fn run(ctx: &Context, cmd: LeaseCommand) -> anyhow::Result<()> {
    // Reading a registry never creates one.
    ctx.require_registry()?;
    match cmd {
        LeaseCommand::List(a) => {
            let (leases, tampered) = ctx.registry()?.leases_checked(a.env.as_deref())?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::LeasesOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    leases,
                    tampered: tampered.clone(),
                })?;
                return super::refuse_tampered(ctx, &tampered);
            }
            if leases.is_empty() {
                ctx.printer.data("no leases recorded")?;
                return super::refuse_tampered(ctx, &tampered);
            }
            let rows: Vec<Vec<String>> = leases
                .iter()
                .map(|l| {
                    vec![
                        l.env.clone(),
                        l.deployment.clone(),
                        l.state.replace('_', "-"),
                        l.holder.clone(),
                        when(l.expires_us),
                        l.lease_id.clone(),
                    ]
                })
                .collect();
            ctx.printer.data(&table(
                &["ENV", "DEPLOYMENT", "STATE", "HOLDER", "EXPIRES", "LEASE"],
                &rows,
            ))?;
            super::refuse_tampered(ctx, &tampered)
        }
        LeaseCommand::Unlock(a) => {
            if !a.force {
                return Err(CliError::invalid("`lease unlock` ends another process's lease; it needs --force")
                    .hint("check that the holder is really gone (goldenpath lease list), then add --force --reason \"...\"")
                    .into());
            }
            let Some(reason) = a.reason.filter(|r| !r.trim().is_empty()) else {
                return Err(CliError::invalid(
                    "a forced unlock needs --reason \"...\" (it is recorded)",
                )
                .into());
            };
            let key = a.deployment.deployment()?.key();
            let ended = ctx.registry()?.lease_force_unlock(
                &a.deployment.env,
                &key,
                &ctx.actor(),
                &reason,
            )?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::LeaseUnlockOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    env: a.deployment.env.clone(),
                    deployment: key.clone(),
                    ended: ended.as_ref().map(|l| crate::outputs::EndedLease {
                        lease_id: l.lease_id.clone(),
                        holder: l.holder.clone(),
                        by: ctx.actor(),
                        reason: reason.clone(),
                    }),
                })?;
                return Ok(());
            }
            match ended {
                Some(l) => ctx.printer.data(&format!(
                    "unlocked {key} in {}: lease {} of {} ended by {} ({reason})",
                    a.deployment.env,
                    l.lease_id,
                    l.holder,
                    ctx.actor()
                ))?,
                None => ctx.printer.data(&format!(
                    "{key} in {} holds no lease; nothing to unlock",
                    a.deployment.env
                ))?,
            }
            Ok(())
        }
    }
}
