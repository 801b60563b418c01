//! `goldenpath reap`: tear down the builds whose TTL has passed.

use clap::Args;

use crate::Context;
use crate::exit::{Code, Reported};
use crate::printer::table;

/// Arguments of `goldenpath reap`.
#[derive(Debug, Args)]
pub struct ReapArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Say what would be done; record and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Teardowns at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,
}

/// Runs `reap`.
pub fn run(ctx: &Context, a: ReapArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    // Reading a registry never creates one.
    ctx.require_registry()?;
    let drivers = ctx.drivers()?;
    let progress = crate::progress::Progress::new(&ctx.printer, ctx.global.verbose > 0);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut engine = ctx.engine(&drivers, &progress, &cancel)?;
    // Teardowns are recorded as the reaper's, run by whoever runs it.
    engine.actor = format!("reaper ({})", engine.actor);
    let outcome = engine.reap(&gp_engine::expiry::ReapRequest {
        env: a.env.clone(),
        dry_run: a.dry_run,
        parallel: usize::from(a.parallel),
    })?;
    if ctx.printer.is_json() {
        // After the teardowns' progress lines, as `teardown` ends its own.
        ctx.printer
            .json_line(&serde_json::json!({"event": "outcome", "outcome": outcome}))?;
    } else if outcome.builds.is_empty() {
        ctx.printer
            .data(&format!("no live build of {} has an expiry", a.env))?;
    } else {
        let rows: Vec<Vec<String>> = outcome
            .builds
            .iter()
            .map(|b| {
                vec![
                    b.build_id.clone(),
                    b.action.clone(),
                    b.expires_us.map(crate::cmd::when).unwrap_or_default(),
                    b.detail.clone(),
                ]
            })
            .collect();
        ctx.printer
            .data(&table(&["BUILD", "ACTION", "EXPIRES", "DETAIL"], &rows))?;
    }
    if !outcome.clean() {
        if !ctx.printer.is_json() {
            ctx.printer.error(
                "reap failed: a teardown left something behind",
                &[],
                Some("see the failed builds above; goldenpath teardown --env ENV --build-id B retries one"),
            );
        }
        return Err(Reported(Code::Failed).into());
    }
    Ok(())
}
