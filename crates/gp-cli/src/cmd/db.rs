//! `goldenpath db list --env E`: the databases on an environment's
//! foundational instances, read live, with their owners, secret paths, and
//! who asked for them (a component, a build, or a request).

use clap::{Args, Subcommand};

use crate::Context;
use crate::printer::table;
use crate::progress::Progress;

/// `goldenpath db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Databases, owners, secret paths and who asked for each.
    List(ListArgs),
}

/// Arguments of `db list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
}

/// Runs `db ...`.
pub fn run(ctx: &Context, cmd: DbCommand) -> anyhow::Result<()> {
    let DbCommand::List(a) = cmd;
    ctx.check_env(&a.env)?;
    let progress = Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let databases = engine.databases(&a.env)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::DatabasesOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            databases,
        })?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = databases
        .into_iter()
        .map(|d| vec![d.instance, d.database, d.owner, d.secret_path, d.asked_by])
        .collect();
    if rows.is_empty() {
        ctx.printer.data(&format!(
            "no databases in {} (is the instance deployed? goldenpath status --env {} --foundational)",
            a.env, a.env
        ))?;
        return Ok(());
    }
    ctx.printer.data(&table(
        &["INSTANCE", "DATABASE", "OWNER", "SECRET", "ASKED BY"],
        &rows,
    ))?;
    Ok(())
}
