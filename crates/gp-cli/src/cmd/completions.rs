//! `goldenpath completions SHELL`.

use clap::Args;
use clap_complete::Shell;

use crate::Context;

/// Arguments of `goldenpath completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints a completion script for `shell`.
pub fn run(ctx: &Context, args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<()> {
    if ctx.printer.is_json() {
        return Err(crate::exit::CliError::invalid(
            "`completions` prints a shell script; --output json does not apply",
        )
        .into());
    }
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut command, "goldenpath", &mut buf);
    ctx.printer.data(&String::from_utf8_lossy(&buf))?;
    Ok(())
}
