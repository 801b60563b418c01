//! `goldenpath request validate|plan|apply|approve|list|schema`: database
//! requests (`requests/RDS-NNNN.yaml`).
//!
//! A request is checked against its schema (exit 2, positioned), then
//! against the platform's rules (a breach is a refusal, exit 3, recorded).
//! Prod and high-risk requests need an approval recorded in the registry
//! for exactly this content (its hash); `apply` adds the database to the
//! environment's foundational instance under the foundational lease and
//! records the result. Every step is a request event in the registry.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use gp_core::request::LoadedRequest;
use gp_registry::RequestEvent;

use super::{shown, when};
use crate::Context;
use crate::exit::{CliError, Code, Reported};
use crate::printer::table;
use crate::progress::Progress;

/// `goldenpath request ...`.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Check request files: schema (exit 2) and the platform's rules (exit 3).
    Validate(FilesArgs),
    /// What `apply` would do, and whether an approval is needed and recorded.
    Plan(OneArgs),
    /// Add the requested database to the environment's foundational instance.
    Apply(OneArgs),
    /// Record an approval of a request's current content.
    Approve(ApproveArgs),
    /// Requests in requests/ and in the registry, with their state.
    List(ListArgs),
    /// Print the JSON Schema of a request file.
    Schema,
}

/// Request files.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Files, or ids (RDS-0002) looked up in requests/ beside the spec.
    /// Default: every file in requests/.
    pub requests: Vec<String>,
}

/// One request.
#[derive(Debug, Args)]
pub struct OneArgs {
    /// A file, or an id (RDS-0002) looked up in requests/ beside the spec.
    pub request: String,
}

/// Arguments of `request approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// A file, or an id (RDS-0002) looked up in requests/ beside the spec.
    pub request: String,
    /// Who approves: always the person running the command (the actor,
    /// from the CI identity or GOLDENPATH_ACTOR); given, it must match.
    #[arg(long)]
    pub by: Option<String>,
    /// A note recorded with the approval.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Arguments of `request list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
}

/// Runs `request ...`.
pub fn run(ctx: &Context, cmd: RequestCommand) -> anyhow::Result<()> {
    match cmd {
        RequestCommand::Validate(a) => validate(ctx, a),
        RequestCommand::Plan(a) => plan(ctx, a),
        RequestCommand::Apply(a) => apply(ctx, a),
        RequestCommand::Approve(a) => approve(ctx, a),
        RequestCommand::List(a) => list(ctx, a),
        RequestCommand::Schema => {
            ctx.printer.json(&gp_core::request::json_schema())?;
            Ok(())
        }
    }
}

fn requests_dir(ctx: &Context) -> anyhow::Result<PathBuf> {
    Ok(ctx.platform()?.base_dir().join("requests"))
}

/// A file path, or an id in requests/.
fn locate(ctx: &Context, arg: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(arg);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let by_id = requests_dir(ctx)?.join(format!("{arg}.yaml"));
    if by_id.exists() {
        return Ok(by_id);
    }
    Err(CliError::invalid(format!("no request file {arg}"))
        .hint(format!(
            "give a path, or an id with a file in {}",
            requests_dir(ctx)?.display()
        ))
        .into())
}

fn all_files(ctx: &Context) -> anyhow::Result<Vec<PathBuf>> {
    let dir = requests_dir(ctx)?;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(d) => d
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    Ok(files)
}

