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
    /// One build; without it (and without --persistent or
    /// --foundational), the foundational plane, the persistent deployment
    /// and a line per live build.
    #[arg(long, value_name = "BUILD_ID", conflicts_with_all = ["foundational", "persistent"])]
    pub build_id: Option<String>,
    /// Only the persistent deployment.
    #[arg(long, conflicts_with = "foundational")]
    pub persistent: bool,
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
    /// A build (DD-MM-YY-NN, or `auto` for the id a deploy would reserve
    /// now); without it (or --foundational), the persistent deployment.
    #[arg(long, value_name = "BUILD_ID", conflicts_with_all = ["foundational", "persistent"])]
    pub build_id: Option<String>,
    /// The persistent deployment (the default).
    #[arg(long, conflicts_with = "foundational")]
    pub persistent: bool,
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
    /// A build; without it (or --foundational), the persistent deployment.
    #[arg(long, value_name = "BUILD_ID", conflicts_with_all = ["foundational", "persistent"])]
    pub build_id: Option<String>,
    /// The persistent deployment (the default).
    #[arg(long, conflicts_with = "foundational")]
    pub persistent: bool,
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

/// An output value as a table shows it: strings bare, paths below the
/// current directory relative to it; `None` for an empty value.
fn output_cell(v: &serde_json::Value) -> Option<String> {
    let text = match v {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) if s.is_empty() => return None,
        serde_json::Value::String(s) if s.starts_with('/') => {
            crate::cmd::shown(std::path::Path::new(s))
        }
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(text)
}

