//! `goldenpath request validate|plan|apply|approve|list|schema`: database
//! requests (`requests/RDS-NNNN.yaml`); bucket, secret and repository
//! requests (`S3-`, `SEC-`, `ECR-NNNN`) take the same verbs and are handed
//! to `resource.rs`.
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
    /// Apply a request: a database onto the environment's foundational
    /// instance; a bucket, secret or repository on AWS (created or adopted).
    Apply(OneArgs),
    /// Record an approval of a request's current content.
    Approve(ApproveArgs),
    /// Requests in requests/ and in the registry, with their state.
    List(ListArgs),
    /// Print the JSON Schema of a request file of a kind.
    Schema(SchemaArgs),
    /// Write a new request file in the platform's layout (the next free
    /// id, in the first requests.paths folder under the environment).
    New(NewArgs),
}

/// Arguments of `request new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The kind: `rds` (a database).
    #[arg(value_parser = ["rds"])]
    pub kind: String,
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The database.
    #[arg(long)]
    pub database: String,
    /// Its login role.
    #[arg(long)]
    pub username: String,
    /// The owning team.
    #[arg(long)]
    pub owner: String,
    /// Who asks (default: you).
    #[arg(long)]
    pub requester: Option<String>,
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
    /// A title.
    #[arg(long)]
    pub title: Option<String>,
}

/// Arguments of `request schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// rds (default), s3, secret or ecr.
    #[arg(value_parser = ["rds", "s3", "bucket", "secret", "ecr", "registry-repo"], default_value = "rds")]
    pub kind: String,
}

/// Request files.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Files, or ids (RDS-0002, S3-0001, SEC-0007, ECR-0003) looked up in
    /// requests.paths (default requests/) beside the spec.
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
        RequestCommand::Schema(a) => {
            match gp_core::resource::ResourceKind::parse(&a.kind) {
                Some(kind) => ctx.printer.json(&gp_core::resource::json_schema(kind))?,
                None => ctx.printer.json(&gp_core::request::json_schema())?,
            }
            Ok(())
        }
        RequestCommand::New(a) => new(ctx, a),
    }
}

/// A file path, or an id: the request file holding that id (a file's name
/// need not be its id).
fn locate(ctx: &Context, arg: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(arg);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let mut found = Vec::new();
    for f in all_files(ctx)? {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let holds = stem == arg
            || std::fs::read_to_string(&f).is_ok_and(|t| {
                gp_core::yaml::parse(&t)
                    .ok()
                    .flatten()
                    .and_then(|n| gp_core::resource::file_id(&n).map(|i| i == arg))
                    .unwrap_or(false)
            });
        if holds {
            found.push(f);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::invalid(format!("no request file {arg}"))
            .hint("give a path, or the id of a request in requests.paths (default requests/)")
            .into()),
        many => Err(CliError::invalid(format!(
            "request id {arg} is in {} files: {}",
            many.len(),
            many.iter().map(|f| shown(f)).collect::<Vec<_>>().join(", ")
        ))
        .into()),
    }
}

/// Files under `base` matching `pattern` (relative, `/`-separated globs).
fn glob_files(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|seg| !seg.contains(['*', '?', '[', '{']))
        .collect();
    let start = base.join(literal.join("/"));
    if start.is_file() {
        return vec![start];
    }
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let rel = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                if gp_docs::glob::matches(pattern, &rel) {
                    out.push(path);
                }
            }
        }
    }
    out
}

/// Every request file: `requests.paths` of the spec (each must match a
/// file), else `requests/**/*.yaml` (an existing requests/ folder must
/// hold one).
fn all_files(ctx: &Context) -> anyhow::Result<Vec<PathBuf>> {
    request_files(ctx.platform()?)
}