/// The engine the request workflows run on.
fn with_engine<T>(
    ctx: &Context,
    f: impl FnOnce(&gp_engine::Engine<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let progress = Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    f(&engine)
}

/// Loads a request (schema errors exit 2 through the caller's `?`).
fn load(ctx: &Context, arg: &str) -> anyhow::Result<LoadedRequest> {
    let path = locate(ctx, arg)?;
    let relative = PathBuf::from(shown(&path));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", relative.display())))?;
    Ok(LoadedRequest::from_source(&relative, &text)?)
}

/// Prints each rule a request breaks; returns their messages.
fn print_refusals(ctx: &Context, problems: &[gp_core::Diagnostic]) -> Vec<String> {
    for d in problems {
        ctx.printer.error(&d.to_string(), &[], d.hint.as_deref());
    }
    problems.iter().map(|d| d.message.clone()).collect()
}

fn validate(ctx: &Context, a: FilesArgs) -> anyhow::Result<()> {
    let files: Vec<String> = if a.requests.is_empty() {
        all_files(ctx)?
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        a.requests
    };
    if files.is_empty() {
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestChecksOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                requests: Vec::new(),
            })?;
        } else {
            ctx.printer.data("no requests to check")?;
        }
        return Ok(());
    }
    with_engine(ctx, |engine| {
        let mut worst: Option<Code> = None;
        let mut results = Vec::new();
        for f in &files {
            let loaded = load(ctx, f).and_then(|r| {
                engine.request_ownership(&r)?;
                Ok(r)
            });
            match loaded {
                Err(e) => {
                    crate::exit::report(&ctx.printer, &e);
                    worst = Some(Code::Invalid);
                    results.push(crate::outputs::RequestCheck {
                        request: f.clone(),
                        file: f.clone(),
                        valid: false,
                        refused: Vec::new(),
                        needs_approval: false,
                    });
                }
                Ok(r) => {
                    let refused = print_refusals(ctx, &r.guard(engine.platform));
                    if refused.is_empty() {
                        ctx.printer.status(&format!(
                            "{} ({}) is valid{}",
                            shown(&r.path),
                            r.request.id.value,
                            if r.needs_approval() {
                                format!("; it needs an approval ({})", r.approval_reason())
                            } else {
                                String::new()
                            }
                        ));
                    } else if worst.is_none() {
                        worst = Some(Code::Refused);
                    }
                    results.push(crate::outputs::RequestCheck {
                        request: r.request.id.value.clone(),
                        file: shown(&r.path),
                        valid: true,
                        refused,
                        needs_approval: r.needs_approval(),
                    });
                }
            }
        }
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestChecksOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                requests: results,
            })?;
        }
        match worst {
            None => Ok(()),
            Some(code) => Err(Reported(code).into()),
        }
    })
}

fn plan(ctx: &Context, a: OneArgs) -> anyhow::Result<()> {
    let r = load(ctx, &a.request)?;
    with_engine(ctx, |engine| {
        let d = engine.request_plan(&r)?;
        let refused = print_refusals(ctx, &d.refusals);
        let req = &r.request;
        let action = match &d.existing_owner {
            Some(owner) if owner != &req.username.value => {
                format!("refused: the database exists, owned by {owner}")
            }
            _ if d.steps.is_empty() => "nothing to change".to_string(),
            _ => d.steps.join("; "),
        };
        let approval = match (d.needs_approval, &d.approval) {
            (None, _) => "not needed".to_string(),
            (Some(_), Some(a)) => format!("recorded by {} at {}", a.by, when(a.at_us)),
            (Some(why), None) => format!(
                "required ({why}), missing: an approver runs goldenpath request approve {}",
                req.id.value
            ),
        };
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestPlanOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                request: req.id.value.clone(),
                env: req.environment.value.clone(),
                instance: d.instance.clone(),
                database: req.database_name.value.clone(),
                role: req.username.value.clone(),
                secret_path: d.secret_path.clone(),
                action: action.clone(),
                steps: d.steps.clone(),
                refused: refused.clone(),
                needs_approval: d.needs_approval.is_some(),
                approved: d.approval.is_some(),
                hash: r.hash.clone(),
            })?;
        } else {
            ctx.printer.data(&format!(
                "request {} ({})\n  environment  {}\n  instance     {}\n  database     {}\n  role         {}\n  secret       {}\n  action       {}\n  approval     {}{}",
                req.id.value,
                shown(&r.path),
                req.environment.value,
                d.instance,
                req.database_name.value,
                req.username.value,
                d.secret_path,
                action,
                approval,
                if refused.is_empty() { String::new() } else { format!("\n  refused      {}", refused.join("; ")) }
            ))?;
        }
        if !refused.is_empty() {
            return Err(Reported(Code::Refused).into());
        }
        Ok(())
    })
}

