//! `goldenpath builds list|show`.

use clap::{Args, Subcommand};
use gp_core::BuildId;

use super::when;
use crate::Context;
use crate::exit::CliError;
pub(crate) use crate::outputs::BuildDetail;
use crate::printer::table;

/// `goldenpath builds ...`.
#[derive(Debug, Subcommand)]
pub enum BuildsCommand {
    /// Builds of an environment, newest first, with their status.
    List(ListArgs),
    /// Everything the registry knows about one build.
    Show(ShowArgs),
    /// Move a build's expiry later (recorded with who and why), within the
    /// environment's `maxTtl` from now.
    Extend(ExtendArgs),
    /// Keep a build past its expiry (the reaper leaves it), with a reason;
    /// `--release` lets it expire again.
    Keep(KeepArgs),
    /// Tear down the preview builds of pull requests that are not open
    /// (closed, merged or gone), each through its recorded teardown; a
    /// build a live run holds is left for the next sweep.
    Sweep(SweepArgs),
}

/// Arguments of `builds sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The pull requests that are open, comma-separated (`12,15`; empty:
    /// none is open), e.g. from `gh api --paginate
    /// repos/OWNER/NAME/pulls?state=open --jq '.[].number' | paste -sd, -`.
    #[arg(long, value_name = "NUMBERS", allow_hyphen_values = false)]
    pub open_pull_requests: String,
    /// Say what would be torn down; tear down nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `builds extend`.
#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The build.
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: String,
    /// How much longer: `12h`, `30m`, `2d`.
    #[arg(long, value_name = "DURATION")]
    pub by: String,
    /// Why (recorded with your name).
    #[arg(long)]
    pub reason: String,
}

/// Arguments of `builds keep`.
#[derive(Debug, Args)]
pub struct KeepArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The build.
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: String,
    /// Why (recorded with your name).
    #[arg(long)]
    pub reason: String,
    /// Let it expire again.
    #[arg(long)]
    pub release: bool,
}

/// Arguments of `builds list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Show at most this many (1 or more).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

/// Arguments of `builds show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The build.
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: String,
}

/// Everything the registry knows about one build (`builds show`, and the
/// server's build page); `None` when nothing is recorded.
pub(crate) fn build_detail(
    reg: &gp_registry::Registry,
    env: &str,
    key: &str,
    reservation: Option<gp_registry::Reservation>,
) -> anyhow::Result<Option<BuildDetail>> {
    let events = reg.deployment_events(env, key)?;
    let imported_phases = reg.phases(env, Some(key))?;
    if reservation.is_none() && events.is_empty() && imported_phases.is_empty() {
        return Ok(None);
    }
    let status = reg
        .builds(env)?
        .into_iter()
        .find(|b| b.build_id == key)
        .map(|b| b.status)
        .unwrap_or_else(|| "unknown".into());
    Ok(Some(BuildDetail {
        schema_version: 1,
        env: env.into(),
        build_id: key.into(),
        reservation,
        status,
        events,
        phases: imported_phases,
        journal: reg.journal(env, key)?,
        lease: reg.lease(env, key)?,
        overrides: reg.overrides(env, Some(key))?,
    }))
}

/// Runs `builds ...`.
pub fn run(ctx: &Context, cmd: BuildsCommand) -> anyhow::Result<()> {
    // Reading a registry never creates one.
    ctx.require_registry()?;
    match cmd {
        BuildsCommand::List(a) => list(ctx, a),
        BuildsCommand::Show(a) => show(ctx, a),
        BuildsCommand::Extend(a) => extend(ctx, a),
        BuildsCommand::Keep(a) => keep(ctx, a),
        BuildsCommand::Sweep(a) => sweep(ctx, a),
    }
}

/// The numbers of `--open-pull-requests`.
fn open_numbers(text: &str) -> anyhow::Result<std::collections::BTreeSet<u64>> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                CliError::invalid(format!(
                    "--open-pull-requests: `{t}` is not a pull request number"
                ))
                .hint("give the open pull requests' numbers, comma-separated: 12,15")
                .into()
            })
        })
        .collect()
}

