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
use gp_core::{Deployment, Plane};
use gp_registry::{RequestEvent, new_id, now_us};

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

fn record(
    ctx: &Context,
    r: &LoadedRequest,
    event: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    ctx.registry()?.record_request(&RequestEvent {
        id: new_id(),
        request_id: r.request.id.value.clone(),
        kind: "rds".into(),
        env: r.request.environment.value.clone(),
        event: event.into(),
        actor: ctx.actor(),
        detail: Some(detail),
        at_us: now_us(),
    })?;
    Ok(())
}

/// Loads a request (schema errors exit 2 through the caller's `?`).
fn load(ctx: &Context, arg: &str) -> anyhow::Result<LoadedRequest> {
    let path = locate(ctx, arg)?;
    let relative = PathBuf::from(shown(&path));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", relative.display())))?;
    Ok(LoadedRequest::from_source(&relative, &text)?)
}

/// Names the request may not take: the instance's admin role, the roles and
/// databases components of the spec own, and names another request
/// applied. Positioned, invalid input (exit 2), checked before anything
/// else so that nothing is ever touched for such a request.
fn ownership(ctx: &Context, r: &LoadedRequest) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let drivers = ctx.drivers()?;
    let declared = gp_engine::validate(platform, &drivers).map_err(gp_engine::EngineError::from)?;
    let owned: Vec<(String, &'static str, String)> = declared
        .iter()
        .flat_map(|(component, v)| {
            v.owned
                .iter()
                .map(move |(name, kind)| (name.clone(), *kind, component.clone()))
        })
        .collect();
    let mut taken = Vec::new();
    for e in ctx.registry()?.request_events(None)? {
        if e.event != "applied" {
            continue;
        }
        let field = |k: &str| {
            e.detail
                .as_ref()
                .and_then(|d| d.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        if field("instance").is_some() && e.env == r.request.environment.value {
            if let Some(d) = field("database") {
                taken.push((d, "database", e.request_id.clone()));
            }
            if let Some(role) = field("role") {
                taken.push((role, "role", e.request_id.clone()));
            }
        }
    }
    let problems = r.ownership_problems(&owned, &taken);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(gp_core::InvalidInput(problems).into())
    }
}

/// The platform's rules; prints each breach.
fn refusals(ctx: &Context, r: &LoadedRequest) -> anyhow::Result<Vec<String>> {
    let problems = r.guard(ctx.platform()?);
    for d in &problems {
        ctx.printer.error(&d.to_string(), &[], d.hint.as_deref());
    }
    Ok(problems.iter().map(|d| d.message.clone()).collect())
}

/// The latest approval of this exact content, if any.
fn approval(ctx: &Context, r: &LoadedRequest) -> anyhow::Result<Option<RequestEvent>> {
    Ok(ctx
        .registry()?
        .request_events(Some(&r.request.id.value))?
        .into_iter()
        .rev()
        .find(|e| {
            e.event == "approved"
                && e.detail
                    .as_ref()
                    .and_then(|d| d.get("hash"))
                    .and_then(|h| h.as_str())
                    == Some(r.hash.as_str())
        }))
}

/// The foundational postgres instance the request goes to.
fn instance(ctx: &Context, r: &LoadedRequest) -> anyhow::Result<String> {
    let platform = ctx.platform()?;
    let candidates: Vec<&str> = platform
        .spec
        .components
        .iter()
        .filter(|c| c.plane.value == Plane::Foundational && c.driver.value == "postgres")
        .map(|c| c.name.value.as_str())
        .collect();
    if let Some(named) = &r.request.instance {
        if candidates.contains(&named.value.as_str()) {
            return Ok(named.value.clone());
        }
        return Err(CliError::invalid(format!(
            "{}: instance `{}` is not a foundational postgres component (there are: {})",
            r.path.display(),
            named.value,
            candidates.join(", ")
        ))
        .into());
    }
    match candidates.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(CliError::invalid(
            "the platform has no foundational postgres component to put databases on",
        )
        .into()),
        many => Err(CliError::invalid(format!(
            "{}: the platform has several instances ({}); name one with `instance:`",
            r.path.display(),
            many.join(", ")
        ))
        .into()),
    }
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
        ctx.printer.data("no requests to check")?;
        return Ok(());
    }
    let mut worst: Option<Code> = None;
    let mut results = Vec::new();
    for f in &files {
        match load(ctx, f) {
            Err(e) => {
                crate::exit::report(&ctx.printer, &e);
                worst = Some(Code::Invalid);
                results.push(serde_json::json!({"request": f, "valid": false}));
            }
            Ok(r) => {
                if let Err(e) = ownership(ctx, &r) {
                    crate::exit::report(&ctx.printer, &e);
                    worst = Some(Code::Invalid);
                    results.push(serde_json::json!({"request": r.request.id.value, "file": shown(&r.path), "valid": false}));
                    continue;
                }
                let refused = refusals(ctx, &r)?;
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
                results.push(serde_json::json!({
                    "request": r.request.id.value, "file": shown(&r.path),
                    "valid": true, "refused": refused, "needsApproval": r.needs_approval(),
                }));
            }
        }
    }
    if ctx.printer.is_json() {
        ctx.printer
            .json(&serde_json::json!({"schemaVersion": 1, "requests": results}))?;
    }
    match worst {
        None => Ok(()),
        Some(code) => Err(Reported(code).into()),
    }
}

