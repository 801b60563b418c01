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
    let platform = ctx.platform()?;
    let progress = Progress::new(&ctx.printer, false);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let _ = platform;
    let rows_typed = engine.databases(&a.env)?;
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for d in rows_typed {
        json.push(serde_json::json!({
            "instance": d.instance, "database": d.database, "owner": d.owner,
            "secretPath": d.secret_path, "askedBy": d.asked_by,
        }));
        rows.push(vec![
            d.instance,
            d.database,
            d.owner,
            d.secret_path,
            d.asked_by,
        ]);
    }
    if ctx.printer.is_json() {
        ctx.printer
            .json(&serde_json::json!({"schemaVersion": 1, "env": a.env, "databases": json}))?;
        return Ok(());
    }
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
