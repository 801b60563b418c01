//! `goldenpath drift`: what changed outside goldenpath, per component of a
//! deployment (see `gp_engine::drift`). Exit 0 when nothing drifted, 4 when
//! something did, 1 when a check failed.

use std::sync::atomic::AtomicBool;

use clap::Args;
use gp_core::{BuildId, Deployment};
use gp_engine::drift::{DriftReport, DriftStatus};

use crate::context::Context;
use crate::exit::{CliError, Code, Reported};
use crate::printer::table;

/// Arguments of `goldenpath drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// A build (DD-MM-YY-NN); without it (or --foundational), the
    /// persistent deployment.
    #[arg(long, value_name = "BUILD_ID", conflicts_with_all = ["foundational", "persistent"])]
    pub build_id: Option<String>,
    /// The persistent deployment (the default).
    #[arg(long, conflicts_with = "foundational")]
    pub persistent: bool,
    /// The foundational plane: the named components, or all of them and
    /// what the environment's applied requests made (a `request ID` row
    /// each; `request apply ID` puts one back).
    #[arg(long, num_args = 0.., value_name = "NAME")]
    pub foundational: Option<Vec<String>>,
    /// Instead of checking: approve putting back the drift the latest
    /// check found in these foundational components (a platform approver,
    /// not who will deploy it); needs --foundational and --reason.
    #[arg(long, num_args = 1.., value_name = "NAME", requires_all = ["foundational", "reason"])]
    pub approve: Vec<String>,
    /// Why the drift may be put back (recorded with your name).
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
}

/// Runs `drift`.
pub fn run(ctx: &Context, a: DriftArgs) -> anyhow::Result<()> {
    let (d, targets) = match (&a.foundational, a.build_id.as_deref()) {
        (Some(t), _) => (Deployment::Foundational, t.clone()),
        (None, None) => (Deployment::Persistent, Vec::new()),
        (None, Some("auto")) => {
            return Err(CliError::invalid("`auto` only makes sense for `deploy`")
                .hint("name the build, e.g. --build-id 23-01-26-01")
                .into());
        }
        (None, Some(b)) => (Deployment::Ephemeral(b.parse::<BuildId>()?), Vec::new()),
    };
    let drivers = ctx.drivers()?;
    let cancel = AtomicBool::new(false);
    let progress = crate::progress::Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    if !a.approve.is_empty() {
        engine.approve_drift(&a.env, &a.approve, a.reason.as_deref().unwrap_or_default())?;
        let what = format!(
            "approved putting back the drift of {} in {}'s foundational plane: goldenpath deploy --env {} --foundational --remediate-drift",
            a.approve.join(", "),
            a.env,
            a.env
        );
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::DriftOutput::Approved(
                crate::outputs::DriftApproved {
                    schema_version: 1,
                    env: a.env.clone(),
                    approved: a.approve.clone(),
                },
            ))?;
        } else {
            ctx.printer.data(&what)?;
        }
        return Ok(());
    }
    // The whole foundational plane's check also checks what applied
    // requests made: bucket, secret and repository requests in the cloud
    // they were applied in (none reachable: those rows say so).
    let cloud = if d == Deployment::Foundational && targets.is_empty() {
        crate::cmd::request::cloud(ctx, gp_core::request::RequestKind::Bucket)
            .ok()
            .flatten()
    } else {
        None
    };
    let r = engine.drift_with(&a.env, d, &targets, cloud.as_deref())?;
    if ctx.printer.is_json() {
        ctx.printer
            .json(&crate::outputs::DriftOutput::Report(r.clone()))?;
    } else {
        ctx.printer.data(&text(&r, &a))?;
    }
    if ctx.printer.output() == crate::printer::Output::Github {
        crate::github::append_summary(&markdown(&r))
            .map_err(|e| CliError::failed(format!("cannot write for GitHub Actions: {e}")))?;
    }
    if r.failed > 0 {
        return Err(Reported(Code::Failed).into());
    }
    if r.drifted > 0 {
        return Err(Reported(Code::Drifted).into());
    }
    Ok(())
}

fn status_word(s: DriftStatus) -> &'static str {
    match s {
        DriftStatus::InSync => "in-sync",
        DriftStatus::Drifted => "drifted",
        DriftStatus::NotDeployed => "not-deployed",
        DriftStatus::Unchecked => "unchecked",
        DriftStatus::Failed => "failed",
    }
}

fn what(c: &gp_engine::drift::ComponentDrift) -> String {
    let mut parts: Vec<String> = c.differences.clone();
    if let Some(r) = &c.reason {
        parts.push(r.clone());
    }
    if !c.ignored.is_empty() {
        parts.push(format!("{} ignored (drift.ignore)", c.ignored.len()));
    }
    parts.join("; ")
}

/// The text report: a row per component and what to do about it.
pub fn text(r: &DriftReport, a: &DriftArgs) -> String {
    let rows: Vec<Vec<String>> = r
        .components
        .iter()
        .map(|c| vec![c.component.clone(), status_word(c.status).into(), what(c)])
        .collect();
    let mut out = format!(
        "drift of {} {}\n{}",
        r.env,
        r.deployment,
        table(&["COMPONENT", "STATUS", "WHAT DIFFERS"], &rows)
    );
    let selector = match (&a.foundational, &a.build_id) {
        (Some(_), _) => " --foundational".to_string(),
        (None, Some(b)) => format!(" --build-id {b}"),
        (None, None) => String::new(),
    };
    out.push_str(&format!(
        "\n{} drifted, {} differences ignored, {} failed to check",
        r.drifted, r.ignored, r.failed
    ));
    if r.drifted > 0 {
        out.push_str(&format!(
            "\nput it back: goldenpath deploy --env {}{selector}",
            r.env
        ));
    }
    out
}

/// The job summary: a table per component.
pub fn markdown(r: &DriftReport) -> String {
    use crate::github::{cell, md_table};
    let rows: Vec<Vec<String>> = r
        .components
        .iter()
        .map(|c| vec![c.component.clone(), status_word(c.status).into(), what(c)])
        .collect();
    format!(
        "### goldenpath drift: {} in {}\n\n{}\n{} drifted, {} ignored, {} failed to check\n",
        cell(&r.deployment),
        cell(&r.env),
        md_table(&["component", "status", "what differs"], &rows),
        r.drifted,
        r.ignored,
        r.failed
    )
}