fn render_status(s: &DeploymentStatus, title: &str) -> String {
    let status = if s.pending > 0 {
        format!("{}, {} pending", s.status, s.pending)
    } else {
        s.status.clone()
    };
    let mut out = format!("{title}: {status}\n");
    if s.expires_us.is_some() || s.kept.is_some() {
        let left =
            gp_engine::expiry::time_left(s.expires_us, s.kept.as_deref(), gp_registry::now_us());
        match &s.kept {
            Some(reason) => out.push_str(&format!("expiry: kept ({reason})\n")),
            None => out.push_str(&format!(
                "expiry: {left} ({})\n",
                s.expires_us.map(crate::cmd::when).unwrap_or_default()
            )),
        }
    }
    let rows: Vec<Vec<String>> = s
        .components
        .iter()
        .map(|c| {
            let detail = c.reason.clone().unwrap_or_else(|| {
                c.outputs
                    .iter()
                    .filter_map(|(k, v)| output_cell(v).map(|v| format!("{k}={v}")))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            vec![
                c.component.clone(),
                c.plane.to_string(),
                c.tier.to_string(),
                c.state.to_string(),
                detail,
            ]
        })
        .collect();
    out.push_str(&table(
        &["COMPONENT", "PLANE", "TIER", "STATE", "DETAIL"],
        &rows,
    ));
    // What the latest drift check found since each component's last apply.
    for c in &s.components {
        if let Some(d) = &c.drift {
            out.push_str(&format!(
                "\ndrift in {} (found {}): {}",
                c.component,
                crate::cmd::when(d.found_us),
                d.differences.join("; ")
            ));
        }
    }
    // The commands that move this deployment on, from its own components
    // (a foundational dependency's row says it is missing; the components
    // waiting on it carry the command).
    out.push_str(&crate::printer::next_steps(
        s.components
            .iter()
            .filter(|c| c.role == "target" || s.deployment == "foundational")
            .filter_map(|c| c.next.as_deref()),
    ));
    out
}

/// Runs `status`.
pub fn status(ctx: &Context, a: StatusArgs) -> anyhow::Result<()> {
    let drivers = ctx.drivers()?;
    let cancel = AtomicBool::new(false);
    let engine = ctx.engine(&drivers, &NoEvents, &cancel)?;
    if a.build_id.is_some() || a.foundational || a.persistent {
        let d = deployment(&a.build_id, a.foundational)?;
        ctx.check_env(&a.env)?;
        if let Deployment::Ephemeral(b) = d {
            let reg = ctx.registry()?;
            if reg.reservation(&a.env, b)?.is_none()
                && reg.deployment_events(&a.env, &b.to_string())?.is_empty()
            {
                return Err(CliError::invalid(format!(
                    "build {b} was never deployed in {}",
                    a.env
                ))
                .hint(format!(
                    "list the builds with: goldenpath builds list --env {}; see what a deploy would do with: goldenpath plan --env {} --build-id {b}",
                    a.env, a.env
                ))
                .into());
            }
        }
        let s = engine.status(&a.env, d)?;
        if ctx.printer.is_json() {
            ctx.printer.json(&s)?;
        } else {
            let title = match d {
                Deployment::Ephemeral(b) => format!("{} build {b}", a.env),
                other => format!("{} {}", a.env, other),
            };
            ctx.printer.data(&render_status(&s, &title))?;
            if ctx.printer.output() == crate::printer::Output::Github {
                crate::github::report_status(&s, &title).map_err(|e| {
                    CliError::failed(format!("cannot write for GitHub Actions: {e}"))
                })?;
            }
        }
        return Ok(());
    }
    ctx.check_env(&a.env)?;
    let o = engine.overview(&a.env)?;
    if ctx.printer.is_json() {
        ctx.printer.json(&o)?;
        return super::refuse_tampered(ctx, &o.tampered);
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
            let expiry = if b.expires_us.is_some() || b.kept.is_some() {
                format!(
                    ", {}",
                    gp_engine::expiry::time_left(
                        b.expires_us,
                        b.kept.as_deref(),
                        gp_registry::now_us()
                    )
                    .replace("in ", "expires in ")
                )
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {}  {}  (reserved {} by {}{expiry}) — goldenpath status --env {} --build-id {}\n",
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
    if ctx.printer.output() == crate::printer::Output::Github {
        let write = |s: &gp_engine::status::DeploymentStatus, title: &str| {
            crate::github::report_status(s, title)
                .map_err(|e| CliError::failed(format!("cannot write for GitHub Actions: {e}")))
        };
        write(&o.foundational, &format!("{} foundational plane", a.env))?;
        write(&o.persistent, &format!("{} persistent deployment", a.env))?;
    }
    super::refuse_tampered(ctx, &o.tampered)
}

/// Runs `plan`.
pub fn plan(ctx: &Context, a: PlanArgs) -> anyhow::Result<()> {
    let drivers = ctx.drivers()?;
    let cancel = AtomicBool::new(false);
    // `-v` shows what the drivers run to observe (terraform init and plan,
    // the checks); JSON stays one document.
    let progress = crate::progress::Progress::for_command(&ctx.printer, ctx.global.verbose > 0);
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let (d, targets) = match (&a.foundational, a.build_id.as_deref()) {
        (Some(t), _) => (Deployment::Foundational, t.clone()),
        (None, None) => (Deployment::Persistent, Vec::new()),
        (None, Some(b)) => match b.parse::<BuildIdArg>()? {
            // A pull request's plan is of the build it already has, if any.
            BuildIdArg::Auto => match crate::github::pull_request()
                .map(|pr| engine.pull_request_build(&a.env, pr.number))
                .transpose()?
                .flatten()
            {
                Some(b) => (Deployment::Ephemeral(b), Vec::new()),
                None => (
                    Deployment::Ephemeral(ctx.registry()?.next_auto(&a.env, None)?),
                    Vec::new(),
                ),
            },
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
    let next = crate::printer::next_steps(
        p.items
            .iter()
            .filter(|i| i.role == "target")
            .filter_map(|i| i.next.as_deref()),
    );
    let title = match &p.build_id {
        Some(b) => format!("plan for {} build {b}\n", p.env),
        None => format!("plan for {} {}\n", p.env, p.deployment),
    };
    ctx.printer.data(&format!(
        "{title}{}{next}",
        table(&["COMPONENT", "PLANE", "TIER", "ACTION", "DETAIL"], &rows)
    ))?;
    if ctx.printer.output() == crate::printer::Output::Github {
        crate::github::report_plan(&ctx.state_dir()?, &p).map_err(|e| {
            crate::exit::CliError::failed(format!("cannot write for GitHub Actions: {e}"))
        })?;
    }
    Ok(())
}

/// Runs `graph`.
/// A deployment's graph as `graph --output json` prints it.
pub(crate) fn graph_output(
    platform: &gp_core::Platform,
    env: &str,
    d: Deployment,
    g: &gp_engine::Graph,
) -> crate::outputs::GraphOutput {
    use crate::outputs::{GraphEdge, GraphNode, GraphOutput};
    let nodes = g
        .nodes
        .iter()
        .map(|n| {
            let spec = g.spec(platform, n);
            let (disposition, reason) = match &n.disposition {
                gp_engine::Disposition::Run => ("run", None),
                gp_engine::Disposition::Skip(r) => ("skip", Some(r.clone())),
                gp_engine::Disposition::Blocked(r) => ("blocked", Some(r.clone())),
            };
            GraphNode {
                component: n.name.clone(),
                plane: spec.plane.value,
                tier: spec.tier.value,
                role: n.role.as_str().into(),
                disposition: disposition.into(),
                reason,
            }
        })
        .collect();
    let edges = g
        .nodes
        .iter()
        .flat_map(|n| {
            n.needs.iter().map(|(r, i)| GraphEdge {
                from: n.name.clone(),
                to: g.nodes[*i].name.clone(),
                need: r.to_string(),
            })
        })
        .collect();
    GraphOutput {
        schema_version: crate::outputs::SCHEMA_VERSION,
        env: env.into(),
        deployment: d.key(),
        nodes,
        edges,
    }
}

pub fn graph(ctx: &Context, a: GraphArgs) -> anyhow::Result<()> {
    let platform = ctx.platform()?;
    let d = deployment(&a.build_id, a.foundational)?;
    let g = gp_engine::Graph::build(platform, &a.env, d, &[])?;
    if ctx.printer.is_json() {
        ctx.printer.json(&graph_output(platform, &a.env, d, &g))?;
        return Ok(());
    }
    let format = match a.format {
        Format::Mermaid => gp_engine::GraphFormat::Mermaid,
        Format::Dot => gp_engine::GraphFormat::Dot,
    };
    ctx.printer
        .data(&gp_engine::graph::render(&g, platform, format))?;
    Ok(())
}
