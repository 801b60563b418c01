//! `goldenpath request validate|plan|apply|approve|withdraw|list|schema|new`
//! and `goldenpath resources list`: argument types and what they print.
//! The engine owns every request's lifecycle (`gp_engine::requests`).

use clap::{Args, Subcommand};
use gp_core::request::RequestKind;
use gp_driver::cloud::CloudResources;
use gp_engine::requests::{RequestPlan, RequestRow};

use super::when;
use crate::Context;

mod new;
mod resources;

use crate::exit::{CliError, Code, Reported};
use crate::printer::table;
use crate::progress::Progress;
pub use resources::{ResourcesCommand, run_resources};

/// `goldenpath request ...`.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Check request files: schema and what others own (exit 2), the
    /// platform's rules (exit 3).
    Validate(FilesArgs),
    /// What `apply` would do, what it delivers, and the approvals it needs
    /// and has.
    Plan(OneArgs),
    /// Apply a request: a database onto the environment's foundational
    /// instance, a bucket, secret or repository in AWS (created, or adopted
    /// with `adopt: true`), and its ExternalSecret through the GitOps
    /// repository.
    Apply(OneArgs),
    /// Record your approval of a request's current content.
    Approve(ApproveArgs),
    /// Withdraw an applied request: its ExternalSecret leaves the GitOps
    /// repository (committed and pushed); the resource itself is kept.
    Withdraw(WithdrawArgs),
    /// Requests in the request files and in the registry, with their state.
    List(ListArgs),
    /// Print the JSON Schema of a request file of a kind.
    Schema(SchemaArgs),
    /// Write a new request file in the platform's layout (the next free
    /// id, in the folder of requests.paths that is its kind's, under the
    /// environment).
    #[command(subcommand)]
    New(new::NewCommand),
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
    /// Default: every request file.
    pub requests: Vec<String>,
}

/// One request.
#[derive(Debug, Args)]
pub struct OneArgs {
    /// A file, or an id (RDS-0002) looked up in requests.paths.
    pub request: String,
}

/// Arguments of `request approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// A file, or an id (RDS-0002) looked up in requests.paths.
    pub request: String,
    /// Who approves: always the person running the command (the actor,
    /// from the CI identity or GOLDENPATH_ACTOR); given, it must match.
    #[arg(long)]
    pub by: Option<String>,
    /// A note recorded with the approval.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Arguments of `request withdraw`.
#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// The request's id.
    pub request: String,
    /// Why (recorded).
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
        RequestCommand::Withdraw(a) => withdraw(ctx, a),
        RequestCommand::List(a) => list(ctx, a),
        RequestCommand::Schema(a) => {
            let kind = RequestKind::parse(&a.kind).unwrap_or(RequestKind::Database);
            ctx.printer.json(&gp_core::request::json_schema(kind))?;
            Ok(())
        }
        RequestCommand::New(a) => new::new(ctx, a),
    }
}

