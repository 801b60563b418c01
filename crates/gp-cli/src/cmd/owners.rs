//! `goldenpath owners --env E`: who owns every name of an environment — the
//! ownership index every claim is checked against.

use clap::Args;

use crate::Context;
use crate::printer::table;

/// Arguments of `owners`.
#[derive(Debug, Args)]
pub struct OwnersArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
}

/// Build ids the JSON output instantiates per-build names with.
const EXAMPLE_BUILDS: [&str; 3] = ["23-01-26-01", "29-02-24-17", "31-12-99-99"];

/// Runs `owners`.
pub fn run(ctx: &Context, a: OwnersArgs) -> anyhow::Result<()> {
    ctx.check_env(&a.env)?;
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    let index = engine.ownership_index(&a.env)?;
    let builds: Vec<gp_core::BuildId> = EXAMPLE_BUILDS
        .iter()
        .filter_map(|b| b.parse().ok())
        .collect();
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::OwnersOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            env: a.env.clone(),
            held: index
                .held
                .iter()
                .map(|h| crate::outputs::OwnedRow {
                    examples: h.shape.examples(&builds),
                    held: h.clone(),
                })
                .collect(),
        })?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = index
        .held
        .iter()
        .map(|h| {
            vec![
                h.kind.noun().to_string(),
                shape_words(&h.shape),
                h.owner.to_string(),
                h.what.clone(),
            ]
        })
        .collect();
    ctx.printer
        .data(&table(&["KIND", "NAME", "OWNER", "WHAT"], &rows))?;
    Ok(())
}

/// A shape in words: the name, `prefix…`, or `before{BUILD}after`.
fn shape_words(s: &gp_core::ownership::Shape) -> String {
    use gp_core::ownership::{BuildForm, Shape};
    match s {
        Shape::Exact(n) => n.clone(),
        Shape::Under(p) => format!("{p}…"),
        Shape::PerBuild {
            before,
            form,
            after,
            under,
        } => format!(
            "{before}{}{after}{}",
            match form {
                BuildForm::Dashed => "{DD-MM-YY-NN}",
                BuildForm::Compact => "{DDMMYYNN}",
            },
            if *under { "…" } else { "" }
        ),
    }
}
