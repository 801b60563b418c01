//! `goldenpath schema`.

use clap::Args;

use crate::Context;

/// Arguments of `goldenpath schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print instead the JSON Schema of what COMMAND prints with `--output
    /// json` (its words, e.g. `builds list`), including the error document
    /// every command prints when it fails.
    #[arg(long, value_name = "COMMAND", num_args = 1.., value_parser = output_commands())]
    pub output_of: Option<Vec<String>>,
}

fn output_commands() -> clap::builder::PossibleValuesParser {
    let mut words: Vec<&str> = crate::outputs::COMMANDS
        .iter()
        .flat_map(|c| c.split(' '))
        .collect();
    words.sort();
    words.dedup();
    clap::builder::PossibleValuesParser::new(words)
}

/// Prints the JSON Schema of `goldenpath.yaml`, or of a command's output
/// (always JSON).
pub fn run(ctx: &Context, args: SchemaArgs) -> anyhow::Result<()> {
    let Some(words) = args.output_of else {
        ctx.printer.json(&gp_core::spec::json_schema())?;
        return Ok(());
    };
    let command = words.join(" ");
    let schema = crate::outputs::schema_of(&command).ok_or_else(|| {
        crate::exit::CliError::invalid(format!("no command `{command}` prints JSON"))
            .hint(format!("one of: {}", crate::outputs::COMMANDS.join(", ")))
    })?;
    ctx.printer.json(&schema)?;
    Ok(())
}
