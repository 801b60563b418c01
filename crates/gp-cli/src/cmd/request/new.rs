//! `goldenpath request new KIND`: the arguments of each kind, handed to the
//! engine, which writes the file.

use clap::{Args, Subcommand};
use gp_core::request::template::Ask;

use super::with_engine;
use crate::Context;

/// `request new KIND`.
#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// A database on the environment's foundational instance (RDS-NNNN).
    Rds(NewDatabase),
    /// An S3 bucket (S3-NNNN).
    S3(NewBucket),
    /// A Secrets Manager secret (SEC-NNNN).
    Secret(NewSecret),
    /// An ECR repository (ECR-NNNN).
    Ecr(NewRepository),
}

/// What every new request names.
#[derive(Debug, Args)]
pub struct NewCommon {
    /// The owning team.
    #[arg(long)]
    pub owner: String,
    /// Who asks (default: you).
    #[arg(long)]
    pub requester: Option<String>,
    /// A title.
    #[arg(long)]
    pub title: Option<String>,
}

/// `request new rds`.
#[derive(Debug, Args)]
pub struct NewDatabase {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The database.
    #[arg(long)]
    pub database: String,
    /// Its login role.
    #[arg(long)]
    pub username: String,
    /// The business domain.
    #[arg(long)]
    pub domain: String,
    /// small (default), medium, large, xlarge.
    #[arg(long, default_value = "small")]
    pub size: String,
    /// Storage, GB.
    #[arg(long, default_value_t = 20)]
    pub storage_gb: u32,
    /// Storage autoscaling limit, GB.
    #[arg(long, default_value_t = 100)]
    pub max_storage_gb: u32,
    /// Days of backups.
    #[arg(long, default_value_t = 7)]
    pub backup_retention_days: u32,
    /// none, low (default), medium, high, access.
    #[arg(long, default_value = "low")]
    pub risk: String,
    /// Run in several availability zones (prod needs it).
    #[arg(long)]
    pub multi_az: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: NewCommon,
}

/// `request new s3`.
#[derive(Debug, Args)]
pub struct NewBucket {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The application.
    #[arg(long)]
    pub application: String,
    /// logs, uploads, backups, data-lake, static-assets.
    #[arg(long)]
    pub purpose: String,
    /// What it holds (10 to 200 characters).
    #[arg(long)]
    pub description: String,
    /// The cost center tag.
    #[arg(long)]
    pub cost_center: String,
    /// The bucket (default: the convention's, {prefix}-{env}-{application}-{purpose}).
    #[arg(long)]
    pub bucket_name: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: NewCommon,
}

/// `request new secret`.
#[derive(Debug, Args)]
pub struct NewSecret {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The service it belongs to.
    #[arg(long)]
    pub service: String,
    /// The secret's name.
    #[arg(long)]
    pub name: String,
    /// low (default), medium, high.
    #[arg(long, default_value = "low")]
    pub risk: String,
    /// The rotation class (`none`, the default).
    #[arg(long, default_value = "none")]
    pub rotation_class: String,
    /// The app's namespace, for its ExternalSecret (with --k8s-secret-name).
    #[arg(long, requires = "k8s_secret_name")]
    pub namespace: Option<String>,
    /// The Kubernetes Secret its ExternalSecret writes.
    #[arg(long, requires = "namespace")]
    pub k8s_secret_name: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: NewCommon,
}

/// `request new ecr`.
#[derive(Debug, Args)]
pub struct NewRepository {
    /// The environment (default: none, the repository serves every one).
    #[arg(long)]
    pub env: Option<String>,
    /// The repository (`team/app` or `app`).
    #[arg(long)]
    pub repository: String,
    /// low (default), medium, high.
    #[arg(long, default_value = "low")]
    pub risk: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: NewCommon,
}

/// Runs `request new KIND`.
pub(crate) fn new(ctx: &Context, cmd: NewCommand) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let (env, common, ask) = match cmd {
        NewCommand::Rds(a) => (
            Some(a.env),
            a.common,
            Ask::Database {
                database: a.database,
                username: a.username,
                domain: a.domain,
                size: a.size,
                storage_gb: a.storage_gb,
                max_storage_gb: a.max_storage_gb,
                backup_retention_days: a.backup_retention_days,
                multi_az: a.multi_az,
                risk: a.risk,
            },
        ),
        NewCommand::S3(a) => {
            let convention =
                gp_core::Contract::new(platform, &a.env, gp_core::Deployment::Persistent)
                    .map(|c| c.request_bucket_name(&a.application, &a.purpose))
                    .unwrap_or_default();
            (
                Some(a.env),
                a.common,
                Ask::Bucket {
                    bucket_name: a.bucket_name.unwrap_or(convention),
                    application: a.application,
                    purpose: a.purpose,
                    description: a.description,
                    cost_center: a.cost_center,
                },
            )
        }
        NewCommand::Secret(a) => (
            Some(a.env),
            a.common,
            Ask::Secret {
                name: a.name,
                service: a.service,
                risk: a.risk,
                rotation_class: a.rotation_class,
                delivery: a.namespace.zip(a.k8s_secret_name),
            },
        ),
        NewCommand::Ecr(a) => (
            a.env,
            a.common,
            Ask::Repository {
                repository: a.repository,
                risk: a.risk,
            },
        ),
    };
    if let Some(e) = &env {
        ctx.check_env(e)?;
    }
    let requester = common.requester.clone().unwrap_or_else(|| ctx.actor());
    with_engine(ctx, |engine| {
        let made = engine.request_new(
            env.as_deref(),
            &common.owner,
            &requester,
            common.title.as_deref(),
            &ask,
        )?;
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestNewOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                request: made.id.clone(),
                file: made.file.display().to_string(),
            })?;
        } else {
            ctx.printer.data(&format!(
                "wrote {} ({}); next: goldenpath request validate {}",
                made.file.display(),
                made.id,
                made.id
            ))?;
        }
        Ok(())
    })
}
