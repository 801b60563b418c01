//! `goldenpath request ...` for bucket, secret and repository requests
//! (`S3-NNNN`, `SEC-NNNN`, `ECR-NNNN`), and `goldenpath resources list`.
//!
//! The verbs are the database requests' (`request validate|plan|approve|
//! apply|list`); `request.rs` hands a file of these kinds here. A file is
//! checked against its kind's schema (exit 2, positioned; unknown fields
//! are warnings, a near-miss of a known one an error), then the platform's
//! rules (exit 3, recorded, nothing created). `apply` creates or adopts
//! the resource on AWS, recording every change with the request; a secret
//! request with a namespace gets its ExternalSecret in the GitOps tree,
//! checked against the External Secrets CRD it is written for.

use std::path::PathBuf;

use clap::Args;
use gp_core::request::Approvable;
use gp_core::resource::LoadedResource;
use gp_driver::cloud::CloudResources;

use super::{shown, when};
use crate::Context;
use crate::exit::{CliError, Code, Reported};
use crate::printer::table;

/// Arguments of `resources list`.
#[derive(Debug, Args)]
pub struct ResourcesArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Only this kind: rds, s3, secret, ecr.
    #[arg(long, value_parser = ["rds", "s3", "secret", "ecr"])]
    pub kind: Option<String>,
}

/// `resources list`.
#[derive(Debug, clap::Subcommand)]
pub enum ResourcesCommand {
    /// What requests created or adopted (databases, buckets, secrets,
    /// repositories), with who asked and who applied.
    List(ResourcesArgs),
}

/// Runs `resources ...`.
pub fn run(ctx: &Context, cmd: ResourcesCommand) -> anyhow::Result<()> {
    match cmd {
        ResourcesCommand::List(a) => list(ctx, a),
    }
}

/// The cloud the requests are applied in: AWS in the spec's
/// `requests.region` (else `secrets.region`, else the SDK's chain).
fn cloud(ctx: &Context) -> anyhow::Result<Box<dyn CloudResources>> {
    let platform = ctx.platform()?;
    let _region = platform
        .spec
        .requests
        .as_ref()
        .and_then(|q| q.region.clone())
        .or_else(|| platform.spec.secrets.region.clone());
    #[cfg(feature = "aws")]
    {
        Ok(Box::new(gp_aws::AwsResources::new(_region.as_deref())?))
    }
    #[cfg(not(feature = "aws"))]
    {
        Err(CliError::invalid(
            "bucket, secret and repository requests are applied through the AWS SDK, which is not built into this binary (built without the `aws` feature)",
        )
        .into())
    }
}

/// Reads a resource request file, printing its warnings.
pub(crate) fn load(ctx: &Context, path: &std::path::Path) -> anyhow::Result<LoadedResource> {
    let relative = PathBuf::from(shown(path));
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", relative.display())))?;
    let r = LoadedResource::from_source(&relative, &text)?;
    for w in &r.warnings {
        ctx.printer.warn(&w.to_string());
    }
    Ok(r)
}

/// Whether a file is a bucket, secret or repository request.
pub(crate) fn is_resource(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| gp_core::yaml::parse(&t).ok().flatten())
        .is_some_and(|n| gp_core::resource::detect(&n).is_some())
}

/// `request validate` of one file: its result, and the worst code.
pub(crate) fn check(
    ctx: &Context,
    engine: &gp_engine::Engine<'_>,
    r: &LoadedResource,
) -> (crate::outputs::RequestCheck, Option<Code>) {
    let refused: Vec<String> = r
        .guard(engine.platform)
        .iter()
        .map(|d| {
            ctx.printer.error(&d.to_string(), &[], d.hint.as_deref());
            d.message.clone()
        })
        .collect();
    if refused.is_empty() {
        ctx.printer.status(&format!(
            "{} ({}, a {} request) is valid{}",
            shown(&r.path),
            r.id().value,
            r.kind().noun(),
            if r.needs_approval() {
                format!("; it needs an approval ({})", r.approval_reason())
            } else {
                String::new()
            }
        ));
    }
    let code = (!refused.is_empty()).then_some(Code::Refused);
    (
        crate::outputs::RequestCheck {
            request: r.id().value.clone(),
            file: shown(&r.path),
            valid: true,
            refused,
            needs_approval: r.needs_approval(),
        },
        code,
    )
}