fn sweep(ctx: &Context, a: SweepArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    let open = open_numbers(&a.open_pull_requests)?;
    let drivers = ctx.drivers()?;
    let progress = crate::progress::Progress::new(&ctx.printer, ctx.global.verbose > 0);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let swept = engine.sweep_previews(&a.env, &open, a.dry_run)?;
    let failed = swept.iter().filter(|s| s.action == "failed").count();
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::SweepOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            open_pull_requests: open.into_iter().collect(),
            dry_run: a.dry_run,
            swept,
        })?;
    } else if swept.is_empty() {
        ctx.printer.data(&format!(
            "no preview in {} belongs to a pull request that is not open",
            a.env
        ))?;
    } else {
        let rows: Vec<Vec<String>> = swept
            .iter()
            .map(|s| {
                vec![
                    s.build_id.clone(),
                    format!("#{}", s.pull_request),
                    s.action.clone(),
                    s.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ctx.printer.data(&crate::printer::table(
            &["BUILD", "PULL REQUEST", "ACTION", "DETAIL"],
            &rows,
        ))?;
    }
    if failed > 0 {
        return Err(
            CliError::failed(format!("{failed} preview(s) could not be torn down"))
                .hint("see the failed rows above; the next sweep tries them again")
                .into(),
        );
    }
    Ok(())
}

fn non_empty(reason: &str) -> anyhow::Result<()> {
    if reason.trim().is_empty() {
        return Err(CliError::invalid("--reason is empty").into());
    }
    Ok(())
}

fn extend(ctx: &Context, a: ExtendArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    non_empty(&a.reason)?;
    let by = gp_core::spec::parse_duration(&a.by).ok_or_else(|| {
        CliError::invalid(format!("--by `{}` is not a duration", a.by)).hint("e.g. 12h, 30m, 2d")
    })?;
    let build: BuildId = a.build_id.parse()?;
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    let expires = engine.extend(&a.env, build, by, &a.reason)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::BuildExpiryOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            build_id: build.to_string(),
            expires_us: Some(expires),
            kept: None,
        })?;
    } else {
        ctx.printer.data(&format!(
            "build {build} now expires {} ({})",
            when(expires),
            gp_engine::expiry::time_left(Some(expires), None, gp_registry::now_us())
        ))?;
    }
    Ok(())
}

fn keep(ctx: &Context, a: KeepArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    non_empty(&a.reason)?;
    let build: BuildId = a.build_id.parse()?;
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    engine.keep(&a.env, build, !a.release, &a.reason)?;
    let expiry = ctx.registry()?.expiry(&a.env, &build.to_string())?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::BuildExpiryOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            build_id: build.to_string(),
            expires_us: expiry.expires_us,
            kept: expiry.kept,
        })?;
    } else if a.release {
        ctx.printer.data(&format!(
            "build {build} expires again: {}",
            gp_engine::expiry::time_left(expiry.expires_us, None, gp_registry::now_us())
        ))?;
    } else {
        ctx.printer.data(&format!(
            "build {build} is kept past its expiry: {}",
            a.reason
        ))?;
    }
    Ok(())
}

fn list(ctx: &Context, a: ListArgs) -> anyhow::Result<()> {
    ctx.check_recorded_env(&a.env)?;
    // A build whose rows do not check out is listed as tampered, its
    // state derived from nothing; the command then exits 3.
    let (mut builds, tampered) = ctx
        .registry()?
        .builds_checked_with(&a.env, &gp_engine::lease::is_live)?;
    if let Some(n) = a.limit {
        builds.truncate(n as usize);
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::BuildsOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            builds,
            tampered: tampered.clone(),
        })?;
        return super::refuse_tampered(ctx, &tampered);
    }
    if builds.is_empty() {
        ctx.printer
            .data(&format!("no builds recorded in {}", a.env))?;
        return super::refuse_tampered(ctx, &tampered);
    }
    let now = gp_registry::now_us();
    let rows: Vec<Vec<String>> = builds
        .iter()
        .map(|b| {
            vec![
                b.build_id.clone(),
                b.status.clone(),
                when(b.reserved_us),
                b.reserved_by.clone(),
                when(b.updated_us),
                if b.status == "torn-down" || b.status == gp_registry::TAMPERED {
                    "-".into()
                } else {
                    gp_engine::expiry::time_left(b.expires_us, b.kept.as_deref(), now)
                },
            ]
        })
        .collect();
    ctx.printer.data(&table(
        &["BUILD", "STATUS", "RESERVED", "BY", "UPDATED", "EXPIRES"],
        &rows,
    ))?;
    super::refuse_tampered(ctx, &tampered)
}

