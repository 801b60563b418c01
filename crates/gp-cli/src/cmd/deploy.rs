//! `goldenpath deploy` and `goldenpath teardown`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use clap::Args;
use gp_core::{BuildId, BuildIdArg};
use gp_engine::run::ComponentResult;
use gp_engine::{DeployRequest, DeploymentSelector, TeardownRequest, TeardownTarget};

use crate::Context;
use crate::exit::{CliError, Code, Reported};
use crate::printer::table;
use crate::progress::Progress;

/// Arguments of `goldenpath deploy`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("deployment").required(true).args(["build_id", "persistent", "foundational"])))]
pub struct DeployArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Deploy a build: DD-MM-YY-NN, or `auto` for today's next free id.
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: Option<String>,
    /// Deploy the environment's persistent deployment.
    #[arg(long)]
    pub persistent: bool,
    /// Deploy the foundational plane: the named components, or all of them.
    #[arg(long, num_args = 0.., value_name = "NAME")]
    pub foundational: Option<Vec<String>>,
    /// Continue an interrupted deployment from its journal.
    #[arg(long)]
    pub resume: bool,
    /// Components deployed at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Fail (exit 1) unless every target is deployed: a run that leaves a
    /// component waiting on something outside it (`partial`) is a
    /// failure, not a success with a warning.
    #[arg(long)]
    pub require_all: bool,
    /// Put back the drift `goldenpath drift` found in the foundational
    /// plane: needs an approval of that check by someone else (`goldenpath
    /// drift --foundational --approve NAME --reason ...`).
    #[arg(long, requires = "foundational")]
    pub remediate_drift: bool,
    /// A new build's life instead of the environment's ttl (`6h`, `2d`),
    /// at most its `maxTtl`; `goldenpath reap` tears it down after.
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Deploy a torn-down (retired) build id again; REASON is recorded
    /// with your name.
    #[arg(long, value_name = "REASON", alias = "override-reason")]
    pub reuse_retired: Option<String>,
    /// Override a guard that refuses a component: COMPONENT (every guard)
    /// or COMPONENT:GUARD (protect, maxDestroy, ...); repeatable.
    #[arg(
        long,
        value_name = "COMPONENT[:GUARD]",
        requires = "reason",
        help_heading = "Guard overrides"
    )]
    pub override_guard: Vec<String>,
    /// New passwords for the database roles of a postgres COMPONENT, even
    /// where the stored ones still log in (written to the secrets in the
    /// same step); repeatable, needs --reason (recorded with your name).
    #[arg(
        long,
        value_name = "COMPONENT",
        requires = "reason",
        help_heading = "Guard overrides"
    )]
    pub rotate: Vec<String>,
    /// Let a policy rule's denials through for this run (its id, as
    /// `goldenpath policy list` shows it); repeatable, needs --reason
    /// (recorded with your name, the findings recorded as overridden).
    #[arg(
        long,
        value_name = "RULE",
        requires = "reason",
        help_heading = "Guard overrides"
    )]
    pub override_policy: Vec<String>,
    /// Why the guards are overridden (recorded with your name).
    #[arg(long, help_heading = "Guard overrides")]
    pub reason: Option<String>,
}

/// Arguments of `goldenpath teardown`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("deployment").required(true).args(["build_id", "pull_request", "persistent", "foundational"])))]
pub struct TeardownArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Tear down this build.
    #[arg(long, value_name = "BUILD_ID")]
    pub build_id: Option<String>,
    /// Tear down pull request NUMBER's preview build, if it has one (none
    /// is no error: nothing to tear down).
    #[arg(long, value_name = "NUMBER", value_parser = clap::value_parser!(u64).range(1..))]
    pub pull_request: Option<u64>,
    /// Tear down the environment's persistent deployment (needs --confirm).
    #[arg(long)]
    pub persistent: bool,
    /// Tear down foundational components (all of them when none is named).
    #[arg(long, num_args = 0.., value_name = "NAME")]
    pub foundational: Option<Vec<String>>,
    /// Required for the persistent deployment and the foundational plane.
    #[arg(long)]
    pub confirm: bool,
    /// Required, per name, for a protected foundational component.
    #[arg(long, value_name = "NAME", help_heading = "Guard overrides")]
    pub break_glass: Vec<String>,
    /// Override a guard that refuses destroying a component's resources:
    /// COMPONENT or COMPONENT:GUARD; repeatable.
    #[arg(
        long,
        value_name = "COMPONENT[:GUARD]",
        requires = "reason",
        help_heading = "Guard overrides"
    )]
    pub override_guard: Vec<String>,
    /// Why (recorded with a break-glass or a guard override).
    #[arg(long, help_heading = "Guard overrides")]
    pub reason: Option<String>,
    /// With --foundational: tear down first what depends on the targets —
    /// builds, the persistent deployment, requests' databases on them —
    /// each through its own recorded teardown (without it, a foundational
    /// teardown with dependents is refused and lists them).
    #[arg(long, requires = "foundational")]
    pub cascade: bool,
}

