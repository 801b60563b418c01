//! `goldenpath init`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::Context;
use crate::examples::{self, Example};
use crate::exit::CliError;

/// Arguments of `goldenpath init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Which example to write.
    #[arg(long, default_value = "local", value_parser = examples::names())]
    pub example: String,
    /// The directory to write into (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// Writes an example platform. Either every file is written or none is.
pub fn run(ctx: &Context, args: InitArgs) -> anyhow::Result<()> {
    let example: &Example = examples::find(&args.example)
        .ok_or_else(|| CliError::invalid(format!("no example called `{}`", args.example)))?;
    if !args.force {
        let existing: Vec<String> = example
            .files
            .iter()
            .map(|(path, _)| args.dir.join(path))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(CliError::invalid(format!(
                "refusing to overwrite {}",
                existing.join(", ")
            ))
            .hint("pass --force to overwrite, or choose another directory")
            .into());
        }
    }
    // Stage everything in a sibling temporary directory first, so a failure
    // half-way leaves nothing behind.
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".goldenpath-init-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("cannot write into {}", args.dir.display()))?;
    for (path, content) in example.files {
        let target = staging.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content).with_context(|| format!("cannot write {path}"))?;
    }
    for (path, _) in example.files {
        let target = args.dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(staging.path().join(path), &target)
            .with_context(|| format!("cannot move {path} into place"))?;
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::InitOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            example: example.name.into(),
            dir: args.dir.display().to_string(),
            files: example.files.iter().map(|(p, _)| p.to_string()).collect(),
        })?;
        return Ok(());
    }
    for (path, _) in example.files {
        ctx.printer
            .status(&format!("wrote {}", args.dir.join(path).display()));
    }
    // goldenpath finds goldenpath.yaml from the directory (or below it).
    let next = if args.dir == std::path::Path::new(".") {
        "next: goldenpath validate".to_string()
    } else {
        format!(
            "next: cd {} && goldenpath validate",
            crate::cmd::shown(&args.dir)
        )
    };
    ctx.printer.status(&next);
    Ok(())
}
