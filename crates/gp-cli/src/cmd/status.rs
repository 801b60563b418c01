//! `goldenpath status`, `goldenpath plan` and `goldenpath graph`.

use std::sync::atomic::AtomicBool;

use clap::{Args, ValueEnum};
use gp_core::{BuildId, BuildIdArg, Deployment};
use gp_engine::NoEvents;
use gp_engine::status::DeploymentStatus;

use crate::Context;
use crate::exit::CliError;
use crate::printer::table;

/// Arguments of `goldenpath status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// One build; without it, the foundational plane, the persistent
    /// deployment and a line per live build.
    #[arg(long, value_name = "BUILD_ID", conflicts_with = "foundational")]
    pub build_id: Option<String>,
    /// Only the foundational plane.
    #[arg(long)]
    pub foundational: bool,
}

/// Arguments of `goldenpath plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// A build (DD-MM-YY-NN, or `auto` for the id a deploy would reserve now).
    #[arg(long, value_name = "BUILD_ID", conflicts_with = "foundational")]
    pub build_id: Option<String>,
    /// The foundational plane: the named components, or all of them.
    #[arg(long, num_args = 0.., value_name = "NAME")]
    pub foundational: Option<Vec<String>>,
}

/// Graph formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Arguments of `goldenpath graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// A build.
    #[arg(long, value_name = "BUILD_ID", conflicts_with = "foundational")]
    pub build_id: Option<String>,
    /// The foundational plane.
    #[arg(long)]
    pub foundational: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    pub format: Format,
}

fn deployment(build_id: &Option<String>, foundational: bool) -> anyhow::Result<Deployment> {
    if foundational {
        return Ok(Deployment::Foundational);
    }
    match build_id.as_deref() {
        None => Ok(Deployment::Persistent),
        Some("auto") => Err(CliError::invalid("`auto` is only for deploy and plan").into()),
        Some(b) => Ok(Deployment::Ephemeral(b.parse::<BuildId>()?)),
    }
}

fn render_status(s: &DeploymentStatus, title: &str) -> String {
    let mut out = format!("{title}: {}\n", s.status);
    let rows: Vec<Vec<String>> = s
        .components
        .iter()
        .map(|c| {
            let outputs = c
                .outputs
                .iter()
                .take(3)
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" ");
            let note = match (&c.reason, &c.next) {
                (Some(r), Some(n)) if !r.contains(n.as_str()) => format!("{r} — run: {n}"),
                (Some(r), _) => r.clone(),
                (None, Some(n)) => format!("run: {n}"),
                (None, None) => outputs,
            };
            vec![
                c.component.clone(),
                c.plane.to_string(),
                c.tier.to_string(),
                c.state.clone(),
                note,
            ]
        })
        .collect();
    out.push_str(&table(
        &["COMPONENT", "PLANE", "TIER", "STATE", "DETAIL"],
        &rows,
    ));
    out
}

/// Runs `status`.
pub fn status(ctx: &Context, a: StatusArgs) -> anyhow::Result<()> {
    let drivers = ctx.drivers()?;
    let cancel = AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &NoEvents, &cancel)?;
    if a.build_id.is_some() || a.foundational {
        let d = deployment(&a.build_id, a.foundational)?;
        let s = engine.status(&a.env, d)?;
        if ctx.printer.is_json() {
            ctx.printer.json(&s)?;
        } else {
            let title = match d {
                Deployment::Ephemeral(b) => format!("{} build {b}", a.env),
                other => format!("{} {}", a.env, other),
            };
            ctx.printer.data(&render_status(&s, &title))?;
        }
        return Ok(());
    }
    let o = engine.overview(&a.env)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&o)?;
        return Ok(());
    }
    let mut out = render_status(&o.foundational, &format!("{} foundational plane", a.env));
    out.push('\n');
    out.push_str(&render_status(
        &o.persistent,
        &format!("{} persistent deployment", a.env),
    ));
    out.push('\n');
    if o.builds.is_empty() {
        out.push_str("builds: none live\n");
    } else {
        out.push_str("builds:\n");
        for b in &o.builds {
            out.push_str(&format!(
                "  {}  {}  (reserved {} by {}) — goldenpath status --env {} --build-id {}\n",
                b.build_id,
                b.status,
                crate::cmd::when(b.reserved_us),
                b.reserved_by,
                a.env,
                b.build_id
            ));
        }
    }
    ctx.printer.data(&out)?;
    Ok(())
}

/// Runs `plan`.
pub fn plan(ctx: &Context, a: PlanArgs) -> anyhow::Result<()> {
    let drivers = ctx.drivers()?;
    let cancel = AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &NoEvents, &cancel)?;
    let (d, targets) = match (&a.foundational, a.build_id.as_deref()) {
        (Some(t), _) => (Deployment::Foundational, t.clone()),
        (None, None) => (Deployment::Persistent, Vec::new()),
        (None, Some(b)) => match b.parse::<BuildIdArg>()? {
            BuildIdArg::Auto => (
                Deployment::Ephemeral(ctx.registry()?.next_auto(&a.env, None)?),
                Vec::new(),
            ),
            BuildIdArg::Id(id) => (Deployment::Ephemeral(id), Vec::new()),
        },
    };
    let p = engine.plan(&a.env, d, &targets)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&p)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = p
        .items
        .iter()
        .map(|i| {
            let mut detail = i.reason.clone().unwrap_or_default();
            if !i.details.is_empty() {
                if !detail.is_empty() {
                    detail.push_str("; ");
                }
                detail.push_str(&i.details.join("; "));
            }
            vec![
                i.component.clone(),
                i.plane.to_string(),
                i.tier.to_string(),
                i.action.to_string(),
                detail,
            ]
        })
        .collect();
    let title = match &p.build_id {
        Some(b) => format!("plan for {} build {b}\n", p.env),
        None => format!("plan for {} {}\n", p.env, p.deployment),
    };
    ctx.printer.data(&format!(
        "{title}{}",
        table(&["COMPONENT", "PLANE", "TIER", "ACTION", "DETAIL"], &rows)
    ))?;
    Ok(())
}

/// Runs `graph`.
pub fn graph(ctx: &Context, a: GraphArgs) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let d = deployment(&a.build_id, a.foundational)?;
    let g = gp_engine::Graph::build(platform, &a.env, d, &[])?;
    let format = match a.format {
        Format::Mermaid => gp_engine::GraphFormat::Mermaid,
        Format::Dot => gp_engine::GraphFormat::Dot,
    };
    ctx.printer
        .data(&gp_engine::graph::render(&g, platform, format))?;
    Ok(())
}