fn show(ctx: &Context, a: ShowArgs) -> anyhow::Result<()> {
    ctx.check_recorded_env(&a.env)?;
    let reg = ctx.registry()?;
    // A build id, or the id an imported history wrote (a legacy id, free
    // text): shown from its phases.
    let (key, reservation) = match a.build_id.parse::<BuildId>() {
        Ok(build) => (build.to_string(), reg.reservation(&a.env, build)?),
        Err(e) => {
            let imported = reg
                .builds(&a.env)?
                .into_iter()
                .any(|b| b.imported && b.build_id == a.build_id);
            if !imported {
                return Err(e.into());
            }
            (a.build_id.clone(), None)
        }
    };
    let Some(detail) = build_detail(reg, &a.env, &key, reservation)? else {
        return Err(
            CliError::invalid(format!("no build {key} is recorded in {}", a.env))
                .hint(format!(
                    "list the builds with: goldenpath builds list --env {}",
                    a.env
                ))
                .into(),
        );
    };
    if ctx.printer.is_json() {
        ctx.printer.json(&detail)?;
        return Ok(());
    }
    let mut out = format!("build {key} in {}: {}\n", a.env, detail.status);
    if let Some(r) = &detail.reservation {
        out.push_str(&format!(
            "reserved {} by {} (generation {}{})\n",
            when(r.at_us),
            r.actor,
            r.generation,
            r.reason
                .as_ref()
                .map(|x| format!(", override: {x}"))
                .unwrap_or_default()
        ));
    }
    if !detail.events.is_empty() {
        out.push_str("\nEVENTS\n");
        let rows: Vec<Vec<String>> = detail
            .events
            .iter()
            .map(|e| vec![when(e.at_us), e.event.clone(), e.actor.clone()])
            .collect();
        out.push_str(&table(&["AT", "EVENT", "BY"], &rows));
    }
    if !detail.phases.is_empty() {
        out.push_str("\nPHASES\n");
        let rows: Vec<Vec<String>> = detail
            .phases
            .iter()
            .map(|p| {
                vec![
                    p.phase.clone(),
                    when(p.started_us),
                    p.duration_ms()
                        .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                        .unwrap_or_default(),
                    p.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                    // An imported row is marked: it is history, not a run
                    // goldenpath made.
                    format!(
                        "{}{}",
                        p.result().as_str(),
                        if p.imported.is_some() {
                            " (imported)"
                        } else {
                            ""
                        }
                    ),
                    format!(
                        "+{} ~{} -{}",
                        p.added.unwrap_or(0),
                        p.changed.unwrap_or(0),
                        p.destroyed.unwrap_or(0)
                    ),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "PHASE",
                "STARTED",
                "DURATION",
                "EXIT",
                "RESULT",
                "RESOURCES",
            ],
            &rows,
        ));
    }
    if !detail.journal.is_empty() {
        out.push_str(&format!("\nJOURNAL: {} entries\n", detail.journal.len()));
        let rows: Vec<Vec<String>> = detail
            .journal
            .iter()
            .map(|j| {
                vec![
                    j.seq.to_string(),
                    format!("{:?}", j.entry.stage).to_lowercase(),
                    j.entry.component.clone(),
                    j.entry.action.clone(),
                    j.entry.resource.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["SEQ", "STAGE", "COMPONENT", "ACTION", "RESOURCE"],
            &rows,
        ));
    }
    if let Some(l) = &detail.lease {
        out.push_str(&format!(
            "\nLEASE {} held by {}: {}{}\n",
            l.lease_id,
            l.holder,
            l.state.replace('_', "-"),
            match (&l.ended_by, &l.reason) {
                (Some(by), Some(why)) => format!(" by {by}: {why}"),
                _ => String::new(),
            }
        ));
    }
    if !detail.overrides.is_empty() {
        out.push_str("\nOVERRIDES\n");
        let rows: Vec<Vec<String>> = detail
            .overrides
            .iter()
            .map(|o| {
                vec![
                    when(o.at_us),
                    o.kind.clone(),
                    o.actor.clone(),
                    o.reason.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["AT", "KIND", "BY", "REASON"], &rows));
    }
    ctx.printer.data(&out)?;
    Ok(())
}