/// The request files `requests.paths` (or `requests/`) names.
pub(crate) fn request_files(platform: &gp_core::Platform) -> anyhow::Result<Vec<PathBuf>> {
    let base = platform.base_dir();
    let mut files = Vec::new();
    match platform
        .spec
        .requests
        .as_ref()
        .filter(|q| !q.paths.is_empty())
    {
        Some(q) => {
            let mut problems = Vec::new();
            for g in &q.paths {
                if !gp_core::spec::stays_inside(&g.value) {
                    problems.push(platform.diagnostic(
                        g.start,
                        format!("requests.paths `{}` leaves the spec's folder: use a relative path without `..`", g.value),
                    ));
                    continue;
                }
                let found = glob_files(base, &g.value);
                if found.is_empty() {
                    problems.push(
                        platform
                            .diagnostic(g.start, format!("requests.paths `{}` matches no file", g.value))
                            .with_hint("a configured location must hold its requests; fix the glob or remove it"),
                    );
                }
                files.extend(found);
            }
            if !problems.is_empty() {
                return Err(gp_core::InvalidInput(problems).into());
            }
        }
        None => {
            let dir = base.join("requests");
            if dir.is_dir() {
                files = glob_files(base, "requests/**/*.yaml");
                files.extend(glob_files(base, "requests/**/*.yml"));
                if files.is_empty() {
                    return Err(CliError::invalid(format!(
                        "{} holds no request files (*.yaml)",
                        shown(&dir)
                    ))
                    .hint("put requests there, or set requests.paths in the spec")
                    .into());
                }
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// `domain` and `owner` against the configured enums file.
fn check_enums(ctx: &Context, r: &LoadedRequest) -> anyhow::Result<()> {
    check_enums_of(ctx.platform()?, r)
}

fn check_enums_of(platform: &gp_core::Platform, r: &LoadedRequest) -> anyhow::Result<()> {
    let Some(enums) = platform
        .spec
        .requests
        .as_ref()
        .and_then(|q| q.enums.as_ref())
    else {
        return Ok(());
    };
    if !gp_core::spec::stays_inside(&enums.value) {
        return Err(gp_core::InvalidInput(vec![platform.diagnostic(
            enums.start,
            format!(
                "requests.enums `{}` leaves the spec's folder: use a relative path without `..`",
                enums.value
            ),
        )])
        .into());
    }
    let path = platform.base_dir().join(&enums.value);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        gp_core::InvalidInput(vec![platform.diagnostic(
            enums.start,
            format!("cannot read requests.enums {}: {e}", enums.value),
        )])
    })?;
    let node = gp_core::yaml::parse(&text)
        .map_err(|e| {
            gp_core::InvalidInput(vec![gp_core::Diagnostic::at(
                Path::new(&enums.value),
                &text,
                e.pos,
                format!("invalid YAML: {}", e.message),
            )])
        })?
        .unwrap_or_else(|| gp_core::yaml::Node {
            kind: gp_core::yaml::NodeKind::Map(Vec::new()),
            start: Default::default(),
            end: Default::default(),
        });
    let problems = r.enum_problems(&node, Path::new(&enums.value));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(gp_core::InvalidInput(problems).into())
    }
}

/// Writes a new request in the platform's layout.
fn new(ctx: &Context, a: NewArgs) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    ctx.check_env(&a.env)?;
    let base = platform.base_dir();
    let dir = match platform
        .spec
        .requests
        .as_ref()
        .and_then(|q| q.paths.first())
    {
        Some(g) => {
            let literal: Vec<&str> = g
                .value
                .split('/')
                .take_while(|seg| !seg.contains(['*', '?', '[', '{']))
                .collect();
            base.join(literal.join("/"))
        }
        None => base.join("requests"),
    }
    .join(&a.env);
    // The next free id across every request file there is.
    let existing = all_files(ctx).unwrap_or_default();
    let mut max = 0u32;
    for f in &existing {
        if let Ok(t) = std::fs::read_to_string(f)
            && let Some(id) = gp_core::yaml::parse(&t)
                .ok()
                .flatten()
                .and_then(|n| gp_core::resource::file_id(&n).map(str::to_string))
            && let Some(n) = id.strip_prefix("RDS-").and_then(|n| n.parse::<u32>().ok())
        {
            max = max.max(n);
        }
    }
    let id = format!("RDS-{:04}", max + 1);
    let requester = a.requester.clone().unwrap_or_else(|| ctx.actor());
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let text = format!(
        "# A database request, written by `goldenpath request new rds`.\nid: {id}\nservice: postgres\nenvironment: {}\nowner: {}\nrequester: {}\nmetadata:\n  title: {}\n  created: {}\nspec:\n  databaseName: {}\n  username: {}\n  size: {}\n  domain: {}\n  storageGb: {}\n  maxStorageGb: {}\n  backupRetentionDays: {}\n  multiAz: {}\n  performanceInsights: false\n  risk: {}\n",
        q(&a.env),
        q(&a.owner),
        q(&requester),
        q(a.title
            .as_deref()
            .unwrap_or(&format!("{} database", a.database))),
        chrono::Utc::now().format("%Y-%m-%d"),
        q(&a.database),
        q(&a.username),
        a.size,
        q(&a.domain),
        a.storage_gb,
        a.max_storage_gb,
        a.backup_retention_days,
        a.multi_az,
        a.risk,
    );
    let path = dir.join(format!("{id}.yaml"));
    let relative = PathBuf::from(shown(&path));
    // What is written must read back as a valid request.
    let loaded = LoadedRequest::from_source(&relative, &text)?;
    check_enums(ctx, &loaded)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::invalid(format!("cannot create {}: {e}", dir.display())))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", relative.display())))?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::RequestNewOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            request: id.clone(),
            file: relative.display().to_string(),
        })?;
    } else {
        ctx.printer.data(&format!(
            "wrote {} ({id}); next: goldenpath request validate {id}",
            relative.display()
        ))?;
    }
    Ok(())
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

