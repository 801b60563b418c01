//! `goldenpath catalog`: the Backstage catalog computed from goldenpath.

use std::path::PathBuf;

use clap::Args;

use crate::Context;
use crate::exit::CliError;

/// Arguments of `goldenpath catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Only this environment (repeatable); default every one.
    #[arg(long)]
    pub env: Vec<String>,
    /// Write one file per entity into DIR and `catalog-info.yaml`, a
    /// Location listing them, for a Backstage `file` or `url` location;
    /// files of entities that are gone (a torn-down build's) are removed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The files `--out` wrote last time, so the next run removes those of
/// entities that are gone and nothing else.
const MANIFEST: &str = ".goldenpath-catalog";

/// Runs `catalog`.
pub fn run(ctx: &Context, a: CatalogArgs) -> anyhow::Result<()> {
    for e in &a.env {
        ctx.check_env(e)?;
    }
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    let entities = engine.catalog(&a.env)?;
    let yaml = |v: &serde_json::Value| {
        gp_driver_gitops::render::yaml(v).map_err(|e| CliError::failed(e.message))
    };
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::invalid(format!("cannot create {}: {e}", dir.display())))?;
        let mut written: Vec<String> = Vec::new();
        for e in &entities {
            let file = format!(
                "{}-{}.yaml",
                e["kind"].as_str().unwrap_or_default().to_lowercase(),
                e["metadata"]["name"].as_str().unwrap_or_default()
            );
            std::fs::write(dir.join(&file), yaml(e)?)
                .map_err(|err| CliError::failed(format!("cannot write {file}: {err}")))?;
            written.push(file);
        }
        let project = &ctx.platform()?.spec.project.value;
        let location = serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Location",
            "metadata": {
                "name": format!("goldenpath-{project}"),
                "description": "every entity goldenpath knows exists (goldenpath catalog --out)",
            },
            "spec": {"targets": written.iter().map(|f| format!("./{f}")).collect::<Vec<_>>()},
        });
        std::fs::write(dir.join("catalog-info.yaml"), yaml(&location)?)
            .map_err(|err| CliError::failed(format!("cannot write catalog-info.yaml: {err}")))?;
        // What the last run wrote and this one did not: entities gone.
        let before = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
        let mut removed = 0;
        for old in before.lines().filter(|l| !l.is_empty()) {
            let plain = !old.contains('/') && old.ends_with(".yaml") && !old.starts_with('.');
            if plain && !written.iter().any(|w| w == old) && dir.join(old).is_file() {
                std::fs::remove_file(dir.join(old))
                    .map_err(|err| CliError::failed(format!("cannot remove {old}: {err}")))?;
                removed += 1;
            }
        }
        std::fs::write(dir.join(MANIFEST), written.join("\n") + "\n")
            .map_err(|err| CliError::failed(format!("cannot write {MANIFEST}: {err}")))?;
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::CatalogOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                entities,
            })?;
        } else {
            ctx.printer.data(&format!(
                "{} entities written to {} (catalog-info.yaml lists them); {removed} removed",
                written.len(),
                dir.display()
            ))?;
        }
        return Ok(());
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::CatalogOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            entities,
        })?;
        return Ok(());
    }
    let mut out = String::new();
    for e in &entities {
        out.push_str("---\n");
        out.push_str(&yaml(e)?);
    }
    ctx.printer.data(out.trim_end())?;
    Ok(())
}