/// The ExternalSecret of a secret request, in the API version the
/// platform's External Secrets serves, checked against that CRD version.
fn external_secret(
    platform: &gp_core::Platform,
    r: &LoadedResource,
    d: &gp_core::resource::Desired,
) -> anyhow::Result<Option<serde_json::Value>> {
    let version = gp_driver_gitops::render::external_secrets_api_version(platform, r.env());
    let Some(es) = gp_engine::resources::external_secret(platform, r, d, version) else {
        return Ok(None);
    };
    gp_driver_gitops::schemas::check_external_secret(&es, &shown(&r.path))
        .map_err(|e| CliError::failed(e.to_string()))?;
    Ok(Some(es))
}

/// `request plan`.
pub(crate) fn plan(
    ctx: &Context,
    engine: &gp_engine::Engine<'_>,
    r: &LoadedResource,
) -> anyhow::Result<()> {
    let cloud = cloud(ctx)?;
    let d = engine.resource_plan(r, cloud.as_ref())?;
    let mut refused: Vec<String> = d
        .refusals
        .iter()
        .map(|x| {
            ctx.printer.error(&x.to_string(), &[], x.hint.as_deref());
            x.message.clone()
        })
        .collect();
    let resource = gp_engine::resources::desired_name(&d.desired);
    if let Some(other) = &d.taken_by {
        refused.push(format!(
            "{} {resource} was applied by request {other}",
            r.kind().noun()
        ));
    }
    if let Some(other) = d
        .cloud
        .as_ref()
        .and_then(|c| c.tagged_request.as_ref())
        .filter(|o| **o != r.id().value)
    {
        refused.push(format!(
            "{} {resource} exists and is tagged for request {other}",
            r.kind().noun()
        ));
    }
    let es = external_secret(engine.platform, r, &d.desired)?;
    engine.record_request(
        r,
        if refused.is_empty() {
            "planned"
        } else {
            "refused"
        },
        serde_json::json!({
            "hash": r.hash,
            "resource": resource,
            "steps": d.cloud.as_ref().map(|c| c.changes.clone()).unwrap_or_default(),
            "reasons": refused,
        }),
    )?;
    let changes = d
        .cloud
        .as_ref()
        .map(|c| c.changes.clone())
        .unwrap_or_default();
    if ctx.printer.is_json() {
        ctx.printer
            .json(&crate::outputs::RequestPlanDocument::Resource(
                crate::outputs::ResourcePlanOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    request: r.id().value.clone(),
                    kind: r.kind().as_str().into(),
                    env: r.env().into(),
                    resource: resource.clone(),
                    desired: d.desired.clone(),
                    exists: d.cloud.as_ref().map(|c| c.exists),
                    changes: changes.clone(),
                    cloud_error: d.cloud_error.clone(),
                    external_secret: es.clone(),
                    refused: refused.clone(),
                    needs_approval: d.needs_approval.is_some(),
                    approval_reason: d.needs_approval.map(str::to_string),
                    approved: d.approval.is_some(),
                    hash: r.hash.clone(),
                },
            ))?;
    } else {
        let approval = match (d.needs_approval, &d.approval) {
            (None, _) => "not needed".to_string(),
            (Some(_), Some(a)) => format!("recorded by {} at {}", a.by, when(a.at_us)),
            (Some(why), None) => format!(
                "required ({why}), missing: an approver runs goldenpath request approve {}",
                r.id().value
            ),
        };
        let defaulted = match &d.desired {
            gp_core::resource::Desired::Bucket(b) => &b.defaulted,
            gp_core::resource::Desired::Secret(s) => &s.defaulted,
            gp_core::resource::Desired::Repository(x) => &x.defaulted,
        };
        let mut text = format!(
            "request {} ({}, a {} request)\n  environment  {}\n  {:<12} {resource}\n  state        {}\n",
            r.id().value,
            shown(&r.path),
            r.kind().noun(),
            r.env(),
            r.kind().noun(),
            match (&d.cloud, &d.cloud_error) {
                (Some(c), _) if c.exists => "exists: apply adopts it".to_string(),
                (Some(_), _) => "does not exist: apply creates it".to_string(),
                (None, Some(e)) => format!("cannot be read: {e}"),
                (None, None) => "not read (it breaks a rule)".to_string(),
            }
        );
        if changes.is_empty() && d.cloud.is_some() {
            text.push_str("  changes      none: it is as asked\n");
        }
        for (i, c) in changes.iter().enumerate() {
            text.push_str(&format!(
                "  {:<12} {c}\n",
                if i == 0 { "changes" } else { "" }
            ));
        }
        for (i, c) in defaulted.iter().enumerate() {
            text.push_str(&format!(
                "  {:<12} {c}\n",
                if i == 0 { "defaults" } else { "" }
            ));
        }
        if let Some(es) = &es {
            text.push_str(&format!(
                "  ExternalSecret {} in {}\n",
                es["metadata"]["name"].as_str().unwrap_or_default(),
                es["metadata"]["namespace"].as_str().unwrap_or_default()
            ));
        }
        text.push_str(&format!("  approval     {approval}"));
        if !refused.is_empty() {
            text.push_str(&format!("\n  refused      {}", refused.join("; ")));
        }
        ctx.printer.data(&text)?;
    }
    if !refused.is_empty() {
        return Err(Reported(Code::Refused).into());
    }
    // A plan that could not read what is there is not a plan.
    if let Some(e) = &d.cloud_error {
        return Err(CliError::failed(format!(
            "request {}: the {} could not be read: {e}",
            r.id().value,
            r.kind().noun()
        ))
        .into());
    }
    Ok(())
}