/// A request of any kind.
pub(crate) enum AnyRequest {
    /// A database request.
    Database(LoadedRequest),
    /// A bucket, secret or repository request.
    Resource(gp_core::resource::LoadedResource),
}

impl AnyRequest {
    /// Its approval-facing face.
    pub(crate) fn approvable(&self) -> &dyn gp_core::request::Approvable {
        match self {
            AnyRequest::Database(r) => r,
            AnyRequest::Resource(r) => r,
        }
    }
    /// Whether it needs an approval.
    pub(crate) fn needs_approval(&self) -> bool {
        match self {
            AnyRequest::Database(r) => r.needs_approval(),
            AnyRequest::Resource(r) => r.needs_approval(),
        }
    }
}

/// The request whose id is `id`, among the files the spec names (never a
/// path from the caller), read and checked as `load` does.
pub(crate) fn load_by_id(
    platform: &gp_core::Platform,
    id: &str,
) -> anyhow::Result<Option<AnyRequest>> {
    let base = platform.base_dir();
    for f in request_files(platform)? {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let holds = gp_core::yaml::parse(&text)
            .ok()
            .flatten()
            .and_then(|n| gp_core::resource::file_id(&n).map(|i| i == id))
            .unwrap_or(false);
        if holds {
            let relative = f
                .strip_prefix(base)
                .map(Path::to_path_buf)
                .unwrap_or(f.clone());
            if gp_core::yaml::parse(&text)
                .ok()
                .flatten()
                .is_some_and(|n| gp_core::resource::detect(&n).is_some())
            {
                let r = gp_core::resource::LoadedResource::from_source(&relative, &text)?;
                return Ok(Some(AnyRequest::Resource(r)));
            }
            let r = LoadedRequest::from_source(&relative, &text)?;
            check_enums_of(platform, &r)?;
            return Ok(Some(AnyRequest::Database(r)));
        }
    }
    Ok(None)
}

