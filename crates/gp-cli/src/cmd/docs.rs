//! `goldenpath docs check|index|fix|rules`: docs-as-code governance of a
//! repository's Markdown, front matter and ADRs (see the gp-docs crate).
//!
//! These commands need no platform spec: they read the repository at
//! `--root` (default: the current directory) and its
//! `goldenpath-docs.yaml`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gp_docs::{Config, Level, Options};

use crate::Context;
use crate::exit::{Code, Reported};
use crate::printer::{Output, table};

/// `goldenpath docs ...`.
#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Check every Markdown file and folder metadata.yaml; never writes.
    /// Exit 0 clean, 1 findings at error level, 2 unusable input.
    Check(CheckArgs),
    /// Regenerate the ADR index table (--check: exit 1 when stale, write nothing).
    Index(IndexArgs),
    /// Apply the safe fixes (emoji removal, the ADR index); lists each file changed.
    Fix(RootArgs),
    /// List the rules and their ids.
    Rules,
}

/// Where the repository is.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// The repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The docs configuration (default: goldenpath-docs.yaml at the root).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Arguments of `docs check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    root: RootArgs,
    /// Also apply the session-log gate to this git range (BASE..HEAD).
    #[arg(long, value_name = "BASE..HEAD")]
    pub diff: Option<String>,
}

/// Arguments of `docs index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    root: RootArgs,
    /// Only compare: exit 1 when the index is stale, write nothing.
    #[arg(long)]
    pub check: bool,
}

fn load(a: &RootArgs) -> anyhow::Result<Config> {
    let (config, _) = Config::load(&a.root, a.config.as_deref())?;
    Ok(config)
}

/// Runs `docs ...`.
pub fn run(ctx: &Context, cmd: DocsCommand) -> anyhow::Result<()> {
    match cmd {
        DocsCommand::Check(a) => check(ctx, a),
        DocsCommand::Index(a) => {
            let config = load(&a.root)?;
            let out = gp_docs::index(&a.root.root, &config, !a.check).map_err(docs_error)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&out)?;
            } else if a.check && out.stale {
                ctx.printer.data(&format!(
                    "{} is stale ({} ADRs): run goldenpath docs index",
                    out.file, out.adrs
                ))?;
            } else if out.written {
                ctx.printer
                    .data(&format!("wrote {} ({} ADRs)", out.file, out.adrs))?;
            } else {
                ctx.printer
                    .data(&format!("{} is up to date ({} ADRs)", out.file, out.adrs))?;
            }
            if a.check && out.stale {
                return Err(Reported(Code::Failed).into());
            }
            Ok(())
        }
        DocsCommand::Fix(a) => {
            let config = load(&a)?;
            let fixed = gp_docs::fix(&a.root, &config).map_err(docs_error)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::DocsFixOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    changed: fixed.clone(),
                })?;
            } else if fixed.is_empty() {
                ctx.printer.data("nothing to fix")?;
            } else {
                let rows: Vec<Vec<String>> = fixed
                    .iter()
                    .map(|f| vec![f.file.clone(), f.what.clone()])
                    .collect();
                ctx.printer.data(&table(&["FILE", "CHANGE"], &rows))?;
            }
            Ok(())
        }
        DocsCommand::Rules => {
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::DocsRulesOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    rules: gp_docs::rules::ALL
                        .iter()
                        .map(|r| crate::outputs::DocsRule {
                            id: r.id.to_string(),
                            summary: r.summary.to_string(),
                        })
                        .collect(),
                })?;
            } else {
                let rows: Vec<Vec<String>> = gp_docs::rules::ALL
                    .iter()
                    .map(|r| vec![r.id.to_string(), r.summary.to_string()])
                    .collect();
                ctx.printer.data(&table(&["RULE", "CHECKS"], &rows))?;
            }
            Ok(())
        }
    }
}

fn docs_error(e: gp_docs::DocsError) -> anyhow::Error {
    match e {
        gp_docs::DocsError::Invalid(i) => i.into(),
        gp_docs::DocsError::Usage(m) => crate::exit::CliError::invalid(m).into(),
    }
}

fn check(ctx: &Context, a: CheckArgs) -> anyhow::Result<()> {
    let config = load(&a.root)?;
    let report = gp_docs::check(
        &a.root.root,
        &config,
        &Options {
            diff: a.diff.clone(),
        },
    )
    .map_err(docs_error)?;
    match ctx.printer.output() {
        Output::Sarif => ctx.printer.json(&gp_docs::sarif(&report))?,
        Output::Json => ctx.printer.json(&report)?,
        Output::Text => {
            let mut out = String::new();
            let mut current = "";
            for f in &report.findings {
                if f.file != current {
                    if !current.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(&f.file);
                    out.push('\n');
                    current = &f.file;
                }
                let level = match f.level {
                    Level::Error => "error",
                    _ => "warning",
                };
                let at = if f.line == 0 {
                    f.file.clone()
                } else {
                    format!("{}:{}:{}", f.file, f.line, f.column)
                };
                out.push_str(&format!("  {at} {level} {} {}\n", f.rule, f.message));
            }
            if !report.findings.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!(
                "{} document(s), {} folder metadata file(s): {} error(s), {} warning(s)",
                report.documents,
                report.metadata_files,
                report.errors(),
                report.warnings()
            ));
            ctx.printer.data(&out)?;
        }
    }
    if report.errors() > 0 {
        return Err(Reported(Code::Failed).into());
    }
    Ok(())
}