/// Parses `--override-guard` values.
fn overrides(
    specs: &[String],
    reason: Option<&str>,
) -> anyhow::Result<Vec<gp_engine::GuardOverride>> {
    let reason = reason.unwrap_or_default();
    if !specs.is_empty() && reason.trim().is_empty() {
        return Err(CliError::invalid("--override-guard needs a --reason").into());
    }
    specs
        .iter()
        .map(|s| {
            gp_engine::GuardOverride::parse(s, reason).ok_or_else(|| {
                CliError::invalid(format!("invalid --override-guard `{s}`"))
                    .hint("use COMPONENT or COMPONENT:GUARD")
                    .into()
            })
        })
        .collect()
}

/// Ctrl-C sets this: stop starting new work. A second Ctrl-C exits at once.
fn cancel_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
        flag
    })
    .clone()
}

/// Runs `deploy`.
pub fn deploy(ctx: &Context, a: DeployArgs) -> anyhow::Result<()> {
    let selector = match (&a.foundational, &a.build_id) {
        (Some(names), _) => DeploymentSelector::Foundational(names.clone()),
        (None, Some(b)) => DeploymentSelector::Build(b.parse::<BuildIdArg>()?),
        (None, None) => DeploymentSelector::Persistent,
    };
    // Bad input stops before the registry is opened (and created): an
    // unknown environment, a deployment in which nothing can run.
    ctx.check_env(&a.env)?;
    gp_engine::run::check_deployable(ctx.platform()?, &a.env, &selector)?;
    let ttl_s = match &a.ttl {
        None => None,
        Some(_) if a.build_id.is_none() => {
            return Err(CliError::invalid("--ttl is for a build (--build-id)").into());
        }
        Some(t) => Some(gp_core::spec::parse_duration(t).ok_or_else(|| {
            CliError::invalid(format!("--ttl `{t}` is not a duration")).hint("e.g. 6h, 30m, 2d")
        })?),
    };
    let drivers = ctx.drivers()?;
    // What this machine lacks (a Terraform root, a program, a backend) is
    // reported with the spec's positions before anything is reserved.
    gp_engine::validate(ctx.platform()?, &drivers)?;
    ctx.preflight(&drivers)?;
    let progress = Progress::new(&ctx.printer, ctx.global.verbose > 0);
    let cancel = cancel_flag();
    let mut engine = ctx.engine(&drivers, &progress, &cancel)?;
    engine.parallel = usize::from(a.parallel);
    // In a pull request's workflow a build is that pull request's preview:
    // recorded with it (and its head commit, not the merge commit), and
    // `auto` deploys the build it already has, on every push.
    let mut selector = selector;
    if let (Some(pr), DeploymentSelector::Build(arg)) = (crate::github::pull_request(), &selector) {
        if matches!(arg, BuildIdArg::Auto)
            && let Some(b) = engine.pull_request_build(&a.env, pr.number)?
        {
            ctx.printer.status(&format!(
                "pull request #{}: its preview is build {b}",
                pr.number
            ));
            selector = DeploymentSelector::Build(BuildIdArg::Id(b));
        }
        engine.commit = Some(pr.head_sha.clone());
        engine.pull_request = Some(pr.reference());
    }
    let outcome = engine.deploy(&DeployRequest {
        env: a.env.clone(),
        selector,
        resume: a.resume,
        override_reason: a.reuse_retired.clone(),
        today: None,
        overrides: overrides(
            &a.override_guard
                .iter()
                .cloned()
                .chain(a.rotate.iter().map(|c| format!("{c}:rotate-credentials")))
                .collect::<Vec<_>>(),
            a.reason.as_deref(),
        )?,
        ttl_s,
        remediate_drift: a.remediate_drift,
        policy_overrides: a
            .override_policy
            .iter()
            .map(|rule| gp_engine::PolicyOverride {
                rule: rule.clone(),
                reason: a.reason.clone().unwrap_or_default(),
            })
            .collect(),
    })?;
    if ctx.printer.is_json() {
        ctx.printer
            .json_line(&serde_json::json!({"event": "outcome", "outcome": outcome}))?;
    } else {
        let rows: Vec<Vec<String>> = outcome
            .components
            .iter()
            .map(|c| {
                let (result, detail) = match &c.result {
                    ComponentResult::Applied {
                        action,
                        duration_ms,
                    } => (
                        crate::progress::past(action),
                        format!("{:.1}s", *duration_ms as f64 / 1000.0),
                    ),
                    ComponentResult::Unchanged => ("unchanged".into(), String::new()),
                    ComponentResult::Ready => ("ready".into(), "foundational".into()),
                    ComponentResult::Skipped { reason } => ("skipped".into(), reason.clone()),
                    ComponentResult::Pending { reason, .. } => ("pending".into(), reason.clone()),
                    ComponentResult::Blocked { reason } => ("blocked".into(), reason.clone()),
                    ComponentResult::NotDeployed { reason, .. } => {
                        ("not-deployed".into(), reason.clone())
                    }
                    ComponentResult::Failed { error } => ("failed".into(), error.clone()),
                    ComponentResult::Refused { error } => ("refused".into(), error.clone()),
                    ComponentResult::NotStarted => ("not-started".into(), String::new()),
                };
                vec![c.component.clone(), c.tier.to_string(), result, detail]
            })
            .collect();
        let title = match &outcome.build_id {
            Some(b) => format!(
                "{} build {b}{}\n",
                outcome.env,
                match outcome.reserved {
                    Some(true) => " (reserved)",
                    Some(false) => " (existing)",
                    None => "",
                }
            ),
            None => format!("{} {}\n", outcome.env, outcome.deployment),
        };
        ctx.printer.data(&format!(
            "{title}{}{}",
            table(&["COMPONENT", "TIER", "RESULT", "DETAIL"], &rows),
            crate::printer::next_steps(outcome.components.iter().filter_map(|c| match &c.result {
                ComponentResult::Pending { next, .. } => next.as_deref(),
                _ => None,
            }))
        ))?;
    }
    if ctx.printer.output() == crate::printer::Output::Github {
        let annotations = crate::github::report_deploy(
            ctx.platform()?,
            &ctx.state_dir()?,
            &outcome,
            ctx.run_url().as_deref(),
        )
        .map_err(|e| CliError::failed(format!("cannot write for GitHub Actions: {e}")))?;
        if !annotations.is_empty() {
            ctx.printer.data(annotations.trim_end())?;
        }
    }
    // The same command, naming the build: `auto` again would reserve a new
    // id and leave this one behind.
    let again = match &outcome.build_id {
        Some(b) => format!("goldenpath deploy --env {} --build-id {b}", outcome.env),
        None => format!(
            "goldenpath deploy --env {}{}",
            outcome.env,
            gp_core::Deployment::flags_of_key(&outcome.deployment)
        ),
    };
    if outcome.lease_lost {
        return Err(CliError::failed("the deployment's lease was lost mid-run; stopped starting new work")
            .hint("someone force-unlocked it or the registry was unreachable; check: goldenpath lease list")
            .into());
    }
    if outcome.interrupted {
        return Err(CliError::failed(
            "interrupted: running actions finished, nothing new was started",
        )
        .hint(format!("continue with: {again} --resume"))
        .into());
    }
    if outcome.refused() {
        if !ctx.printer.is_json() {
            ctx.printer.error(
                "deploy refused: a guard, a policy or an ownership rule stopped a component; it was not changed",
                &[],
                Some("see the refused components above; override a guard with --override-guard COMPONENT[:GUARD] --reason \"...\""),
            );
        }
        return Err(Reported(Code::Refused).into());
    }
    if outcome.deployed_nothing() {
        if !ctx.printer.is_json() {
            ctx.printer.error(
                "deploy failed: nothing was deployed; every component is pending, blocked or skipped",
                &[],
                Some(&format!(
                    "deploy what they wait for (above), then: {again}"
                )),
            );
        }
        return Err(Reported(Code::Failed).into());
    }
    if !outcome.succeeded() {
        if !ctx.printer.is_json() {
            ctx.printer.error(
                "deploy failed",
                &[],
                Some(&format!(
                    "see the failed components above; fix the cause, then continue with: {again} --resume"
                )),
            );
        }
        return Err(Reported(Code::Failed).into());
    }
    let pending = outcome.pending();
    if !pending.is_empty() && a.require_all {
        if !ctx.printer.is_json() {
            ctx.printer.error(
                &format!(
                    "deploy partial: {} component(s) wait on something outside this deployment, and --require-all asks for every one",
                    pending.len()
                ),
                &[],
                Some("deploy what they wait for (the next: lines above), then run this again"),
            );
        }
        return Err(Reported(Code::Failed).into());
    }
    if !pending.is_empty() && !ctx.printer.is_json() {
        ctx.printer.warn(&format!(
            "partial: {} of {} component(s) pending: {}",
            pending.len(),
            outcome
                .components
                .iter()
                .filter(|c| c.role == "target")
                .count(),
            pending
                .iter()
                .map(|c| c.component.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(())
}

/// Runs `teardown`.
pub fn teardown(ctx: &Context, a: TeardownArgs) -> anyhow::Result<()> {
    let target = match (&a.foundational, &a.build_id) {
        (Some(names), _) => TeardownTarget::Foundational(names.clone()),
        (None, Some(b)) if b == "auto" => {
            return Err(CliError::invalid("teardown needs the build id, not `auto`").into());
        }
        (None, Some(b)) => TeardownTarget::Build(b.parse::<BuildId>()?),
        // With --pull-request, resolved from the registry below.
        (None, None) => TeardownTarget::Persistent,
    };
    ctx.check_env(&a.env)?;
    // A misspelt foundational name is reported (with a did-you-mean)
    // before anything else.
    if let TeardownTarget::Foundational(names) = &target {
        gp_engine::Graph::build(
            ctx.platform()?,
            &a.env,
            gp_core::Deployment::Foundational,
            names,
        )
        .map_err(gp_engine::EngineError::from)?;
    }
    // Nothing was ever recorded here: nothing to tear down, and nothing is
    // created to say so.
    ctx.require_registry()?;
    let progress = Progress::new(&ctx.printer, ctx.global.verbose > 0);
    let cancel = cancel_flag();
    let drivers = ctx.drivers()?;
    let engine = ctx.engine(&drivers, &progress, &cancel)?;
    let pr = crate::github::pull_request();
    let target = match a.pull_request {
        Some(n) => match engine.pull_request_build(&a.env, n)? {
            Some(b) => TeardownTarget::Build(b),
            None => {
                ctx.printer.status(&format!(
                    "pull request #{n} has no preview build in {}: nothing to tear down",
                    a.env
                ));
                if ctx.printer.output() == crate::printer::Output::Github {
                    crate::github::report_no_preview(
                        &ctx.state_dir()?,
                        n,
                        pr.as_ref(),
                        ctx.run_url().as_deref(),
                    )
                    .map_err(|e| {
                        CliError::failed(format!("cannot write for GitHub Actions: {e}"))
                    })?;
                }
                return Ok(());
            }
        },
        None => target,
    };
    let outcome = engine.teardown(&TeardownRequest {
        env: a.env.clone(),
        target,
        confirm: a.confirm,
        break_glass: a.break_glass.clone(),
        reason: a.reason.clone(),
        overrides: overrides(&a.override_guard, a.reason.as_deref())?,
        cascade: a.cascade,
    })?;
    if ctx.printer.is_json() {
        ctx.printer
            .json_line(&serde_json::json!({"event": "outcome", "outcome": outcome}))?;
    } else {
        let mut out = format!(
            "teardown of {} in {}: {} destroyed, {} failed, {} kept (adopted)\n",
            outcome.deployment,
            outcome.env,
            outcome.destroyed.len(),
            outcome.failed.len(),
            outcome.kept.len()
        );
        for d in &outcome.cascaded {
            out.push_str(&format!("torn down first (--cascade): {d}\n"));
        }
        if outcome.orphans.is_empty() {
            out.push_str("orphan check: nothing left behind\n");
        } else {
            out.push_str(&format!(
                "orphan check: {} resource(s) still exist\n",
                outcome.orphans.len()
            ));
            let rows: Vec<Vec<String>> = outcome
                .orphans
                .iter()
                .map(|o| vec![o.component.clone(), o.resource.clone(), o.state.clone()])
                .collect();
            out.push_str(&table(&["COMPONENT", "RESOURCE", "STATE"], &rows));
        }
        for u in &outcome.unverified {
            out.push_str(&format!(
                "not verifiable: {} {} (its driver cannot check it)\n",
                u.component, u.resource
            ));
        }
        ctx.printer.data(&out)?;
    }
    if ctx.printer.output() == crate::printer::Output::Github {
        crate::github::report_teardown(
            &ctx.state_dir()?,
            &outcome,
            pr.as_ref().filter(|p| Some(p.number) == a.pull_request),
            ctx.run_url().as_deref(),
        )
        .map_err(|e| CliError::failed(format!("cannot write for GitHub Actions: {e}")))?;
    }
    if !outcome.clean() {
        return Err(CliError::failed("teardown left resources behind")
            .hint("fix the cause and run the same teardown again; it only destroys what is still there")
            .into());
    }
    Ok(())
}
