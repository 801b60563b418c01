//! `goldenpath registry export|import|report|verify`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use crate::Context;
use crate::exit::{CliError, Code, Reported};
use crate::printer::table;

/// `goldenpath registry ...`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Write every finished phase as build_timings.csv (12 columns) or JSON.
    Export(ExportArgs),
    /// Read build_timings.csv files (12-, 11- or 9-column layouts).
    Import(ImportArgs),
    /// Per phase: runs, success rate, p50/p95 of successful durations.
    Report(ReportArgs),
    /// Check every row against the chain and the head file, and the
    /// ledger's own invariants; exit 1 on any breach.
    Verify,
    /// Apply the registry's schema migrations (run once as the owner role
    /// of a shared PostgreSQL registry; other roles never migrate).
    Migrate,
    /// Grant a runner role what goldenpath needs on a shared PostgreSQL
    /// registry: SELECT and INSERT, nothing else (run as the owner).
    GrantRunner(GrantArgs),
}

/// Arguments of `registry grant-runner`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The runner role.
    pub role: String,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// build_timings.csv, 12 columns.
    Csv,
    /// A JSON array of phases.
    Json,
}

/// Arguments of `registry export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// File format [default: csv, or json with --output json].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Write to this file instead of stdout (written whole or not at all).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Arguments of `registry import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `registry report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Only phases that started on or after this date or time (UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Count imported history in the percentiles too (it always counts in
    /// the runs and the success rate).
    #[arg(long)]
    pub include_imported: bool,
}

/// Runs `registry ...`.
pub fn run(ctx: &Context, cmd: RegistryCommand) -> anyhow::Result<()> {
    match cmd {
        // Reading a registry never creates one: none there is exit 2,
        // naming where it was looked for.
        RegistryCommand::Export(a) => ctx.require_registry().and_then(|()| export(ctx, a)),
        RegistryCommand::Import(a) => import(ctx, a),
        RegistryCommand::Report(a) => ctx.require_registry().and_then(|()| report(ctx, a)),
        RegistryCommand::Verify => ctx.require_registry().and_then(|()| verify(ctx)),
        RegistryCommand::Migrate => {
            let reg = ctx.registry()?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::MigrateOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    registry: reg.location().describe(),
                    current: true,
                })?;
            }
            ctx.printer.status(&format!(
                "registry {} is at the schema this goldenpath needs",
                reg.location().describe()
            ));
            Ok(())
        }
        RegistryCommand::GrantRunner(a) => {
            ctx.registry()?.grant_runner(&a.role)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::GrantOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    role: a.role.clone(),
                })?;
            }
            ctx.printer.status(&format!(
                "granted SELECT and INSERT on the ledger's tables to {}",
                a.role
            ));
            Ok(())
        }
    }
}

fn export(ctx: &Context, a: ExportArgs) -> anyhow::Result<()> {
    if let Some(env) = &a.env {
        ctx.check_recorded_env(env)?;
    }
    let reg = ctx.registry()?;
    let mut buf = Vec::new();
    // `--format` wins; without it `--output json` means JSON.
    let format = a.format.unwrap_or(if ctx.printer.is_json() {
        Format::Json
    } else {
        Format::Csv
    });
    match format {
        Format::Csv => {
            gp_registry::export_csv(reg, a.env.as_deref(), &mut buf)?;
        }
        Format::Json => {
            let phases = match &a.env {
                Some(e) => reg.phases(e, None)?,
                None => reg.all_phases()?,
            };
            buf = serde_json::to_vec_pretty(&crate::outputs::ExportOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                phases,
            })?;
            buf.push(b'\n');
        }
    }
    match a.out {
        None => ctx.printer.data(&String::from_utf8_lossy(&buf))?,
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write into {}", dir.display()))?;
            std::io::Write::write_all(&mut tmp, &buf)?;
            tmp.persist(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            ctx.printer.status(&format!("wrote {}", path.display()));
        }
    }
    Ok(())
}

