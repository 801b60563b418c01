//! `goldenpath docs check|baseline|init|index|fix|rules`: docs-as-code governance of a
//! repository's Markdown, front matter and ADRs (see the gp-docs crate).
//!
//! These commands need no platform spec: they read the repository at
//! `--root` (default: the current directory) and its
//! `goldenpath-docs.yaml`.

use std::path::{Path, PathBuf};

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
    /// Record today's findings in the baseline file (default:
    /// goldenpath-docs-baseline.json at the root), so `docs check` fails
    /// only on new ones; run it again to drop the entries that are gone.
    Baseline(BaselineArgs),
    /// Write goldenpath-docs.yaml from what the repository has (schemas,
    /// enums, ADR and changelog folders, the emoji in use, watched paths),
    /// printing what it chose.
    Init(InitArgs),
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
    /// Schema keywords goldenpath does not check are errors, not warnings.
    #[arg(long)]
    pub strict: bool,
    /// Accept the findings recorded in this baseline (default: `baseline`
    /// in goldenpath-docs.yaml, else goldenpath-docs-baseline.json at the
    /// root when it exists).
    #[arg(long, value_name = "FILE", conflicts_with = "no_baseline")]
    pub baseline: Option<PathBuf>,
    /// Report every finding, whatever a baseline accepts.
    #[arg(long)]
    pub no_baseline: bool,
}

/// Arguments of `docs baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    root: RootArgs,
    /// Where to write it (default: as `docs check` looks for it).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Schema keywords goldenpath does not check count as errors.
    #[arg(long)]
    pub strict: bool,
}

/// Arguments of `docs init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Replace an existing goldenpath-docs.yaml.
    #[arg(long)]
    pub force: bool,
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
        DocsCommand::Baseline(a) => baseline(ctx, a),
        DocsCommand::Init(a) => {
            let out = gp_docs::init::init(&a.root, a.force).map_err(docs_error)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&out)?;
            } else {
                let rows: Vec<Vec<String>> = out
                    .choices
                    .iter()
                    .map(|c| vec![c.key.clone(), c.value.clone(), c.why.clone()])
                    .collect();
                ctx.printer.data(&format!(
                    "{}\nwrote {}: next, goldenpath docs baseline records today's findings",
                    table(&["KEY", "CHOSEN", "WHY"], &rows),
                    out.file
                ))?;
            }
            Ok(())
        }
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

/// The baseline file: `flag`, else the configuration's, else the default
/// name at the root (only when `must_exist` is false or it exists).
fn baseline_path(
    root: &Path,
    config: &Config,
    flag: Option<&Path>,
    must_exist: bool,
) -> Option<PathBuf> {
    if let Some(f) = flag {
        return Some(f.to_path_buf());
    }
    if let Some(c) = &config.baseline {
        return Some(root.join(c));
    }
    let p = root.join(gp_docs::baseline::FILE);
    (!must_exist || p.is_file()).then_some(p)
}

fn shown(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn baseline(ctx: &Context, a: BaselineArgs) -> anyhow::Result<()> {
    let config = load(&a.root)?;
    let root = &a.root.root;
    let report = gp_docs::check(
        root,
        &config,
        &Options {
            diff: None,
            strict: a.strict,
            baseline: None,
        },
    )
    .map_err(docs_error)?;
    let b = gp_docs::baseline::Baseline::of(&report.findings);
    let path = baseline_path(root, &config, a.baseline.as_deref(), false)
        .unwrap_or_else(|| root.join(gp_docs::baseline::FILE));
    let tmp = path.with_extension("goldenpath-tmp");
    std::fs::write(&tmp, b.to_text())
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            crate::exit::CliError::invalid(format!("cannot write {}: {e}", path.display()))
        })?;
    let out = crate::outputs::DocsBaselineOutput {
        schema_version: crate::outputs::SCHEMA_VERSION,
        file: shown(root, &path),
        entries: b.entries.len(),
        findings: report.findings.len(),
    };
    if ctx.printer.is_json() {
        ctx.printer.json(&out)?;
    } else {
        ctx.printer.data(&format!(
            "wrote {}: {} entries accepting {} finding(s); commit it, and run this again as findings are fixed",
            out.file, out.entries, out.findings
        ))?;
    }
    Ok(())
}

fn check(ctx: &Context, a: CheckArgs) -> anyhow::Result<()> {
    let config = load(&a.root)?;
    let root = &a.root.root;
    let baseline = if a.no_baseline {
        None
    } else {
        match baseline_path(root, &config, a.baseline.as_deref(), true) {
            Some(p) => {
                let s = shown(root, &p);
                Some((
                    gp_docs::baseline::Baseline::load(&p, Path::new(&s)).map_err(docs_error)?,
                    s,
                ))
            }
            None => None,
        }
    };
    let report = gp_docs::check(
        root,
        &config,
        &Options {
            diff: a.diff.clone(),
            strict: a.strict,
            baseline,
        },
    )
    .map_err(docs_error)?;
    match ctx.printer.output() {
        Output::Sarif => ctx.printer.json(&gp_docs::sarif(&report))?,
        Output::Json => ctx.printer.json(&report)?,
        Output::Github => {
            let mut out = gp_docs::github(&report);
            out.push_str(&summary_line(&report));
            ctx.printer.data(&out)?;
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(gp_docs::summary_markdown(&report).as_bytes()))
                    .map_err(|e| {
                        crate::exit::CliError::invalid(format!(
                            "cannot write the step summary to {}: {e}",
                            Path::new(&path).display()
                        ))
                    })?;
            }
        }
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
            if !report.gone.is_empty() {
                out.push_str(&format!(
                    "no longer found ({} baseline entr{}; goldenpath docs baseline drops them):\n",
                    report.gone.len(),
                    if report.gone.len() == 1 { "y" } else { "ies" }
                ));
                for g in &report.gone {
                    let times = if g.count > 1 {
                        format!(" (x{})", g.count)
                    } else {
                        String::new()
                    };
                    out.push_str(&format!("  {} {} {}{times}\n", g.file, g.rule, g.message));
                }
                out.push('\n');
            }
            out.push_str(&summary_line(&report));
            ctx.printer.data(&out)?;
        }
    }
    if report.errors() > 0 {
        return Err(Reported(Code::Failed).into());
    }
    Ok(())
}

fn summary_line(report: &gp_docs::Report) -> String {
    let mut s = format!(
        "{} document(s), {} folder metadata file(s): {} error(s), {} warning(s)",
        report.documents,
        report.metadata_files,
        report.errors(),
        report.warnings()
    );
    if let Some(b) = &report.baseline {
        s.push_str(&format!(
            "; {} accepted by {b}, {} of its entries no longer found",
            report.baselined,
            report.gone.len()
        ));
    }
    s
}