/// `request apply`.
pub(crate) fn apply(
    ctx: &Context,
    engine: &gp_engine::Engine<'_>,
    r: &LoadedResource,
) -> anyhow::Result<()> {
    let problems = r.guard(engine.platform);
    for d in &problems {
        ctx.printer.error(&d.to_string(), &[], d.hint.as_deref());
    }
    let desired = engine.resource_desired(r)?;
    // The ExternalSecret is built and checked before anything is made.
    let es = if problems.is_empty() {
        external_secret(engine.platform, r, &desired)?
    } else {
        None
    };
    let cloud = cloud(ctx)?;
    let done = engine.resource_apply(r, cloud.as_ref())?;
    let written = match &es {
        Some(es) => Some(write_external_secret(ctx, r, es)?),
        None => None,
    };
    let resource = gp_engine::resources::desired_name(&desired);
    if ctx.printer.is_json() {
        ctx.printer
            .json(&crate::outputs::RequestAppliedDocument::Resource(
                crate::outputs::ResourceAppliedOutput {
                    schema_version: crate::outputs::SCHEMA_VERSION,
                    request: r.id().value.clone(),
                    kind: r.kind().as_str().into(),
                    env: r.env().into(),
                    resource: resource.clone(),
                    arn: done.arn.clone(),
                    created: done.created,
                    changes: done.changes.clone(),
                    external_secret: written.as_ref().map(|p| shown(p)),
                },
            ))?;
    } else {
        let what = if done.created {
            "created"
        } else if done.changes.is_empty() {
            "unchanged"
        } else {
            "adopted and updated"
        };
        let mut text = format!(
            "request {}: {} {resource} in {} {what}\n  arn     {}",
            r.id().value,
            r.kind().noun(),
            r.env(),
            done.arn
        );
        for c in &done.changes {
            text.push_str(&format!("\n  done    {c}"));
        }
        if let Some(p) = &written {
            text.push_str(&format!("\n  ExternalSecret {}", shown(p)));
        }
        ctx.printer.data(&text)?;
    }
    Ok(())
}