fn import(ctx: &Context, a: ImportArgs) -> anyhow::Result<()> {
    // A history row whose build_id names a foundational component of the
    // spec belongs to the foundational plane.
    let components: Vec<String> = ctx
        .platform()
        .map(|p| {
            p.spec
                .components
                .iter()
                .filter(|c| c.plane.value == gp_core::Plane::Foundational)
                .map(|c| c.name.value.clone())
                .collect()
        })
        .unwrap_or_default();
    // A phase cell holding one of the spec's environments is a row read
    // shifted.
    let envs: Vec<String> = ctx
        .platform()
        .map(|p| p.environment_names().map(str::to_string).collect())
        .unwrap_or_default();
    let reg = ctx.registry()?;
    let mut any_problem = false;
    let mut reports = Vec::new();
    for file in &a.files {
        let mut f = std::fs::File::open(file)
            .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", file.display())))?;
        let name = file.display().to_string();
        let report = gp_registry::import_csv(
            reg,
            &mut f,
            &gp_registry::ImportOptions {
                source: &name,
                components: &components,
                envs: &envs,
            },
        )?;
        any_problem |= !report.problems.is_empty();
        if !ctx.printer.is_json() {
            for n in &report.notes {
                ctx.printer
                    .warn(&format!("{}:{}: {}", file.display(), n.line, n.reason));
            }
            for p in &report.problems {
                ctx.printer.error(
                    &format!(
                        "{}:{}: row not imported: {} (cells: {})",
                        file.display(),
                        p.line,
                        p.reason,
                        p.cells.join(",")
                    ),
                    &[],
                    None,
                );
            }
            ctx.printer.data(&format!(
                "{}: {} rows, {} imported, {} already present, {} not readable",
                file.display(),
                report.rows,
                report.imported,
                report.duplicates,
                report.problems.len()
            ))?;
        }
        reports.push(crate::outputs::FileImport {
            file: file.display().to_string(),
            report,
        });
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::ImportOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            files: reports,
        })?;
    }
    if any_problem {
        // The readable rows are in; the unreadable ones are listed above.
        return Err(Reported(Code::Invalid).into());
    }
    Ok(())
}

fn report(ctx: &Context, a: ReportArgs) -> anyhow::Result<()> {
    let since = match &a.since {
        None => None,
        Some(s) => Some(gp_registry::parse_utc(s).ok_or_else(|| {
            CliError::invalid(format!("--since `{s}` is not a date or time"))
                .hint("use e.g. 2026-01-01 or 2026-01-01T12:00:00Z")
        })?),
    };
    if let Some(env) = &a.env {
        ctx.check_recorded_env(env)?;
    }
    let stats = gp_registry::report(ctx.registry()?, a.env.as_deref(), since, a.include_imported)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::ReportOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            phases: stats,
        })?;
        return Ok(());
    }
    if stats.is_empty() {
        ctx.printer.data("no finished phases recorded")?;
        return Ok(());
    }
    let secs = |v: Option<f64>| v.map(|s| format!("{s:.1}s")).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = stats
        .iter()
        .map(|s| {
            vec![
                s.phase.clone(),
                s.kind.clone(),
                s.count.to_string(),
                s.succeeded.to_string(),
                s.failed.to_string(),
                s.aborted.to_string(),
                s.unknown.to_string(),
                s.success_rate
                    .map(|v| format!("{:.1}%", v * 100.0))
                    .unwrap_or_else(|| "-".into()),
                secs(s.p50_seconds),
                secs(s.p95_seconds),
            ]
        })
        .collect();
    ctx.printer.data(&table(
        &[
            "PHASE", "KIND", "RUNS", "OK", "FAILED", "ABORTED", "UNKNOWN", "SUCCESS", "P50 (OK)",
            "P95 (OK)",
        ],
        &rows,
    ))?;
    let unknown: u64 = stats.iter().map(|s| s.unknown).sum();
    if unknown > 0 {
        ctx.printer.data(&format!(
            "{unknown} runs have no result recorded (no exit code): counted in RUNS, not in SUCCESS"
        ))?;
    }
    let left_out: u64 = stats
        .iter()
        .map(|s| s.succeeded.saturating_sub(s.percentile_runs))
        .sum();
    if left_out > 0 {
        ctx.printer.data(&format!(
            "P50 and P95 leave out {left_out} successful runs imported from history; --include-imported counts them"
        ))?;
    }
    Ok(())
}

fn verify(ctx: &Context) -> anyhow::Result<()> {
    let breaches = ctx.registry()?.verify()?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::VerifyOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            ok: breaches.is_empty(),
            breaches: breaches.clone(),
        })?;
    } else if breaches.is_empty() {
        ctx.printer.data("registry ok: every row checks out against its chain and the head file, journals without gaps, every finished phase has a start, leases consistent")?;
    } else {
        for b in &breaches {
            ctx.printer
                .error(&format!("{}: {}", b.check, b.detail), &[], None);
        }
    }
    if breaches.is_empty() {
        Ok(())
    } else {
        Err(Reported(Code::Failed).into())
    }
}