/// The engine the request workflows run on.
pub(crate) fn with_engine<T>(
    ctx: &Context,
    f: impl FnOnce(&gp_engine::Engine<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let progress = Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    f(&engine)
}

/// The cloud bucket, secret and repository requests are applied in: AWS
/// in the spec's `requests.region` (else `secrets.region`, else the SDK's
/// chain); `None` for a database request, or without the AWS SDK.
pub(crate) fn cloud(
    ctx: &Context,
    kind: RequestKind,
) -> anyhow::Result<Option<Box<dyn CloudResources>>> {
    if kind == RequestKind::Database {
        return Ok(None);
    }
    let platform = ctx.platform()?;
    let _region = platform
        .spec
        .requests
        .as_ref()
        .and_then(|q| q.region.clone())
        .or_else(|| platform.spec.secrets.region.clone());
    #[cfg(feature = "aws")]
    {
        Ok(Some(Box::new(gp_aws::AwsResources::new(
            _region.as_deref(),
        )?)))
    }
    #[cfg(not(feature = "aws"))]
    {
        Ok(None)
    }
}

/// Prints positioned diagnostics as errors; returns their messages.
fn print_errors(ctx: &Context, problems: &[gp_core::Diagnostic]) -> Vec<String> {
    for d in problems {
        ctx.printer.error(&d.to_string(), &[], d.hint.as_deref());
    }
    problems.iter().map(|d| d.message.clone()).collect()
}

fn print_warnings(ctx: &Context, warnings: &[gp_core::Diagnostic]) {
    for w in warnings {
        ctx.printer.warn(&w.to_string());
    }
}

fn validate(ctx: &Context, a: FilesArgs) -> anyhow::Result<()> {
    with_engine(ctx, |engine| {
        let mut worst: Option<Code> = None;
        let mut results = Vec::new();
        let raise = |code: Code, worst: &mut Option<Code>| {
            if *worst != Some(Code::Invalid) {
                *worst = Some(code);
            }
        };
        let targets: Vec<String> = if a.requests.is_empty() {
            let loaded = engine.requests_loaded()?;
            for (id, files) in &loaded.duplicates {
                ctx.printer.error(
                    &format!(
                        "request id {id} is used by {} files: {}",
                        files.len(),
                        files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    &[],
                    Some("give each request its own id"),
                );
                raise(Code::Invalid, &mut worst);
            }
            engine
                .request_files()?
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        } else {
            a.requests
        };
        if targets.is_empty() {
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
        for f in &targets {
            let checked = engine
                .request_find(f, true)
                .and_then(|r| engine.request_check(&r).map(|c| (r, c)));
            match checked {
                Err(e) => {
                    crate::exit::report(&ctx.printer, &anyhow::Error::from(e));
                    raise(Code::Invalid, &mut worst);
                    results.push(crate::outputs::RequestCheck {
                        request: f.clone(),
                        file: f.clone(),
                        valid: false,
                        refused: Vec::new(),
                        needs_approval: false,
                    });
                }
                Ok((r, check)) => {
                    print_warnings(ctx, &r.warnings);
                    print_warnings(ctx, &check.advice);
                    let refused = print_errors(ctx, &check.refusals);
                    if refused.is_empty() {
                        ctx.printer.status(&format!(
                            "{} ({}, a {} request) is valid{}",
                            r.path.display(),
                            r.id().value,
                            r.kind().noun(),
                            check
                                .needs_approval
                                .map(|why| format!("; it needs an approval ({why})"))
                                .unwrap_or_default()
                        ));
                    } else if worst.is_none() {
                        worst = Some(Code::Refused);
                    }
                    results.push(crate::outputs::RequestCheck {
                        request: r.id().value.clone(),
                        file: r.path.display().to_string(),
                        valid: true,
                        refused,
                        needs_approval: check.needs_approval.is_some(),
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

/// The approval line of a plan.
fn approval_words(p: &RequestPlan) -> String {
    let a = &p.approval;
    match p.approval_reason {
        None => "not needed".to_string(),
        Some(_) if a.complete() => format!("recorded by {}", a.by()),
        Some(why) if a.approvals.is_empty() => format!(
            "required ({why}), missing{}: an approver runs goldenpath request approve {}",
            if a.missing.is_empty() {
                String::new()
            } else {
                format!(" ({})", a.missing.join(", "))
            },
            p.request
        ),
        Some(why) => format!(
            "required ({why}): {} so far, {} missing: goldenpath request approve {}",
            a.by(),
            a.missing.join(", "),
            p.request
        ),
    }
}

fn plan(ctx: &Context, a: OneArgs) -> anyhow::Result<()> {
    // Read before the registry is opened: bad input writes nothing.
    let r = gp_engine::requests::discover::find(ctx.platform()?, &a.request, true)?;
    with_engine(ctx, |engine| {
        print_warnings(ctx, &r.warnings);
        print_warnings(ctx, &r.advice(engine.platform));
        let cloud = cloud(ctx, r.kind())?;
        let p = engine.request_plan(&r, cloud.as_deref())?;
        print_errors(ctx, &p.refusals);
        if ctx.printer.is_json() {
            ctx.printer
                .json(&crate::outputs::RequestPlanOutput::of(&p))?;
        } else {
            let noun = r.kind().noun();
            let mut text = format!(
                "request {} ({}, a {noun} request)\n  environment  {}\n  {:<12} {}\n",
                p.request,
                r.path.display(),
                p.env,
                noun,
                p.resource
            );
            if let Some(i) = &p.instance {
                text.push_str(&format!("  instance     {i}\n"));
            }
            if let gp_core::request::Desired::Database(d) = &p.desired {
                text.push_str(&format!(
                    "  role         {}\n  secret       {}\n",
                    d.role, d.secret_path
                ));
            }
            let state = match (p.exists, &p.read_error) {
                (Some(true), _) => match &p.existing_owner {
                    Some(owner) => format!("exists (owner {owner})"),
                    None => "exists".to_string(),
                },
                (Some(false), _) => "does not exist: apply creates it".to_string(),
                (None, Some(e)) => format!("cannot be read: {e}"),
                (None, None) => "not read (it is refused)".to_string(),
            };
            text.push_str(&format!("  state        {state}\n"));
            if p.changes.is_empty() && p.exists.is_some() {
                text.push_str("  changes      none: it is as asked\n");
            }
            for (i, c) in p.changes.iter().enumerate() {
                text.push_str(&format!(
                    "  {:<12} {c}\n",
                    if i == 0 { "changes" } else { "" }
                ));
            }
            for (i, c) in p.desired.defaulted().iter().enumerate() {
                text.push_str(&format!(
                    "  {:<12} {c}\n",
                    if i == 0 { "defaults" } else { "" }
                ));
            }
            for path in p.deliveries.keys() {
                text.push_str(&format!("  delivers     {path}\n"));
            }
            text.push_str(&format!("  approval     {}", approval_words(&p)));
            if !p.refused.is_empty() {
                text.push_str(&format!("\n  refused      {}", p.refused.join("; ")));
            }
            ctx.printer.data(&text)?;
            if ctx.printer.output() == crate::printer::Output::Github {
                crate::github::summary_block(
                    &format!("goldenpath request plan {}", p.request),
                    &text,
                )
                .map_err(|e| CliError::failed(format!("cannot write for GitHub Actions: {e}")))?;
            }
        }
        if !p.refused.is_empty() {
            return Err(Reported(Code::Refused).into());
        }
        // A plan that could not read what is there is not a plan.
        if let Some(e) = &p.read_error
            && r.kind() != RequestKind::Database
        {
            return Err(CliError::failed(format!(
                "request {}: the {} could not be read: {e}",
                p.request,
                r.kind().noun()
            ))
            .into());
        }
        Ok(())
    })
}

fn apply(ctx: &Context, a: OneArgs) -> anyhow::Result<()> {
    // Read before the registry is opened: bad input writes nothing.
    let r = gp_engine::requests::discover::find(ctx.platform()?, &a.request, true)?;
    with_engine(ctx, |engine| {
        print_warnings(ctx, &r.warnings);
        // The rules it breaks, each shown at its line; the engine records
        // the refusal.
        let broken = print_errors(ctx, &engine.request_check(&r)?.refusals);
        let cloud = cloud(ctx, r.kind())?;
        let done = match engine.request_apply(&r, cloud.as_deref()) {
            Err(gp_engine::EngineError::Refused { .. }) if !broken.is_empty() => {
                ctx.printer.status(&format!(
                    "request {} refused; nothing was changed",
                    r.id().value
                ));
                return Err(Reported(Code::Refused).into());
            }
            other => other?,
        };
        if ctx.printer.is_json() {
            ctx.printer
                .json(&crate::outputs::RequestAppliedOutput::of(&done))?;
            return Ok(());
        }
        let what = if done.created {
            "created"
        } else if done.counts.added + done.counts.changed == 0 && done.changes.is_empty() {
            "unchanged"
        } else {
            "adopted and updated"
        };
        let mut text = format!(
            "request {}: {} {}{} in {} {what}",
            done.request,
            r.kind().noun(),
            done.resource,
            done.instance
                .as_ref()
                .map(|i| format!(" on {i}"))
                .unwrap_or_default(),
            done.env
        );
        for (label, v) in [
            ("role", &done.role),
            ("secret", &done.secret_path),
            ("arn", &done.arn),
        ] {
            if let Some(v) = v {
                text.push_str(&format!("\n  {label:<8} {v}"));
            }
        }
        for c in &done.changes {
            text.push_str(&format!("\n  done     {c}"));
        }
        for f in &done.delivered {
            text.push_str(&format!("\n  delivered {f}"));
        }
        ctx.printer.data(&text)?;
        if ctx.printer.output() == crate::printer::Output::Github {
            crate::github::summary_block(
                &format!("goldenpath request apply {}", done.request),
                &text,
            )
            .map_err(|e| CliError::failed(format!("cannot write for GitHub Actions: {e}")))?;
        }
        Ok(())
    })
}

fn approve(ctx: &Context, a: ApproveArgs) -> anyhow::Result<()> {
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
    let r = gp_engine::requests::discover::find(ctx.platform()?, &a.request, true)?;
    with_engine(ctx, |engine| {
        let state = engine.request_approve(&r, &approver, a.reason.as_deref())?;
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestApprovedOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                request: r.id().value.clone(),
                by: approver.clone(),
                hash: r.hash.clone(),
                needed: r.needs_approval(),
                approved: state.complete(),
                missing: state.missing.clone(),
            })?;
        }
        ctx.printer.status(&format!(
            "approved {} (content {}) by {approver}; recorded{}",
            r.id().value,
            r.hash,
            if state.complete() {
                String::new()
            } else {
                format!("; still awaiting {}", state.missing.join(", "))
            }
        ));
        if !r.needs_approval() {
            ctx.printer
                .warn("this request does not need an approval; it was recorded anyway");
        }
        Ok(())
    })
}

fn withdraw(ctx: &Context, a: WithdrawArgs) -> anyhow::Result<()> {
    with_engine(ctx, |engine| {
        let done = engine.request_withdraw(&a.request, a.reason.as_deref())?;
        if ctx.printer.is_json() {
            ctx.printer.json(&crate::outputs::RequestWithdrawnOutput {
                schema_version: crate::outputs::SCHEMA_VERSION,
                withdrawn: done,
            })?;
            return Ok(());
        }
        let mut text = format!("request {} in {} withdrawn", done.request, done.env);
        for f in &done.removed {
            text.push_str(&format!("\n  removed  {f}"));
        }
        if let Some(k) = &done.kept {
            text.push_str(&format!(
                "\n  kept     {k} (a withdrawal never deletes what a request made)"
            ));
        }
        ctx.printer.data(&text)?;
        Ok(())
    })
}

fn list(ctx: &Context, a: ListArgs) -> anyhow::Result<()> {
    let rows = request_rows(ctx, a.env.as_deref())?;
    let tampered = tampered_rows(&rows);
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::RequestListOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            requests: rows,
        })?;
        return tampered;
    }
    if rows.is_empty() {
        ctx.printer.data("no requests")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (by, at) = r
                .last
                .as_ref()
                .map(|l| (l.by.clone(), when(l.at_us)))
                .unwrap_or_default();
            vec![
                r.request.clone(),
                r.kind.clone(),
                r.env.clone(),
                r.resource.clone(),
                r.state.clone(),
                approvers(r),
                by,
                at,
            ]
        })
        .collect();
    ctx.printer.data(&table(
        &[
            "REQUEST",
            "KIND",
            "ENV",
            "RESOURCE",
            "STATE",
            "APPROVED BY",
            "LAST BY",
            "AT",
        ],
        &cells,
    ))?;
    tampered
}

/// A view that showed a request as tampered exits 3, naming it.
fn tampered_rows(rows: &[RequestRow]) -> anyhow::Result<()> {
    match rows
        .iter()
        .find(|r| r.status == gp_engine::requests::RequestState::Tampered)
    {
        Some(r) => Err(gp_registry::RegistryError::Tampered {
            table: "request_events".into(),
            id: r.request.clone(),
            why: r.state.trim_start_matches("tampered: ").to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Who approved a request's current content, one name each.
pub(crate) fn approvers(r: &RequestRow) -> String {
    r.approvals
        .iter()
        .map(|a| a.by.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every request with its state, for `request list` and the server.
pub(crate) fn request_rows(ctx: &Context, env: Option<&str>) -> anyhow::Result<Vec<RequestRow>> {
    let drivers = ctx.drivers()?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
    Ok(engine.request_rows(env)?)
}