/// Writes the ExternalSecret beside the database requests' (`requests/{env}/`
/// in the GitOps tree); with a GitOps remote, commits and pushes it.
fn write_external_secret(
    ctx: &Context,
    r: &LoadedResource,
    es: &serde_json::Value,
) -> anyhow::Result<PathBuf> {
    let platform = ctx.platform()?;
    let root = gp_driver_gitops::gitops_dir(platform);
    let name = es["metadata"]["name"].as_str().unwrap_or_default();
    let relative = format!("requests/{}/{name}.yaml", r.env());
    let path = root.join(&relative);
    let _lock = gp_driver_gitops::git::lock(&root).map_err(|e| CliError::failed(e.to_string()))?;
    if let Some(remote) = &platform.spec.gitops.remote {
        gp_driver_gitops::git::sync(&root, remote).map_err(|e| CliError::failed(e.to_string()))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    let text = gp_driver_gitops::render::yaml(es).map_err(|e| CliError::failed(e.to_string()))?;
    let same = std::fs::read_to_string(&path).is_ok_and(|t| t == text);
    if !same {
        std::fs::write(&path, &text)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    if platform.spec.gitops.git || platform.spec.gitops.remote.is_some() {
        gp_driver_gitops::git::ensure_repo(&root).map_err(|e| CliError::failed(e.to_string()))?;
        gp_driver_gitops::git::commit(
            &root,
            &[relative.as_str()],
            &format!(
                "goldenpath: ExternalSecret {name} for request {}",
                r.id().value
            ),
        )
        .map_err(|e| CliError::failed(e.to_string()))?;
        if let Some(remote) = &platform.spec.gitops.remote {
            gp_driver_gitops::git::push(&root, remote)
                .map_err(|e| CliError::failed(e.to_string()))?;
        }
    }
    Ok(path)
}

/// `request approve` of a resource request.
pub(crate) fn approve(
    ctx: &Context,
    engine: &gp_engine::Engine<'_>,
    r: &LoadedResource,
    approver: &str,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    engine.approve_any(r, approver, reason)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::RequestApprovedOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            request: r.id().value.clone(),
            by: approver.to_string(),
            hash: r.hash.clone(),
            needed: r.needs_approval(),
        })?;
    }
    ctx.printer.status(&format!(
        "approved {} (content {}) by {approver}; recorded",
        r.request_id(),
        r.hash
    ));
    if !r.needs_approval() {
        ctx.printer
            .warn("this request does not need an approval; it was recorded anyway");
    }
    Ok(())
}

/// What requests applied, from the registry: the latest `applied` event
/// of each (kind, environment, resource).
pub(crate) fn resource_rows(
    registry: &gp_registry::Registry,
    env: Option<&str>,
    kind: Option<&str>,
) -> anyhow::Result<Vec<crate::outputs::ResourceRow>> {
    let mut latest: std::collections::BTreeMap<
        (String, String, String),
        crate::outputs::ResourceRow,
    > = Default::default();
    for e in registry.request_events(None)? {
        if e.event != "applied"
            || env.is_some_and(|x| x != e.env)
            || kind.is_some_and(|k| k != e.kind)
        {
            continue;
        }
        let field = |k: &str| {
            e.detail
                .as_ref()
                .and_then(|d| d.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let resource = field("resource")
            .or_else(|| field("database"))
            .unwrap_or_default();
        let row = crate::outputs::ResourceRow {
            kind: e.kind.clone(),
            env: e.env.clone(),
            resource: resource.clone(),
            arn: field("arn"),
            request: e.request_id.clone(),
            requester: field("requester").unwrap_or_default(),
            applied_by: e.actor.clone(),
            at: when(e.at_us),
            created: e
                .detail
                .as_ref()
                .and_then(|d| d.get("created"))
                .and_then(|v| v.as_bool()),
        };
        latest.insert((e.kind.clone(), e.env.clone(), resource), row);
    }
    Ok(latest.into_values().collect())
}

fn list(ctx: &Context, a: ResourcesArgs) -> anyhow::Result<()> {
    let rows = resource_rows(ctx.registry()?, a.env.as_deref(), a.kind.as_deref())?;
    if ctx.printer.is_json() {
        ctx.printer.json(&crate::outputs::ResourcesOutput {
            schema_version: crate::outputs::SCHEMA_VERSION,
            resources: rows,
        })?;
        return Ok(());
    }
    if rows.is_empty() {
        ctx.printer.data("no resources applied by requests")?;
        return Ok(());
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.kind.clone(),
                r.env.clone(),
                r.resource.clone(),
                r.request.clone(),
                r.requester.clone(),
                r.applied_by.clone(),
                r.at.clone(),
            ]
        })
        .collect();
    ctx.printer.data(&table(
        &[
            "KIND",
            "ENV",
            "RESOURCE",
            "REQUEST",
            "ASKED BY",
            "APPLIED BY",
            "AT",
        ],
        &table_rows,
    ))?;
    Ok(())
}