fn apply(ctx: &Context, a: OneArgs) -> anyhow::Result<()> {
    let r = load(ctx, &a.request)?;
    let req = &r.request;
    with_engine(ctx, |engine| {
        // The rules it breaks, each shown at its line; the engine records
        // the refusal.
        let problems = r.guard(engine.platform);
        if !problems.is_empty() {
            print_refusals(ctx, &problems);
            if let Err(e) = engine.request_apply(&r)
                && !matches!(e, gp_engine::EngineError::Refused { .. })
            {
                return Err(e.into());
            }
            ctx.printer.status(&format!(
                "request {} refused; nothing was changed",
                req.id.value
            ));
            return Err(Reported(Code::Refused).into());
        }
        let done = engine.request_apply(&r)?;
        let secret = done
            .outputs
            .get("secret_path")
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string();
        let counts = done.applied.counts;
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestAppliedOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                request: req.id.value.clone(),
                env: req.environment.value.clone(),
                instance: done.instance.clone(),
                database: req.database_name.value.clone(),
                role: req.username.value.clone(),
                secret_path: secret.clone(),
                counts,
            })?;
        } else {
            let what = if counts.added + counts.changed == 0 {
                "unchanged"
            } else if counts.added > 0 {
                "created"
            } else {
                "updated"
            };
            ctx.printer.data(&format!(
                "request {}: database {} on {} in {} {what}\n  role    {}\n  secret  {}",
                req.id.value,
                req.database_name.value,
                done.instance,
                req.environment.value,
                req.username.value,
                secret
            ))?;
        }
        Ok(())
    })
}

fn approve(ctx: &Context, a: ApproveArgs) -> anyhow::Result<()> {
    let r = load(ctx, &a.request)?;
    let approver = ctx.actor();
    if let Some(by) = &a.by
        && !gp_engine::requests::same_person(by, &approver)
    {
        return Err(CliError::invalid(format!(
            "--by {by} is not who runs this command ({approver}); an approval is recorded for the person giving it"
        ))
        .hint(format!(
            "run it as the approver (their CI identity, or {}=NAME)",
            crate::env::ACTOR
        ))
        .into());
    }
    with_engine(ctx, |engine| {
        engine.request_approve(&r, &approver, a.reason.as_deref())?;
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestApprovedOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                request: r.request.id.value.clone(),
                by: approver.clone(),
                hash: r.hash.clone(),
                needed: r.needs_approval(),
            })?;
        }
        ctx.printer.status(&format!(
            "approved {} (content {}) by {approver}; recorded",
            r.request.id.value, r.hash
        ));
        if !r.needs_approval() {
            ctx.printer
                .warn("this request does not need an approval; it was recorded anyway");
        }
        Ok(())
    })
}

fn list(ctx: &Context, a: ListArgs) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let events = ctx.registry()?.request_events(None)?;
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut files = std::collections::BTreeMap::new();
    for f in all_files(ctx)? {
        if let Ok(r) = LoadedRequest::load(&f) {
            ids.push((
                r.request.id.value.clone(),
                r.request.environment.value.clone(),
            ));
            files.insert(r.request.id.value.clone(), r);
        }
    }
    for e in &events {
        if !ids.iter().any(|(id, _)| id == &e.request_id) {
            ids.push((e.request_id.clone(), e.env.clone()));
        }
    }
    ids.sort();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for (id, env) in ids {
        if a.env.as_ref().is_some_and(|e| e != &env) {
            continue;
        }
        let mine: Vec<&RequestEvent> = events.iter().filter(|e| e.request_id == id).collect();
        let last = mine.last();
        let breaks_rules = files
            .get(&id)
            .is_some_and(|r| !r.guard(platform).is_empty());
        let state = match (last, files.get(&id)) {
            (None, Some(_)) if breaks_rules => "breaks a rule (request validate)".to_string(),
            (None, Some(r)) if r.needs_approval() => "awaiting approval".to_string(),
            (None, _) => "not applied".to_string(),
            (Some(e), _) => e.event.clone(),
        };
        let database = files
            .get(&id)
            .map(|r| r.request.database_name.value.clone())
            .or_else(|| {
                mine.iter().rev().find_map(|e| {
                    e.detail
                        .as_ref()
                        .and_then(|d| d.get("database"))
                        .and_then(|d| d.as_str())
                        .map(str::to_string)
                })
            })
            .unwrap_or_default();
        let (by, at) = last
            .map(|e| (e.actor.clone(), when(e.at_us)))
            .unwrap_or_default();
        json.push(crate::outputs::RequestRow {
            request: id.clone(),
            env: env.clone(),
            database: database.clone(),
            state: state.clone(),
            by: by.clone(),
            at: at.clone(),
            events: mine.iter().map(|e| (*e).clone()).collect(),
        });
        rows.push(vec![id, env, database, state, by, at]);
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::RequestListOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            requests: json,
        })?;
        return Ok(());
    }
    if rows.is_empty() {
        ctx.printer.data("no requests")?;
        return Ok(());
    }
    ctx.printer.data(&table(
        &["REQUEST", "ENV", "DATABASE", "STATE", "BY", "AT"],
        &rows,
    ))?;
    Ok(())
}
