//! `goldenpath dns plan|apply|list`: a deployment's host records, and
//! the zones with who owns each record.

use clap::{Args, Subcommand};
use gp_core::Plane;

use super::DeploymentArgs;
use crate::Context;
use crate::exit::{CliError, Code, Reported};
use crate::printer::table;
use crate::progress::Progress;

/// `goldenpath dns ...`.
#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    /// What publishing a deployment's host records would do, per record.
    Plan(DeploymentArgs),
    /// Publish a deployment's host records (its deployed components').
    Apply(DeploymentArgs),
    /// The records of the environment's zones and who owns each.
    List(ListArgs),
}

/// Arguments of `dns list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Only records owned by this build.
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: Option<String>,
}

/// Runs `dns ...`.
pub fn run(ctx: &Context, cmd: DnsCommand) -> anyhow::Result<()> {
    let progress = Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    match cmd {
        DnsCommand::Plan(a) => {
            let rows = engine.dns_plan(&a.env, a.deployment()?)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::DnsPlanOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    records: rows.clone(),
                })?;
            } else if rows.is_empty() {
                ctx.printer.data("no host records in this deployment")?;
            } else {
                let t: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.component.clone(),
                            r.fqdn.clone(),
                            r.rtype.clone(),
                            r.target.clone(),
                            r.action.clone(),
                            r.detail.clone(),
                        ]
                    })
                    .collect();
                ctx.printer.data(&table(
                    &["COMPONENT", "NAME", "TYPE", "TARGET", "ACTION", "DETAIL"],
                    &t,
                ))?;
            }
            if rows.iter().any(|r| r.action == "conflict") {
                return Err(Reported(Code::Refused).into());
            }
            Ok(())
        }
        DnsCommand::Apply(a) => {
            let done = engine.dns_apply(&a.env, a.deployment()?)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::DnsApplyOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    components: done.clone(),
                })?;
            } else if done.is_empty() {
                ctx.printer
                    .data("no deployed component of this deployment publishes records")?;
            } else {
                let t: Vec<Vec<String>> = done
                    .iter()
                    .map(|d| {
                        vec![
                            d.component.clone(),
                            format!(
                                "+{} ~{} -{}",
                                d.counts.added, d.counts.changed, d.counts.destroyed
                            ),
                            d.error.clone().unwrap_or_else(|| "ok".into()),
                        ]
                    })
                    .collect();
                ctx.printer
                    .data(&table(&["COMPONENT", "RECORDS", "RESULT"], &t))?;
            }
            if done.iter().any(|d| d.error.is_some()) {
                let refused = done.iter().any(|d| d.refused);
                return Err(CliError {
                    code: if refused { Code::Refused } else { Code::Failed },
                    message: "some records were not published".into(),
                    hint: None,
                }
                .into());
            }
            Ok(())
        }
        DnsCommand::List(a) => {
            let platform = ctx.platform()?;
            let owner = match &a.build_id {
                Some(b) => {
                    let build: gp_core::BuildId = b.parse()?;
                    Some(
                        gp_core::Contract::new(
                            platform,
                            &a.env,
                            gp_core::Deployment::Ephemeral(build),
                        )?
                        .dns_owner_id(),
                    )
                }
                None => None,
            };
            let mut rows = Vec::new();
            let mut json = Vec::new();
            for c in &platform.spec.components {
                let publishes = drivers
                    .get(&c.driver.value)
                    .is_some_and(|d| d.host_publisher().is_some());
                if c.plane.value != Plane::Foundational || !publishes {
                    continue;
                }
                for r in engine.inventory(&a.env, &c.name.value)? {
                    let s = |k: &str| {
                        r.get(k)
                            .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                            .unwrap_or_default()
                    };
                    let rec_owner = r.get("owner").and_then(|o| o.as_str()).map(str::to_string);
                    let ownership = r
                        .get("ownership")
                        .and_then(|o| o.as_bool())
                        .unwrap_or(false);
                    if let Some(o) = &owner
                        && rec_owner.as_deref() != Some(o.as_str())
                    {
                        continue;
                    }
                    let shown_owner = match (&rec_owner, ownership) {
                        (Some(o), true) => format!("{o} (ownership)"),
                        (Some(o), false) => o.clone(),
                        (None, _) => "-".into(),
                    };
                    rows.push(vec![
                        c.name.value.clone(),
                        s("name"),
                        s("type"),
                        s("value"),
                        shown_owner,
                    ]);
                    json.push(crate::outputs::ZoneRecord {
                        zone: c.name.value.clone(),
                        record: r,
                    });
                }
            }
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::DnsListOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    records: json,
                })?;
            } else if rows.is_empty() {
                ctx.printer.data("no records")?;
            } else {
                ctx.printer
                    .data(&table(&["ZONE", "NAME", "TYPE", "VALUE", "OWNER"], &rows))?;
            }
            Ok(())
        }
    }
}
