//! One module per command.

pub mod builds;
pub mod catalog;
pub mod ci;
pub mod completions;
pub mod contract;
pub mod dashboard;
pub mod db;
pub mod deploy;
pub mod dns;
pub mod docs;
pub mod drift;
pub mod gitops;
pub mod iam;
pub mod init;
pub mod lease;
pub mod metrics;
pub mod orphans;
pub mod owners;
pub mod policy;
pub mod reap;
pub mod registry;
pub mod request;
pub mod schema;
pub mod secret;
pub mod serve;
pub mod status;
pub mod terraform;
pub mod validate;
pub mod verify;

use gp_core::{BuildId, Deployment};

use crate::exit::CliError;

/// Selects one deployment of an environment: `--build-id B` (a build),
/// `--foundational` (the foundational plane) or neither (the persistent
/// deployment).
#[derive(Debug, clap::Args, Clone)]
pub struct DeploymentArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// A build (DD-MM-YY-NN); without it (or --foundational), the
    /// persistent deployment.
    #[arg(long, value_name = "BUILD_ID", conflicts_with_all = ["foundational", "persistent"])]
    pub build_id: Option<String>,
    /// The persistent deployment (the default).
    #[arg(long, conflicts_with = "foundational")]
    pub persistent: bool,
    /// The foundational plane.
    #[arg(long)]
    pub foundational: bool,
}

impl DeploymentArgs {
    /// The deployment selected; `auto` is refused here.
    pub fn deployment(&self) -> anyhow::Result<Deployment> {
        if self.foundational {
            return Ok(Deployment::Foundational);
        }
        match self.build_id.as_deref() {
            None => Ok(Deployment::Persistent),
            Some("auto") => Err(CliError::invalid("`auto` only makes sense for `deploy`")
                .hint("name the build, e.g. --build-id 23-01-26-01")
                .into()),
            Some(b) => Ok(Deployment::Ephemeral(b.parse::<BuildId>()?)),
        }
    }
}

pub use crate::printer::shown;

/// Formats µs since the epoch for tables.
pub fn when(us: i64) -> String {
    gp_registry::format_utc(us)
}

/// Ends a view that showed rows of the registry as tampered: each finding
/// on stderr, then the refusal (exit 3) naming the first, with `registry
/// verify` as the next command. A view shows what it could read; it never
/// exits 0 over a registry that does not check out.
pub fn refuse_tampered(
    ctx: &crate::context::Context,
    tampered: &[gp_registry::Tampered],
) -> anyhow::Result<()> {
    let Some(first) = tampered.first() else {
        return Ok(());
    };
    for t in tampered.iter().skip(1) {
        ctx.printer
            .warn(&format!("the registry was tampered with: {}", t.describe()));
    }
    Err(first.clone().into_error().into())
}
