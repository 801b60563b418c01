//! `goldenpath orphans --env E [--build-id B] [--delete]`: the orphan sweep
//! by tags alone, for a scheduled CI job.

use clap::Args;
use gp_core::BuildId;

use crate::Context;
use crate::exit::CliError;
use crate::printer::table;

/// Arguments of `orphans`.
#[derive(Debug, Args)]
pub struct OrphansArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// One build; without it, every build of the environment that is not
    /// live (torn down, or unknown to the registry).
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: Option<String>,
    /// Delete what goldenpath owns (secrets) of builds that are not live,
    /// recording each deletion; other kinds are listed and kept.
    #[arg(long)]
    pub delete: bool,
}

/// Runs `orphans`.
pub fn run(ctx: &Context, a: OrphansArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    let build = match a.build_id.as_deref() {
        None => None,
        Some("auto") => {
            return Err(CliError::invalid("`auto` only makes sense for `deploy`").into());
        }
        Some(b) => Some(b.parse::<BuildId>()?),
    };
    let progress = crate::progress::Progress::new(&ctx.printer, ctx.global.verbose > 0);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let drivers = ctx.drivers()?;
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let swept = engine.sweep_orphans(&a.env, build, a.delete)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::OrphansOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            resources: swept.clone(),
        })?;
    } else if swept.is_empty() {
        ctx.printer.data(&format!(
            "nothing in {} is tagged for a build that is gone",
            a.env
        ))?;
    } else {
        let rows: Vec<Vec<String>> = swept
            .iter()
            .map(|r| {
                vec![
                    r.build_id.clone(),
                    r.kind.clone(),
                    r.id.clone(),
                    r.state.clone(),
                ]
            })
            .collect();
        ctx.printer
            .data(&table(&["BUILD", "KIND", "RESOURCE", "STATE"], &rows))?;
    }
    let left = swept
        .iter()
        .filter(|r| r.state == "found" || r.state.starts_with("failed"))
        .count();
    if left > 0 {
        return Err(
            CliError::failed(format!("{left} orphaned resource(s) remain"))
                .hint(if a.delete {
                    "see the failures above and run again"
                } else {
                    "run again with --delete to remove what goldenpath owns"
                })
                .into(),
        );
    }
    Ok(())
}
