//! `goldenpath gitops bootstrap`: the root Application a cluster needs.

use clap::{Args, Subcommand};

use crate::Context;

/// `goldenpath gitops ...`.
#[derive(Debug, Subcommand)]
pub enum GitopsCommand {
    /// Print a deployment's root Application (app of apps), for
    /// `goldenpath gitops bootstrap --env dev | kubectl apply -f -`.
    Bootstrap(BootstrapArgs),
}

/// Arguments of `gitops bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub deployment: super::DeploymentArgs,
}

/// Runs `gitops ...`.
pub fn run(ctx: &Context, cmd: GitopsCommand) -> anyhow::Result<()> {
    match cmd {
        GitopsCommand::Bootstrap(a) => {
            ctx.check_env(&a.deployment.env)?;
            let platform = ctx.platform()?;
            let deployment = a.deployment.deployment()?;
            let contract = gp_core::Contract::new(platform, &a.deployment.env, deployment)
                .map_err(|e| crate::exit::CliError::invalid(e.to_string()))?;
            let text = gp_driver_gitops::root_application(platform, &contract)
                .map_err(|e| crate::exit::CliError::failed(e.message))?;
            if ctx.printer.is_json() {
                let node = gp_core::yaml::parse(&text)
                    .ok()
                    .flatten()
                    .map(|n| n.to_json())
                    .unwrap_or_default();
                ctx.printer.json(&crate::outputs::GitopsBootstrapOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    application: node,
                })?;
            } else {
                ctx.printer.data(text.trim_end())?;
            }
            Ok(())
        }
    }
}
