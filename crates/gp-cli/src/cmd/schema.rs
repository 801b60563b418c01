//! `goldenpath schema`.

use clap::Args;

use crate::Context;

/// Arguments of `goldenpath schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// Prints the JSON Schema of `goldenpath.yaml` (always JSON).
pub fn run(ctx: &Context, _args: SchemaArgs) -> anyhow::Result<()> {
    ctx.printer.json(&gp_core::spec::json_schema())?;
    Ok(())
}
