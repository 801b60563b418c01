//! `goldenpath resources list`: what requests created or adopted.

use clap::Args;

use crate::Context;
use crate::printer::table;

/// Arguments of `resources list`.
#[derive(Debug, Args)]
pub struct ResourcesArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Only this kind: rds, s3, secret, ecr.
    #[arg(long, value_parser = ["rds", "s3", "secret", "ecr"])]
    pub kind: Option<String>,
}

/// `resources list`.
#[derive(Debug, clap::Subcommand)]
pub enum ResourcesCommand {
    /// What requests created or adopted (databases, buckets, secrets,
    /// repositories), with who asked and who applied.
    List(ResourcesArgs),
}

/// Runs `resources ...`.
pub fn run_resources(ctx: &Context, cmd: ResourcesCommand) -> anyhow::Result<()> {
    let ResourcesCommand::List(a) = cmd;
    let rows = resource_rows(ctx, a.env.as_deref(), a.kind.as_deref())?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::ResourcesOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            resources: rows,
        })?;
        return Ok(());
    }
    if rows.is_empty() {
        ctx.printer.data("no resources applied by requests")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.kind.clone(),
                r.env.clone(),
                r.resource.clone(),
                r.request.clone(),
                r.requester.clone(),
                r.applied_by.clone(),
                r.at.clone(),
            ]
        })
        .collect();
    ctx.printer.data(&table(
        &[
            "KIND",
            "ENV",
            "RESOURCE",
            "REQUEST",
            "ASKED BY",
            "APPLIED BY",
            "AT",
        ],
        &cells,
    ))?;
    Ok(())
}

/// What requests applied, for `resources list` and the server.
pub(crate) fn resource_rows(
    ctx: &Context,
    env: Option<&str>,
    kind: Option<&str>,
) -> anyhow::Result<Vec<crate::outputs::ResourceRow>> {
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    Ok(engine
        .applied_requests(env)?
        .into_iter()
        .filter(|a| kind.is_none_or(|k| k == a.kind))
        .map(crate::outputs::ResourceRow::of)
        .collect())
}
