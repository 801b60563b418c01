//! `deploy`: runs a deployment's graph through the drivers.
//!
//! Reserve the build id, take the deployment's lease, then schedule: a node
//! starts when everything it needs is done; independent nodes run in
//! parallel on a bounded pool. Each component's turn is a phase in the
//! registry and is bracketed in the journal by component entries, with the
//! driver's resource actions journalled in between. Ctrl-C stops new work,
//! lets running actions finish, and records the interruption; `--resume`
//! (or deploying the same build again) continues from the journal.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use gp_core::{BuildIdArg, Contract, Deployment, Plane, Tier};
use gp_driver::{Applied, ComponentCtx, ComponentOutputs, Counts, DriverError, ErrorKind, Intent};
use gp_registry::{DeploymentEvent, Reservation, ReserveRequest, Stage, new_id, now_us};
use serde::Serialize;

use crate::graph::{Disposition, Graph, GraphNode, Role};
use crate::plan::{Decision, decide};
use crate::recorder::RunRecorder;
use crate::state::{APPLY, ComponentState, DeploymentState};
use crate::wait::{Settle, Settled, Upstream};
use crate::{Engine, EngineError, Event, lease, refs};

mod record;
mod scheduler;
mod turn;
pub(crate) use scheduler::*;
pub(crate) use turn::*;

/// Which deployment to deploy.
#[derive(Clone, Debug)]
pub enum DeploymentSelector {
    /// The foundational plane (named components, or all).
    Foundational(Vec<String>),
    /// The persistent deployment.
    Persistent,
    /// A build: an id or `auto`.
    Build(BuildIdArg),
}

/// A deploy.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// Environment.
    pub env: String,
    /// Deployment.
    pub selector: DeploymentSelector,
    /// Continue an interrupted deployment.
    pub resume: bool,
    /// Re-use a retired build id, with this reason.
    pub override_reason: Option<String>,
    /// Today for `auto` (UTC when `None`).
    pub today: Option<(u8, u8, u8)>,
    /// Guards overridden for this run (recorded in the registry).
    pub overrides: Vec<crate::GuardOverride>,
    /// Policy rules let through for this run (recorded in the registry).
    pub policy_overrides: Vec<crate::PolicyOverride>,
    /// A new build's life, in seconds, instead of the environment's ttl
    /// (at most its `maxTtl`).
    pub ttl_s: Option<u64>,
    /// Put back drift found in the foundational plane (approved by someone
    /// else; see `Engine::approve_drift`).
    pub remediate_drift: bool,
}

impl DeployRequest {
    /// A plain deploy of `selector` in `env`.
    pub fn new(env: &str, selector: DeploymentSelector) -> Self {
        Self {
            env: env.into(),
            selector,
            resume: false,
            override_reason: None,
            today: None,
            overrides: Vec::new(),
            policy_overrides: Vec::new(),
            ttl_s: None,
            remediate_drift: false,
        }
    }
}

/// What became of one component.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(
    tag = "result",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum ComponentResult {
    /// Created, adopted or updated.
    Applied {
        /// What was done.
        action: String,
        /// How long it took.
        duration_ms: u64,
    },
    /// Nothing to do.
    Unchanged,
    /// A foundational dependency in place.
    Ready,
    /// Filtered out by tier or mode.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Waits for a foundational dependency that is not deployed (or a
    /// component that does); not a failure.
    Pending {
        /// What it waits for.
        reason: String,
        /// The command that unblocks it.
        next: Option<String>,
    },
    /// Cannot run because of this deployment: it needs a component that
    /// failed, is skipped here or is itself blocked.
    Blocked {
        /// Why.
        reason: String,
    },
    /// A foundational dependency that is not deployed.
    NotDeployed {
        /// Its state.
        reason: String,
        /// The command that deploys it.
        next: Option<String>,
    },
    /// It failed.
    Failed {
        /// The error.
        error: String,
    },
    /// A guard or an ownership rule refused it; nothing was changed.
    Refused {
        /// Why, and how to proceed.
        error: String,
    },
    /// Not started (interrupted, or the lease was lost).
    NotStarted,
}

/// One row of a deploy's outcome.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentOutcome {
    /// Component.
    pub component: String,
    /// Plane.
    pub plane: Plane,
    /// Tier.
    pub tier: Tier,
    /// `target` (this deployment's) or `dependency` (foundational).
    pub role: &'static str,
    /// What became of it.
    #[serde(flatten)]
    pub result: ComponentResult,
}

