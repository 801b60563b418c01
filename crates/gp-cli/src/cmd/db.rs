//! `goldenpath db list --env E`: the databases on an environment's
//! foundational instances, read live, with their owners, secret paths, and
//! who asked for them (a component, a build, or a request).

use clap::{Args, Subcommand};
use gp_core::Plane;

use crate::Context;
use crate::printer::table;
use crate::progress::Progress;

/// `goldenpath db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Databases, owners, secret paths and who asked for each.
    List(ListArgs),
}

/// Arguments of `db list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
}

/// Runs `db ...`.
pub fn run(ctx: &Context, cmd: DbCommand) -> anyhow::Result<()> {
    let DbCommand::List(a) = cmd;
    let platform = ctx.platform()?;
    let reg = ctx.registry()?;
    let progress = Progress::new(&ctx.printer, false);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    // Who asked: components' outputs (foundational and live builds), and
    // applied requests.
    let mut asked: Vec<(String, String, String)> = Vec::new(); // (database, by, secret)
    let mut deployments = vec!["foundational".to_string(), "persistent".to_string()];
    for b in reg.builds(&a.env)? {
        if b.status != "torn-down" {
            deployments.push(b.build_id);
        }
    }
    for key in &deployments {
        let overview = engine.component_outputs(&a.env, key)?;
        for (component, outputs) in overview {
            for o in outputs.resources.values() {
                if let Some(db) = o.get("dbname").and_then(|d| d.as_str()) {
                    let by = if key == "foundational" {
                        component.clone()
                    } else {
                        format!("{component} ({key})")
                    };
                    let secret = o
                        .get("secret_path")
                        .and_then(|s| s.as_str())
                        .unwrap_or_default()
                        .to_string();
                    asked.push((db.to_string(), by, secret));
                }
            }
        }
    }
    for e in reg.request_events(None)? {
        if e.env != a.env || e.event != "applied" {
            continue;
        }
        let d = e.detail.unwrap_or_default();
        if let Some(db) = d.get("database").and_then(|x| x.as_str()) {
            asked.retain(|(name, _, _)| name != db);
            asked.push((
                db.to_string(),
                format!("request {}", e.request_id),
                d.get("secretPath")
                    .and_then(|s| s.as_str())
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for c in &platform.spec.components {
        if c.plane.value != Plane::Foundational || c.driver.value != "postgres" {
            continue;
        }
        for item in engine.inventory(&a.env, &c.name.value)? {
            let name = item["database"].as_str().unwrap_or_default().to_string();
            let owner = item["owner"].as_str().unwrap_or_default().to_string();
            let (by, secret) = asked
                .iter()
                .rev()
                .find(|(d, _, _)| d == &name)
                .map(|(_, by, s)| (by.clone(), s.clone()))
                .unwrap_or_else(|| ("-".into(), "-".into()));
            json.push(serde_json::json!({
                "instance": c.name.value, "database": name, "owner": owner,
                "secretPath": secret, "askedBy": by,
            }));
            rows.push(vec![c.name.value.clone(), name, owner, secret, by]);
        }
    }
    if ctx.printer.is_json() {
        ctx.printer
            .json(&serde_json::json!({"schemaVersion": 1, "env": a.env, "databases": json}))?;
        return Ok(());
    }
    if rows.is_empty() {
        ctx.printer.data(&format!(
            "no databases in {} (is the instance deployed? goldenpath status --env {} --foundational)",
            a.env, a.env
        ))?;
        return Ok(());
    }
    ctx.printer.data(&table(
        &["INSTANCE", "DATABASE", "OWNER", "SECRET", "ASKED BY"],
        &rows,
    ))?;
    Ok(())
}
