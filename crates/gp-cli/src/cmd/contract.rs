//! `goldenpath contract`.

use clap::Args;
use gp_core::{BuildId, Contract, Deployment};

use crate::Context;
use crate::exit::CliError;

/// Arguments of `goldenpath contract`.
#[derive(Debug, Args)]
pub struct ContractArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// A build id (DD-MM-YY-NN) for an ephemeral deployment; without it, the
    /// persistent deployment.
    #[arg(long, value_name = "BUILD_ID", conflicts_with = "persistent")]
    pub build_id: Option<String>,
    /// The persistent deployment (the default).
    #[arg(long)]
    pub persistent: bool,
}

/// Prints the contract of one deployment.
pub fn run(ctx: &Context, args: ContractArgs) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let deployment =
        match args.build_id.as_deref() {
            None => Deployment::Persistent,
            Some("auto") => {
                return Err(CliError::invalid("`contract` needs a concrete build id, not `auto`")
                .hint("pass one such as --build-id 23-01-26-01; `auto` is resolved by `deploy`")
                .into());
            }
            Some(b) => Deployment::Ephemeral(b.parse::<BuildId>()?),
        };
    let view = Contract::new(platform, &args.env, deployment)?.view()?;
    if ctx.printer.is_json() {
        ctx.printer.json(&view)?;
        return Ok(());
    }
    let mut out = String::new();
    let title = match &view.build_id {
        Some(b) => format!("contract for {} build {b} (ephemeral)\n\n", view.env),
        None => format!("contract for {} (persistent)\n\n", view.env),
    };
    out.push_str(&title);
    let mut rows: Vec<(&str, String)> = vec![
        ("lifecycle", view.lifecycle.clone()),
        ("name prefix", view.name_prefix.clone()),
        ("cluster name", view.cluster_name.clone()),
        (
            "irsa role suffix",
            if view.irsa_role_suffix.is_empty() {
                "(none)".into()
            } else {
                view.irsa_role_suffix.clone()
            },
        ),
        ("state key", view.state_key.clone()),
        ("host suffix", view.host_suffix.clone()),
        ("dns owner id", view.dns_owner_id.clone()),
        ("zone", view.zone.clone()),
        (
            "txt prefix",
            if view.txt_prefix.is_empty() {
                "(none)".into()
            } else {
                view.txt_prefix.clone()
            },
        ),
    ];
    let tags = view
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    rows.push(("tags", tags));
    for (k, v) in rows {
        out.push_str(&format!("{k:<18}{v}\n"));
    }
    if !view.foundational_state_keys.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = view
            .foundational_state_keys
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        out.push_str(&crate::printer::table(
            &["FOUNDATIONAL", "STATE KEY"],
            &rows,
        ));
    }
    if !view.database_secrets.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = view
            .database_secrets
            .iter()
            .map(|(app, path)| vec![app.clone(), path.clone()])
            .collect();
        out.push_str(&crate::printer::table(&["DATABASE", "SECRET"], &rows));
    }
    if !view.hosts.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = view
            .hosts
            .iter()
            .map(|h| {
                vec![
                    h.component.clone(),
                    h.fqdn.clone(),
                    h.record_type.to_string(),
                    h.txt_owner_name.clone(),
                    h.scope.to_string(),
                ]
            })
            .collect();
        out.push_str(&crate::printer::table(
            &["COMPONENT", "HOST", "TYPE", "OWNERSHIP TXT", "SCOPE"],
            &rows,
        ));
    }
    ctx.printer.data(&out)?;
    Ok(())
}