/// The result of a deploy.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployOutcome {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Build id of a build.
    pub build_id: Option<String>,
    /// Whether this run reserved the build id (false: it existed).
    pub reserved: Option<bool>,
    /// Run id.
    pub run_id: String,
    /// Per component, in graph order.
    pub components: Vec<ComponentOutcome>,
    /// Ctrl-C stopped it.
    pub interrupted: bool,
    /// The lease was lost mid-run.
    pub lease_lost: bool,
    /// `succeeded`, `partial` (it succeeded, but a target waits on
    /// something outside the deployment: by design when a story deploys in
    /// stages), `failed` or `interrupted`: what the registry records too.
    pub outcome: RunOutcome,
    /// Wall time.
    pub duration_ms: u64,
}

/// How a deploy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Everything it was to deploy is deployed.
    Succeeded,
    /// What could be deployed is; some targets wait outside the run.
    Partial,
    /// A component failed or was refused, or nothing was deployed.
    Failed,
    /// Ctrl-C, or the lease was lost.
    Interrupted,
}

impl RunOutcome {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Partial => "partial",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

impl DeployOutcome {
    /// How it ended, from its components.
    pub fn settle_outcome(&self) -> RunOutcome {
        if self.interrupted || self.lease_lost {
            RunOutcome::Interrupted
        } else if !self.succeeded() {
            RunOutcome::Failed
        } else if self.pending().is_empty() {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Partial
        }
    }

    /// No component failed, something was deployed, and the run was not
    /// interrupted.
    pub fn succeeded(&self) -> bool {
        !self.interrupted
            && !self.lease_lost
            && !self.deployed_nothing()
            && !self.components.iter().any(|c| {
                matches!(
                    c.result,
                    ComponentResult::Failed { .. }
                        | ComponentResult::Refused { .. }
                        | ComponentResult::NotStarted
                )
            })
    }

    /// Whether a guard or ownership rule refused a component.
    pub fn refused(&self) -> bool {
        self.components
            .iter()
            .any(|c| matches!(c.result, ComponentResult::Refused { .. }))
    }

    /// This deployment's components that wait on something outside it
    /// (foundational dependencies are not counted: they are the cause).
    pub fn pending(&self) -> Vec<&ComponentOutcome> {
        self.components
            .iter()
            .filter(|c| matches!(c.result, ComponentResult::Pending { .. }))
            .collect()
    }