/// Loads a request (schema errors exit 2 through the caller's `?`).
fn load(ctx: &Context, arg: &str) -> anyhow::Result<LoadedRequest> {
    let path = locate(ctx, arg)?;
    let relative = PathBuf::from(shown(&path));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", relative.display())))?;
    let r = LoadedRequest::from_source(&relative, &text)?;
    check_enums(ctx, &r)?;
    Ok(r)
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
        // Ids are unique across files: a duplicate names both (exit 2).
        let mut by_id: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for f in &files {
            if let Some(id) = std::fs::read_to_string(f).ok().and_then(|t| {
                gp_core::yaml::parse(&t)
                    .ok()
                    .flatten()
                    .and_then(|n| gp_core::resource::file_id(&n).map(str::to_string))
            }) {
                by_id.entry(id).or_default().push(shown(Path::new(f)));
            }
        }
        for (id, holders) in &by_id {
            if holders.len() > 1 {
                ctx.printer.error(
                    &format!(
                        "request id {id} is used by {} files: {}",
                        holders.len(),
                        holders.join(", ")
                    ),
                    &[],
                    Some("give each request its own id"),
                );
                worst = Some(Code::Invalid);
            }
        }
        for f in &files {
            if let Ok(path) = locate(ctx, f)
                && super::resource::is_resource(&path)
            {
                match super::resource::load(ctx, &path) {
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
                        let (check, code) = super::resource::check(ctx, engine, &r);
                        if code.is_some() && worst.is_none() {
                            worst = code;
                        }
                        results.push(check);
                    }
                }
                continue;
            }
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
    let path = locate(ctx, &a.request)?;
    if super::resource::is_resource(&path) {
        let r = super::resource::load(ctx, &path)?;
        return with_engine(ctx, |engine| super::resource::plan(ctx, engine, &r));
    }
    let r = load(ctx, &a.request)?;
    with_engine(ctx, |engine| {
        let d = engine.request_plan(&r)?;
        let refused = print_refusals(ctx, &d.refusals);
        // Its status: planned (with what it would change), or refused.
        engine.record_request(
            &r,
            if refused.is_empty() {
                "planned"
            } else {
                "refused"
            },
            serde_json::json!({"hash": r.hash, "steps": d.steps, "reasons": refused}),
        )?;
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
            ctx.printer
                .json(&crate::outputs::RequestPlanDocument::Database(
                    crate::outputs::RequestPlanOutput {
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
                    },
                ))?;
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
    let path = locate(ctx, &a.request)?;
    if super::resource::is_resource(&path) {
        let r = super::resource::load(ctx, &path)?;
        return with_engine(ctx, |engine| super::resource::apply(ctx, engine, &r));
    }
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
        let external_secret = write_external_secret(ctx, &r, &secret)?;
        if ctx.printer.is_json() {
            ctx.printer
                .json(&crate::outputs::RequestAppliedDocument::Database(
                    crate::outputs::RequestAppliedOutput {
                        schema_version: crate::outputs::SCHEMA_VERSION,
                        request: req.id.value.clone(),
                        env: req.environment.value.clone(),
                        instance: done.instance.clone(),
                        database: req.database_name.value.clone(),
                        role: req.username.value.clone(),
                        secret_path: secret.clone(),
                        external_secret: shown(&external_secret),
                        counts,
                    },
                ))?;
        } else {
            let what = if counts.added + counts.changed == 0 {
                "unchanged"
            } else if counts.added > 0 {
                "created"
            } else {
                "updated"
            };
            ctx.printer.data(&format!(
                "request {}: database {} on {} in {} {what}\n  role    {}\n  secret  {}\n  ExternalSecret {}",
                req.id.value,
                req.database_name.value,
                done.instance,
                req.environment.value,
                req.username.value,
                secret,
                shown(&external_secret)
            ))?;
        }
        Ok(())
    })
}

fn approve(ctx: &Context, a: ApproveArgs) -> anyhow::Result<()> {
    let path = locate(ctx, &a.request)?;
    let resource = if super::resource::is_resource(&path) {
        Some(super::resource::load(ctx, &path)?)
    } else {
        None
    };
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
    if let Some(r) = resource {
        return with_engine(ctx, |engine| {
            super::resource::approve(ctx, engine, &r, &approver, a.reason.as_deref())
        });
    }
    let r = load(ctx, &a.request)?;
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
    let (json, rows) = request_rows(ctx.platform()?, ctx.registry()?, a.env.as_deref())?;
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
        &["REQUEST", "KIND", "ENV", "RESOURCE", "STATE", "BY", "AT"],
        &rows,
    ))?;
    Ok(())
}