/// What `plan` and `apply` print about a request before acting.
struct Decision {
    instance: String,
    exists: Option<String>,
    approved: Option<RequestEvent>,
}

fn decide(ctx: &Context, r: &LoadedRequest) -> anyhow::Result<Decision> {
    let instance = instance(ctx, r)?;
    let env = &r.request.environment.value;
    let progress = Progress::new(&ctx.printer, false);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let live = engine.inventory(env, &instance).unwrap_or_default();
    let exists = live
        .iter()
        .find(|d| {
            d.get("database").and_then(|x| x.as_str()) == Some(&r.request.database_name.value)
        })
        .and_then(|d| d.get("owner").and_then(|o| o.as_str()).map(str::to_string));
    Ok(Decision {
        instance,
        exists,
        approved: approval(ctx, r)?,
    })
}

fn plan(ctx: &Context, a: OneArgs) -> anyhow::Result<()> {
    let r = load(ctx, &a.request)?;
    ownership(ctx, &r)?;
    let refused = refusals(ctx, &r)?;
    let d = decide(ctx, &r)?;
    let req = &r.request;
    let contract = gp_core::Contract::new(
        ctx.platform()?,
        &req.environment.value,
        Deployment::Foundational,
    )?;
    let secret = contract.database_secret_path(&req.database_name.value)?;
    let action = match &d.exists {
        None => "create".to_string(),
        Some(owner) if owner == &req.username.value => {
            "unchanged (exists, owned by its role)".into()
        }
        Some(owner) => format!("refused: the database exists, owned by {owner}"),
    };
    let approval = if !r.needs_approval() {
        "not needed".to_string()
    } else {
        match &d.approved {
            Some(e) => format!(
                "recorded by {} at {}",
                e.detail
                    .as_ref()
                    .and_then(|d| d.get("by"))
                    .and_then(|b| b.as_str())
                    .unwrap_or(&e.actor),
                when(e.at_us)
            ),
            None => format!(
                "required ({}), missing: an approver runs goldenpath request approve {}",
                r.approval_reason(),
                req.id.value
            ),
        }
    };
    if ctx.printer.is_json() {
        ctx.printer.json(&serde_json::json!({
            "schemaVersion": 1, "request": req.id.value, "env": req.environment.value,
            "instance": d.instance, "database": req.database_name.value, "role": req.username.value,
            "secretPath": secret, "action": action, "refused": refused,
            "needsApproval": r.needs_approval(), "approved": d.approved.is_some(), "hash": r.hash,
        }))?;
    } else {
        ctx.printer.data(&format!(
            "request {} ({})\n  environment  {}\n  instance     {}\n  database     {}\n  role         {}\n  secret       {}\n  action       {}\n  approval     {}{}",
            req.id.value,
            shown(&r.path),
            req.environment.value,
            d.instance,
            req.database_name.value,
            req.username.value,
            secret,
            action,
            approval,
            if refused.is_empty() { String::new() } else { format!("\n  refused      {}", refused.join("; ")) }
        ))?;
    }
    if !refused.is_empty() {
        return Err(Reported(Code::Refused).into());
    }
    Ok(())
}