    /// Whether the run deployed nothing: every component of the
    /// deployment is skipped, pending or blocked.
    pub fn deployed_nothing(&self) -> bool {
        self.components.iter().all(|c| {
            matches!(
                c.result,
                ComponentResult::Skipped { .. }
                    | ComponentResult::Pending { .. }
                    | ComponentResult::Blocked { .. }
                    | ComponentResult::NotDeployed { .. }
                    | ComponentResult::Ready
            )
        })
    }
}

/// The deployment a selector names, for a graph built before a build id
/// is reserved (the graph depends on the mode, not on which build), and
/// how messages name it.
fn probe(selector: &DeploymentSelector) -> Option<(Deployment, Vec<String>, String, String)> {
    Some(match selector {
        DeploymentSelector::Foundational(t) => (
            Deployment::Foundational,
            t.clone(),
            Deployment::Foundational.to_string(),
            Deployment::Foundational.flags(),
        ),
        DeploymentSelector::Persistent => (
            Deployment::Persistent,
            Vec::new(),
            Deployment::Persistent.to_string(),
            Deployment::Persistent.flags(),
        ),
        DeploymentSelector::Build(BuildIdArg::Id(b)) => {
            let d = Deployment::Ephemeral(*b);
            (d, Vec::new(), d.to_string(), d.flags())
        }
        DeploymentSelector::Build(BuildIdArg::Auto) => (
            Deployment::Ephemeral(gp_core::BuildId::new(1, 1, 26, 1).ok()?),
            Vec::new(),
            "build".into(),
            " --build-id auto".into(),
        ),
    })
}

/// Refuses, before anything is opened or recorded, a deployment in which
/// no component can ever run: every target is skipped (tier or mode) or
/// needs a skipped one. Exit 2: the spec makes it so.
pub fn check_deployable(
    platform: &gp_core::Platform,
    env: &str,
    selector: &DeploymentSelector,
) -> Result<(), EngineError> {
    let Some((d, targets, what, flags)) = probe(selector) else {
        return Ok(());
    };
    let graph = Graph::build(platform, env, d, &targets)?;
    let nodes: Vec<&GraphNode> = graph
        .nodes
        .iter()
        .filter(|n| n.role == Role::Target)
        .collect();
    if nodes.iter().any(|n| n.disposition == Disposition::Run) {
        return Ok(());
    }
    Err(EngineError::usage(
        format!(
            "nothing to deploy in {env} {what}: {}",
            summary(nodes.iter().map(|n| match &n.disposition {
                Disposition::Skip(r) | Disposition::Blocked(r) => format!("{}: {r}", n.name),
                Disposition::Run => n.name.clone(),
            }))
        ),
        Some(format!(
            "see why with: goldenpath plan --env {env}{flags}; nothing was reserved or recorded"
        )),
    ))
}

/// The first few of a list, then how many more.
fn summary(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    if all.is_empty() {
        return "it has no components".into();
    }
    let shown = all.iter().take(4).cloned().collect::<Vec<_>>().join("; ");
    match all.len().saturating_sub(4) {
        0 => shown,
        more => format!("{shown}; and {more} more"),
    }
}

impl Engine<'_> {
    /// Refuses a deployment whose every runnable target waits for a
    /// foundational dependency that is not deployed (directly or through
    /// another target): nothing would be deployed. Exit 1, naming the
    /// commands that unblock it; nothing is reserved.
    fn check_runnable(&self, env: &str, selector: &DeploymentSelector) -> Result<(), EngineError> {
        let Some((d, targets, what, _)) = probe(selector) else {
            return Ok(());
        };
        if d == Deployment::Foundational {
            return Ok(());
        }
        let graph = Graph::build(self.platform, env, d, &targets)?;
        let fstate = crate::state::DeploymentState::load(
            self.registry,
            env,
            &Deployment::Foundational.key(),
        )?;
        let settle = Settle::new(self, &graph, &fstate);
        let mut waits: Vec<Option<crate::Wait>> = Vec::with_capacity(graph.nodes.len());
        let mut runnable = false;
        for (i, node) in graph.nodes.iter().enumerate() {
            let wait = if node.role == Role::Dependency {
                None
            } else {
                let upstream = |d: usize| match &waits[d] {
                    Some(w) => Upstream::Pending(w.next.clone()),
                    None => Upstream::Clear,
                };
                match settle.settle(i, &upstream) {
                    Settled::Pending(w) => Some(w),
                    Settled::Runs { .. } => {
                        runnable |= node.role == Role::Target;
                        None
                    }
                    _ => None,
                }
            };
            waits.push(wait);
        }
        if runnable {
            return Ok(());
        }
        let mut next: Vec<String> = Vec::new();
        for n in waits.iter().flatten().filter_map(|w| w.next.clone()) {
            if !next.contains(&n) {
                next.push(n);
            }
        }
        Err(EngineError::failed(
            format!(
                "nothing to deploy in {env} {what} yet: {}",
                summary(
                    graph.nodes.iter().zip(&waits).filter_map(|(n, w)| w
                        .as_ref()
                        .map(|w| format!("{} {}", n.name, w.reason)))
                )
            ),
            Some(format!(
                "deploy what it waits for first: {}; nothing was reserved or recorded",
                next.join(", then ")
            )),
        ))
    }