/// Every request (files and registry) with its state, for `request list`
/// and the server: the JSON rows and the table's.
pub(crate) fn request_rows(
    platform: &gp_core::Platform,
    registry: &gp_registry::Registry,
    only_env: Option<&str>,
) -> anyhow::Result<(Vec<crate::outputs::RequestRow>, Vec<Vec<String>>)> {
    let events = registry.request_events(None)?;
    let mut ids: Vec<(String, String)> = Vec::new();
    // Each file's id: its kind, environment, resource, whether it breaks
    // a rule, whether it needs an approval.
    let mut files: std::collections::BTreeMap<String, (String, String, bool, bool)> =
        Default::default();
    for f in request_files(platform)? {
        if super::resource::is_resource(&f) {
            if let Ok(r) = gp_core::resource::LoadedResource::load(&f) {
                ids.push((r.id().value.clone(), r.env().to_string()));
                files.insert(
                    r.id().value.clone(),
                    (
                        r.kind().as_str().to_string(),
                        r.resource_name().to_string(),
                        !r.guard(platform).is_empty(),
                        r.needs_approval(),
                    ),
                );
            }
        } else if let Ok(r) = LoadedRequest::load(&f) {
            ids.push((
                r.request.id.value.clone(),
                r.request.environment.value.clone(),
            ));
            files.insert(
                r.request.id.value.clone(),
                (
                    "rds".to_string(),
                    r.request.database_name.value.clone(),
                    !r.guard(platform).is_empty(),
                    r.needs_approval(),
                ),
            );
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
        if only_env.is_some_and(|e| e != env) {
            continue;
        }
        let mine: Vec<&RequestEvent> = events.iter().filter(|e| e.request_id == id).collect();
        let last = mine.last();
        // A refused approval (the requester, or someone of no group of its
        // route) leaves the request where it was.
        let moved = mine
            .iter()
            .rev()
            .find(|e| {
                // A step of an apply is not a state of its own.
                e.event != "step"
                    && !(e.event == "refused"
                        && e.detail
                            .as_ref()
                            .is_some_and(|d| d.get("approver").is_some()))
            })
            .copied();
        let file = files.get(&id);
        let breaks_rules = file.is_some_and(|f| f.2);
        let needs = file.is_some_and(|f| f.3);
        let state = match (moved, file) {
            (None, Some(_)) if breaks_rules => "breaks a rule (request validate)".to_string(),
            (None, Some(_)) if needs => "awaiting approval".to_string(),
            (None, _) => "not applied".to_string(),
            (Some(e), Some(_))
                if e.event == "planned" && needs && !mine.iter().any(|x| x.event == "approved") =>
            {
                "planned, awaiting approval".to_string()
            }
            (Some(e), _) if e.event == "apply_started" => "applying (or interrupted)".to_string(),
            (Some(e), _) => e.event.clone(),
        };
        let kind = file
            .map(|f| f.0.clone())
            .or_else(|| mine.first().map(|e| e.kind.clone()))
            .unwrap_or_default();
        let resource = file
            .map(|f| f.1.clone())
            .or_else(|| {
                mine.iter().rev().find_map(|e| {
                    let d = e.detail.as_ref()?;
                    d.get("database")
                        .or_else(|| d.get("resource"))
                        .and_then(|d| d.as_str())
                        .map(str::to_string)
                })
            })
            .unwrap_or_default();
        let database = if kind == "rds" {
            resource.clone()
        } else {
            String::new()
        };
        let (by, at) = last
            .map(|e| (e.actor.clone(), when(e.at_us)))
            .unwrap_or_default();
        json.push(crate::outputs::RequestRow {
            request: id.clone(),
            kind: kind.clone(),
            env: env.clone(),
            database,
            resource: resource.clone(),
            state: state.clone(),
            by: by.clone(),
            at: at.clone(),
            events: mine.iter().map(|e| (*e).clone()).collect(),
        });
        rows.push(vec![id, kind, env, resource, state, by, at]);
    }
    Ok((json, rows))
}

/// A Kubernetes name from a database's: lower case, `_` → `-`, only
/// `[a-z0-9-]`, no leading or trailing `-`, at most 63 characters.
pub fn k8s_name(text: &str) -> String {
    let mut out: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// The ExternalSecret the requesting app reads its credentials through,
/// written beside the GitOps repository's renders:
/// `{gitops}/requests/{env}/{id}-externalsecret.yaml`.
fn write_external_secret(
    ctx: &Context,
    r: &LoadedRequest,
    secret_path: &str,
) -> anyhow::Result<PathBuf> {
    let platform = ctx.platform()?;
    let req = &r.request;
    let app = k8s_name(&req.database_name.value);
    let name = format!("{app}-postgres");
    let data: Vec<serde_json::Value> = ["username", "password", "host", "port", "dbname", "engine"]
        .iter()
        .map(|k| serde_json::json!({"secretKey": k, "remoteRef": {"key": secret_path, "property": k}}))
        .collect();
    let version =
        gp_driver_gitops::render::external_secrets_api_version(platform, &req.environment.value);
    let es = serde_json::json!({
        "apiVersion": format!("external-secrets.io/{version}"),
        "kind": "ExternalSecret",
        "metadata": {
            "name": name,
            "namespace": app,
            "labels": {
                "app.kubernetes.io/managed-by": "goldenpath",
                "goldenpath.dev/request": req.id.value,
            },
        },
        "spec": {
            "refreshInterval": platform.spec.gitops.refresh_interval,
            "secretStoreRef": {"name": platform.spec.gitops.secret_store, "kind": "ClusterSecretStore"},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": data,
        },
    });
    // Checked against the External Secrets CRD of that version first.
    gp_driver_gitops::schemas::check_external_secret(&es, &shown(&r.path))
        .map_err(|e| CliError::failed(e.to_string()))?;
    let dir = platform
        .base_dir()
        .join(&platform.spec.gitops.path.value)
        .join("requests")
        .join(&req.environment.value);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::invalid(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!("{}-externalsecret.yaml", req.id.value));
    // JSON is YAML: one line a reader and kubectl both take.
    let text = serde_json::to_string_pretty(&es).unwrap_or_default() + "\n";
    std::fs::write(&path, text)
        .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}