fn apply(ctx: &Context, a: OneArgs) -> anyhow::Result<()> {
    let r = load(ctx, &a.request)?;
    ownership(ctx, &r)?;
    let req = &r.request;
    let refused = refusals(ctx, &r)?;
    if !refused.is_empty() {
        record(
            ctx,
            &r,
            "refused",
            serde_json::json!({"reasons": refused, "hash": r.hash}),
        )?;
        ctx.printer.status(&format!(
            "request {} refused; nothing was changed",
            req.id.value
        ));
        return Err(Reported(Code::Refused).into());
    }
    let d = decide(ctx, &r)?;
    if r.needs_approval() && d.approved.is_none() {
        let why = format!(
            "request {} needs an approval ({}) and none is recorded for its current content",
            req.id.value,
            r.approval_reason()
        );
        record(
            ctx,
            &r,
            "refused",
            serde_json::json!({"reasons": [why.clone()], "hash": r.hash}),
        )?;
        return Err(CliError::refused(format!("{why}; nothing was changed"))
            .hint(format!(
                "an approver (not the requester) runs: goldenpath request approve {}",
                req.id.value
            ))
            .into());
    }
    if let Some(owner) = &d.exists
        && owner != &req.username.value
    {
        let why = format!(
            "database {} already exists on {} and is owned by {owner}, not {}",
            req.database_name.value, d.instance, req.username.value
        );
        record(
            ctx,
            &r,
            "refused",
            serde_json::json!({"reasons": [why.clone()], "hash": r.hash}),
        )?;
        return Err(CliError::refused(format!("{why}; nothing was changed"))
            .hint("choose another databaseName, or have the owner hand it over")
            .into());
    }
    let progress = Progress::new(&ctx.printer, ctx.global.verbose > 0);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let payload = serde_json::json!({
        "request": req.id.value,
        "database": req.database_name.value,
        "role": req.username.value,
    });
    let label = format!("request {}", req.id.value);
    match engine.provision(&req.environment.value, &d.instance, &payload, &label) {
        Err(e) => {
            record(
                ctx,
                &r,
                "failed",
                serde_json::json!({"error": e.to_string(), "hash": r.hash}),
            )?;
            Err(e.into())
        }
        Ok(applied) => {
            let out = applied
                .outputs
                .resources
                .get(&req.database_name.value)
                .cloned()
                .unwrap_or_default();
            let secret = out
                .get("secret_path")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_string();
            record(
                ctx,
                &r,
                "applied",
                serde_json::json!({
                    "instance": d.instance, "database": req.database_name.value,
                    "role": req.username.value, "secretPath": secret, "hash": r.hash,
                    "added": applied.counts.added, "changed": applied.counts.changed,
                    "owner": req.owner.value, "requester": req.requester.value,
                }),
            )?;
            if ctx.printer.is_json() {
                ctx.printer.json(&serde_json::json!({
                    "schemaVersion": 1, "request": req.id.value, "env": req.environment.value,
                    "instance": d.instance, "database": req.database_name.value,
                    "role": req.username.value, "secretPath": secret, "counts": applied.counts,
                }))?;
            } else {
                let what = if applied.counts.added + applied.counts.changed == 0 {
                    "unchanged"
                } else if applied.counts.added > 0 {
                    "created"
                } else {
                    "updated"
                };
                ctx.printer.data(&format!(
                    "request {}: database {} on {} in {} {what}\n  role    {}\n  secret  {}",
                    req.id.value,
                    req.database_name.value,
                    d.instance,
                    req.environment.value,
                    req.username.value,
                    secret
                ))?;
            }
            Ok(())
        }
    }
}

/// Whether two identities name the same person (`alice` and
/// `alice@runner-1` do).
fn same_person(a: &str, b: &str) -> bool {
    let local = |s: &str| {
        s.trim()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    !a.trim().is_empty() && local(a) == local(b)
}

fn approve(ctx: &Context, a: ApproveArgs) -> anyhow::Result<()> {
    let r = load(ctx, &a.request)?;
    ownership(ctx, &r)?;
    let approver = ctx.actor();
    if let Some(by) = &a.by
        && !same_person(by, &approver)
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
    if same_person(&r.request.requester.value, &approver) {
        let why = format!(
            "{approver} asked for request {} and cannot approve it: an approval comes from someone else",
            r.request.id.value
        );
        record(
            ctx,
            &r,
            "refused",
            serde_json::json!({"reasons": [why.clone()], "hash": r.hash, "approver": approver}),
        )?;
        return Err(CliError::refused(why)
            .hint("ask an approver to run `goldenpath request approve`")
            .into());
    }
    record(
        ctx,
        &r,
        "approved",
        serde_json::json!({"by": approver, "hash": r.hash, "reason": a.reason}),
    )?;
    ctx.printer.status(&format!(
        "approved {} (content {}) by {approver}; recorded",
        r.request.id.value, r.hash
    ));
    if !r.needs_approval() {
        ctx.printer
            .warn("this request does not need an approval; it was recorded anyway");
    }
    Ok(())
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
        json.push(serde_json::json!({
            "request": id, "env": env, "database": database, "state": state,
            "by": by, "at": at, "events": mine,
        }));
        rows.push(vec![id, env, database, state, by, at]);
    }
    if ctx.printer.is_json() {
        ctx.printer
            .json(&serde_json::json!({"schemaVersion": 1, "requests": json}))?;
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