    /// Deploys.
    pub fn deploy(&self, req: &DeployRequest) -> Result<DeployOutcome, EngineError> {
        let started = Instant::now();
        self.validate()?;
        let env = req.env.as_str();
        if self.platform.environment(env).is_none() {
            return Err(
                gp_core::Contract::new(self.platform, env, Deployment::Persistent)
                    .err()
                    .map(EngineError::from)
                    .unwrap_or_else(|| {
                        EngineError::usage(format!("unknown environment {env}"), None)
                    }),
            );
        }
        // A deployment in which nothing can run is refused before a build id
        // is reserved or anything is recorded: a green run that deployed
        // nothing would hide it.
        check_deployable(self.platform, env, &req.selector)?;
        self.check_runnable(env, &req.selector)?;
        self.check_policy_overrides(&req.policy_overrides)?;
        // Resolve the deployment; reserve a build id.
        let remediating = match &req.selector {
            DeploymentSelector::Foundational(t) => self.drift_gate(env, t, req.remediate_drift)?,
            _ => Vec::new(),
        };
        let (deployment, targets, reservation) = match &req.selector {
            DeploymentSelector::Foundational(t) => (Deployment::Foundational, t.clone(), None),
            DeploymentSelector::Persistent => (Deployment::Persistent, Vec::new(), None),
            DeploymentSelector::Build(arg) => {
                if req.resume && *arg == BuildIdArg::Auto {
                    return Err(EngineError::usage(
                        "--resume needs the build id to resume, not `auto`",
                        Some(format!("find it with: goldenpath builds list --env {env}")),
                    ));
                }
                if req.resume
                    && let BuildIdArg::Id(b) = arg
                    && self.registry.reservation(env, *b)?.is_none()
                {
                    return Err(EngineError::usage(
                        format!(
                            "build {b} was never deployed in {env}; there is nothing to resume"
                        ),
                        Some(format!(
                            "deploy it with: goldenpath deploy --env {env} --build-id {b}"
                        )),
                    ));
                }
                // --ttl gives a new build its life; an existing one's is
                // moved by `builds extend` (recorded, with a reason).
                if req.ttl_s.is_some()
                    && req.override_reason.is_none()
                    && let BuildIdArg::Id(b) = arg
                    && self.registry.reservation(env, *b)?.is_some()
                {
                    return Err(EngineError::usage(
                        format!("--ttl sets a new build's life, and build {b} exists in {env}"),
                        Some(format!(
                            "goldenpath builds extend --env {env} --build-id {b} --by {} --reason \"...\"",
                            crate::expiry::duration_arg(req.ttl_s.unwrap_or(0))
                        )),
                    ));
                }
                let mut r = ReserveRequest::new(env, *arg, &self.actor);
                r.override_reason = req.override_reason.as_deref();
                r.today = req.today;
                let policy = &self
                    .platform
                    .environment(env)
                    .map(|e| e.ephemeral.clone())
                    .unwrap_or_default();
                if let Some(t) = req.ttl_s
                    && t > policy.max_ttl_s()
                {
                    return Err(EngineError::usage(
                        format!(
                            "--ttl {} is more than {env} allows ({})",
                            crate::expiry::human(t as i64),
                            crate::expiry::human(policy.max_ttl_s() as i64)
                        ),
                        Some("ask for less, or raise ephemeral.maxTtl in the spec".into()),
                    ));
                }
                let res: Reservation = self.registry.reserve(&r)?;
                // A new build gets its expiry with its reservation.
                if res.new
                    && let Some(ttl) = req.ttl_s.or(policy.ttl_s())
                {
                    self.record_expiry_set(env, &res, ttl)?;
                }
                (Deployment::Ephemeral(res.build_id), Vec::new(), Some(res))
            }
        };
        let contract = Contract::new(self.platform, env, deployment)?;
        // Derive every host now: a name that breaks a DNS limit or leaves
        // the build's suffix is refused before anything is touched.
        contract.view()?;
        let graph = Graph::build(self.platform, env, deployment, &targets)?;
        let key = deployment.key();
        let (run_id, lease) = self.take_lease(env, &key)?;

        let stop = AtomicBool::new(false);
        let lost = AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            let heartbeat = scope.spawn(|| {
                lease::heartbeat(
                    self.registry,
                    lease.clone(),
                    self.lease_ttl_s,
                    &stop,
                    &lost,
                    self.cancel,
                )
            });
            let mut result = self.run_graph(
                req,
                &contract,
                &graph,
                &run_id,
                reservation.as_ref(),
                &lost,
                started,
            );
            // Work drivers batch across the run (a GitOps commit and push),
            // still under the lease.
            for name in self.drivers.names() {
                if let Some(d) = self.drivers.get(name)
                    && let Err(e) = d.run_finished(self.platform)
                    && result.is_ok()
                {
                    result = Err(EngineError::Failed {
                        message: format!("after the run, the {name} driver failed: {}", e.message),
                        hint: e.hint,
                    });
                }
            }
            stop.store(true, Ordering::SeqCst);
            heartbeat.thread().unpark();
            let lease = heartbeat.join().unwrap_or(lease.clone());
            if let Err(e) = self.registry.lease_release(&lease) {
                tracing::warn!("cannot release the lease: {e}");
            }
            result
        })?;
        // The drift it was let through to put back is put back.
        if !remediating.is_empty() && outcome.succeeded() {
            self.record_remediated(env, &remediating)?;
        }
        Ok(outcome)
    }
}
