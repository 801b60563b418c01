//! `goldenpath secret list|get|put`: the platform's secrets store.
//!
//! Values are redacted unless `get --reveal` asks for them; `put` reads the
//! value from stdin only, so it never lands in shell history or `ps`.

use std::collections::BTreeMap;
use std::io::Read;

use clap::{Args, Subcommand};
use gp_core::Secret;
use gp_driver_secrets::{check_path, redacted_keys};

use super::when;
use crate::Context;
use crate::exit::CliError;
use crate::printer::table;

/// `goldenpath secret ...`.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Secret paths with their tags (never their values).
    List(ListArgs),
    /// One secret: its keys with values redacted, or with --reveal the value.
    Get(GetArgs),
    /// Store a value a human supplies, read from stdin (JSON or text).
    Put(PutArgs),
}

/// Arguments of `secret list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only paths under this prefix, e.g. goldenpath/dev.
    pub prefix: Option<String>,
}

/// Arguments of `secret get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The secret's path, e.g. goldenpath/dev/backstage/postgres.
    pub path: String,
    /// Print the value itself (to stdout only).
    #[arg(long)]
    pub reveal: bool,
}

/// Arguments of `secret put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The secret's path.
    pub path: String,
    /// A tag, KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub tag: Vec<String>,
}

/// Runs `secret ...`.
pub fn run(ctx: &Context, cmd: SecretCommand) -> anyhow::Result<()> {
    let store = ctx.secret_store()?;
    match cmd {
        SecretCommand::List(a) => {
            let list = store.list(a.prefix.as_deref())?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::SecretsOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    secrets: list,
                })?;
                return Ok(());
            }
            if list.is_empty() {
                ctx.printer.data("no secrets")?;
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|m| {
                    vec![
                        m.path.clone(),
                        m.tags
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(","),
                        when(m.updated_us),
                    ]
                })
                .collect();
            ctx.printer
                .data(&table(&["PATH", "TAGS", "UPDATED"], &rows))?;
            Ok(())
        }
        SecretCommand::Get(a) => {
            check_path(&a.path)?;
            let Some(s) = store.get(&a.path)? else {
                return Err(CliError::invalid(format!("no secret {}", a.path))
                    .hint("list them with: goldenpath secret list")
                    .into());
            };
            if a.reveal {
                if ctx.printer.is_json() {
                    let value = serde_json::from_str::<serde_json::Value>(s.value.expose())
                        .unwrap_or_else(|_| serde_json::json!(s.value.expose()));
                    ctx.printer.json(&crate::outputs::SecretOutput {
                        schema_version: crate::outputs::SCHEMA_VERSION,
                        path: a.path.clone(),
                        value,
                        revealed: true,
                        tags: s.tags.clone(),
                        created: when(s.created_us),
                        updated: when(s.updated_us),
                    })?;
                } else {
                    ctx.printer.data(s.value.expose())?;
                }
                return Ok(());
            }
            let redacted = redacted_keys(&s);
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::SecretOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    path: a.path.clone(),
                    value: redacted,
                    revealed: false,
                    tags: s.tags.clone(),
                    created: when(s.created_us),
                    updated: when(s.updated_us),
                })?;
            } else {
                let mut out = format!("{}\n", a.path);
                match redacted.as_object() {
                    Some(keys) => {
                        for k in keys.keys() {
                            out.push_str(&format!("  {k}: ***\n"));
                        }
                    }
                    None => out.push_str("  (text) ***\n"),
                }
                for (k, v) in &s.tags {
                    out.push_str(&format!("  tag {k}={v}\n"));
                }
                out.push_str(&format!("  updated {}\n", when(s.updated_us)));
                out.push_str("(values redacted; --reveal prints them)");
                ctx.printer.data(&out)?;
            }
            Ok(())
        }
        SecretCommand::Put(a) => {
            check_path(&a.path)?;
            let mut tags = BTreeMap::new();
            for t in &a.tag {
                let Some((k, v)) = t.split_once('=') else {
                    return Err(CliError::invalid(format!("invalid --tag `{t}`"))
                        .hint("use KEY=VALUE")
                        .into());
                };
                tags.insert(k.to_string(), v.to_string());
            }
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                ctx.printer
                    .status("reading the value from stdin; end with Ctrl-D");
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::failed(format!("cannot read stdin: {e}")))?;
            let value = Secret::new(text.trim_end_matches(['\n', '\r']).to_string());
            if value.is_empty() {
                return Err(CliError::invalid("the value on stdin is empty").into());
            }
            tags.entry("ManagedBy".into())
                .or_insert_with(|| "human".into());
            let created = store.put(&a.path, &value, &tags)?;
            if ctx.printer.is_json() {
                ctx.printer.json(&crate::outputs::SecretPutOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    path: a.path.clone(),
                    created,
                })?;
            }
            ctx.printer.status(&format!(
                "{} {}",
                if created { "created" } else { "updated" },
                a.path
            ));
            Ok(())
        }
    }
}
