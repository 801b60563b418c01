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

use crate::graph::{Disposition, Graph, Role};
use crate::plan::{Decision, decide};
use crate::recorder::RunRecorder;
use crate::state::{APPLY, ComponentState, DeploymentState};
use crate::{Engine, EngineError, Event, lease, refs};

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
        }
    }
}

/// What became of one component.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
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
    /// Waiting for something; the reason names it and the next command.
    Pending {
        /// Why.
        reason: String,
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
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentOutcome {
    /// Component.
    pub component: String,
    /// Plane.
    pub plane: Plane,
    /// Tier.
    pub tier: Tier,
    /// What became of it.
    #[serde(flatten)]
    pub result: ComponentResult,
}

/// The result of a deploy.
#[derive(Clone, Debug, Serialize)]
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
    /// Wall time.
    pub duration_ms: u64,
}

impl DeployOutcome {
    /// No component failed and the run was not interrupted.
    pub fn succeeded(&self) -> bool {
        !self.interrupted
            && !self.lease_lost
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

    /// Components waiting on something.
    pub fn pending(&self) -> Vec<&ComponentOutcome> {
        self.components
            .iter()
            .filter(|c| matches!(c.result, ComponentResult::Pending { .. }))
            .collect()
    }
}

enum Job {
    Apply {
        node: usize,
        inputs: BTreeMap<String, ComponentOutputs>,
    },
}

enum Done {
    Applied(usize, Intent, Applied, Duration),
    Unchanged(usize, ComponentOutputs),
    Failed(usize, DriverError),
}

impl Engine<'_> {
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
        // Resolve the deployment; reserve a build id.
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
                let mut r = ReserveRequest::new(env, *arg, &self.actor);
                r.override_reason = req.override_reason.as_deref();
                r.today = req.today;
                let res: Reservation = self.registry.reserve(&r)?;
                (Deployment::Ephemeral(res.build_id), Vec::new(), Some(res))
            }
        };
        let contract = Contract::new(self.platform, env, deployment)?;
        // Derive every host now: a name that breaks a DNS limit or leaves
        // the build's suffix is refused before anything is touched.
        contract.view()?;
        let graph = Graph::build(self.platform, env, deployment, &targets)?;
        let key = deployment.key();
        let run_id = new_id();
        let holder = lease::holder(&self.actor, &run_id);
        let lease = lease::acquire(
            self.registry,
            &self.state_dir,
            env,
            &key,
            &holder,
            self.lease_ttl_s,
        )?;

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
            let result = self.run_graph(
                req,
                &contract,
                &graph,
                &run_id,
                reservation.as_ref(),
                &lost,
                started,
            );
            stop.store(true, Ordering::SeqCst);
            heartbeat.thread().unpark();
            let lease = heartbeat.join().unwrap_or(lease.clone());
            if let Err(e) = self.registry.lease_release(&lease) {
                tracing::warn!("cannot release the lease: {e}");
            }
            result
        })?;
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_graph(
        &self,
        req: &DeployRequest,
        contract: &Contract<'_>,
        graph: &Graph,
        run_id: &str,
        reservation: Option<&Reservation>,
        lost: &AtomicBool,
        started: Instant,
    ) -> Result<DeployOutcome, EngineError> {
        let env = req.env.as_str();
        let deployment = contract.deployment();
        let key = deployment.key();
        let build_id = deployment
            .build_id()
            .map(|b| b.to_string())
            .unwrap_or_default();
        let flags = if req.resume { Some("--resume") } else { None };
        let state = DeploymentState::load(self.registry, env, &key)?;
        let fstate = if deployment == Deployment::Foundational {
            state.clone()
        } else {
            DeploymentState::load(self.registry, env, "foundational")?
        };
        let base = RunRecorder {
            registry: self.registry,
            env,
            deployment: key.clone(),
            build_id: build_id.clone(),
            run_id,
            component: "",
            driver: "",
            actor: &self.actor,
            commit: self.commit.as_deref(),
            run_url: self.run_url.as_deref(),
            flags,
            events: self.events,
            cancel: self.cancel,
            open: Default::default(),
            overrides: &req.overrides,
            foundational: Some(&fstate),
        };
        self.record_event(
            env,
            &key,
            run_id,
            "deploy_started",
            Some(serde_json::json!({"resume": req.resume})),
        )?;
        self.record_guard_overrides(env, &key, &req.overrides)?;
        let phase_name = if deployment == Deployment::Foundational {
            "deploy-foundational"
        } else {
            "deploy"
        };
        let deploy_phase = base.start_phase(phase_name, None);
        self.events.emit(&Event::RunStarted {
            env: env.into(),
            deployment: key.clone(),
            run_id: run_id.into(),
            operation: "deploy".into(),
            components: graph.nodes.len(),
        });

        let n = graph.nodes.len();
        let mut results: Vec<Option<ComponentResult>> = vec![None; n];
        let mut outputs: Vec<Option<ComponentOutputs>> = vec![None; n];
        let mut dispatched = vec![false; n];
        let mut running = 0usize;
        let mut totals = Counts::default();
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = self.parallel.max(1).min(n.max(1));
        let interrupted = std::thread::scope(|scope| -> Result<bool, EngineError> {
            for _ in 0..workers {
                let job_rx = &job_rx;
                let done_tx = done_tx.clone();
                let work = Work {
                    graph,
                    contract,
                    state: &state,
                    fstate: &fstate,
                    run_id,
                    flags,
                    overrides: &req.overrides,
                };
                scope.spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(Job::Apply { node, inputs }) = job else {
                            return;
                        };
                        // A panicking driver is a bug, but it must not hang
                        // the run: report it as that component's failure.
                        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            self.work(&work, node, &inputs)
                        }))
                        .unwrap_or_else(|_| {
                            Done::Failed(
                                node,
                                DriverError::permanent("the driver panicked (a bug in goldenpath)"),
                            )
                        });
                        if done_tx.send(done).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let mut interrupted = false;
            loop {
                // Settle every node whose dependencies are settled.
                let mut progressed = true;
                while progressed {
                    progressed = false;
                    for i in 0..n {
                        if results[i].is_some() || dispatched[i] {
                            continue;
                        }
                        let node = &graph.nodes[i];
                        if !node.deps.iter().all(|&d| results[d].is_some()) {
                            continue;
                        }
                        if let Some(r) = self.settle_without_work(graph, i, &results, &fstate) {
                            self.emit_settled(&node.name, &r);
                            if r == ComponentResult::Ready {
                                outputs[i] =
                                    Some(fstate.outputs(&node.name).cloned().unwrap_or_default());
                            }
                            results[i] = Some(r);
                            progressed = true;
                            continue;
                        }
                        if self.cancel.load(Ordering::SeqCst) {
                            continue;
                        }
                        // Dispatch.
                        let mut inputs = BTreeMap::new();
                        for (_, d) in &node.needs {
                            if let Some(o) = &outputs[*d] {
                                inputs.insert(graph.nodes[*d].name.clone(), o.clone());
                            }
                        }
                        dispatched[i] = true;
                        running += 1;
                        if job_tx.send(Job::Apply { node: i, inputs }).is_err() {
                            return Err(EngineError::usage("the worker pool stopped", None));
                        }
                    }
                }
                if running == 0 {
                    if self.cancel.load(Ordering::SeqCst) && results.iter().any(Option::is_none) {
                        interrupted = true;
                    }
                    break;
                }
                let Ok(done) = done_rx.recv() else { break };
                running -= 1;
                match done {
                    Done::Applied(i, intent, applied, took) => {
                        totals.added += applied.counts.added;
                        totals.changed += applied.counts.changed;
                        totals.destroyed += applied.counts.destroyed;
                        let action = intent_word(intent).to_string();
                        self.events.emit(&Event::ComponentFinished {
                            component: graph.nodes[i].name.clone(),
                            action: action.clone(),
                            duration_ms: took.as_millis() as u64,
                            added: applied.counts.added,
                            changed: applied.counts.changed,
                            destroyed: applied.counts.destroyed,
                        });
                        outputs[i] = Some(applied.outputs);
                        results[i] = Some(ComponentResult::Applied {
                            action,
                            duration_ms: took.as_millis() as u64,
                        });
                    }
                    Done::Unchanged(i, o) => {
                        self.events.emit(&Event::ComponentUnchanged {
                            component: graph.nodes[i].name.clone(),
                        });
                        outputs[i] = Some(o);
                        results[i] = Some(ComponentResult::Unchanged);
                    }
                    Done::Failed(i, e) => {
                        self.events.emit(&Event::ComponentFailed {
                            component: graph.nodes[i].name.clone(),
                            error: e.message.clone(),
                            hint: e.hint.clone(),
                        });
                        outputs[i] = None;
                        let error = match &e.hint {
                            Some(h) => format!("{} ({h})", e.message),
                            None => e.message.clone(),
                        };
                        results[i] = Some(if e.kind == ErrorKind::Refused {
                            ComponentResult::Refused { error }
                        } else {
                            ComponentResult::Failed { error }
                        });
                    }
                }
            }
            drop(job_tx);
            Ok(interrupted)
        })?;

        let not_started: Vec<String> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_none())
            .map(|(i, _)| graph.nodes[i].name.clone())
            .collect();
        if interrupted || !not_started.is_empty() {
            self.events.emit(&Event::Interrupted {
                not_started: not_started.clone(),
            });
        }
        let components: Vec<ComponentOutcome> = graph
            .nodes
            .iter()
            .zip(results)
            .map(|(node, r)| {
                let spec = graph.spec(self.platform, node);
                ComponentOutcome {
                    component: node.name.clone(),
                    plane: spec.plane.value,
                    tier: spec.tier.value,
                    result: r.unwrap_or(ComponentResult::NotStarted),
                }
            })
            .collect();
        let lease_lost = lost.load(Ordering::SeqCst);
        let mut outcome = DeployOutcome {
            schema_version: 1,
            env: env.into(),
            deployment: key.clone(),
            build_id: deployment.build_id().map(|b| b.to_string()),
            reserved: reservation.map(|r| r.new),
            run_id: run_id.into(),
            components,
            interrupted: interrupted
                || (!not_started.is_empty() && self.cancel.load(Ordering::SeqCst)),
            lease_lost,
            duration_ms: 0,
        };
        let (event, label, exit) = if outcome.interrupted || lease_lost {
            ("deploy_interrupted", "interrupted", 130)
        } else if outcome.succeeded() {
            ("deploy_succeeded", "succeeded", 0)
        } else {
            ("deploy_failed", "failed", 1)
        };
        let pending: Vec<&str> = outcome
            .pending()
            .iter()
            .map(|c| c.component.as_str())
            .collect();
        self.record_event(
            env,
            &key,
            run_id,
            event,
            Some(serde_json::json!({"pending": pending, "notStarted": not_started})),
        )?;
        base.end_phase(deploy_phase, exit, Some(totals), None);
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        self.events.emit(&Event::RunFinished {
            outcome: label.into(),
            duration_ms: outcome.duration_ms,
        });
        Ok(outcome)
    }

    /// Decides a node that needs no worker: skipped, blocked, pending, a
    /// ready foundational dependency. `None` means it must run.
    fn settle_without_work(
        &self,
        graph: &Graph,
        i: usize,
        results: &[Option<ComponentResult>],
        fstate: &DeploymentState,
    ) -> Option<ComponentResult> {
        let node = &graph.nodes[i];
        if node.role == Role::Dependency {
            return Some(
                match self.foundational_gap(&graph.env, node, None, fstate) {
                    None => ComponentResult::Ready,
                    Some(why) => ComponentResult::Pending { reason: why },
                },
            );
        }
        match &node.disposition {
            Disposition::Skip(why) => {
                return Some(ComponentResult::Skipped {
                    reason: why.clone(),
                });
            }
            Disposition::Blocked(why) => {
                return Some(ComponentResult::Pending {
                    reason: why.clone(),
                });
            }
            Disposition::Run => {}
        }
        for (r, d) in &node.needs {
            let dep = &graph.nodes[*d];
            if dep.role == Role::Dependency {
                if let Some(why) =
                    self.foundational_gap(&graph.env, dep, r.resource.as_deref(), fstate)
                {
                    return Some(ComponentResult::Pending {
                        reason: format!("pending: {why}"),
                    });
                }
                continue;
            }
            match &results[*d] {
                Some(ComponentResult::Failed { .. }) | Some(ComponentResult::Refused { .. }) => {
                    return Some(ComponentResult::Pending {
                        reason: format!("needs {r}, which failed"),
                    });
                }
                Some(ComponentResult::Pending { .. }) => {
                    return Some(ComponentResult::Pending {
                        reason: format!("needs {r}, which is pending"),
                    });
                }
                Some(ComponentResult::Skipped { .. }) => {
                    return Some(ComponentResult::Pending {
                        reason: format!("needs {r}, which is not deployed here"),
                    });
                }
                Some(ComponentResult::NotStarted) => return Some(ComponentResult::NotStarted),
                _ => {}
            }
        }
        None
    }

    fn emit_settled(&self, name: &str, r: &ComponentResult) {
        let component = name.to_string();
        match r {
            ComponentResult::Ready => self.events.emit(&Event::DependencyReady { component }),
            ComponentResult::Skipped { reason } => self.events.emit(&Event::ComponentSkipped {
                component,
                reason: reason.clone(),
            }),
            ComponentResult::Pending { reason } => self.events.emit(&Event::ComponentPending {
                component,
                reason: reason.clone(),
            }),
            _ => {}
        }
    }

    /// One component's turn on a worker.
    fn work(&self, w: &Work<'_>, i: usize, inputs: &BTreeMap<String, ComponentOutputs>) -> Done {
        let Work {
            graph,
            contract,
            state,
            fstate,
            run_id,
            flags,
            overrides,
        } = *w;
        let node = &graph.nodes[i];
        let spec = graph.spec(self.platform, node);
        let Some(driver) = self.drivers.get(&spec.driver.value) else {
            return Done::Failed(
                i,
                DriverError::configuration(format!("no driver `{}`", spec.driver.value)),
            );
        };
        let resolved = match refs::resolve(&spec.settings_node(), inputs) {
            Ok(r) => r,
            Err(missing) => {
                let names: Vec<String> = missing.iter().map(|r| r.to_string()).collect();
                return Done::Failed(
                    i,
                    DriverError::configuration(format!(
                        "its settings reference outputs that were not published: {}",
                        names.join(", ")
                    )),
                );
            }
        };
        let hash = crate::settings_hash(spec, &resolved);
        let recorder = RunRecorder {
            registry: self.registry,
            env: contract.env(),
            deployment: contract.deployment().key(),
            build_id: contract
                .build_id()
                .map(|b| b.to_string())
                .unwrap_or_default(),
            run_id,
            component: &node.name,
            driver: &spec.driver.value,
            actor: &self.actor,
            commit: self.commit.as_deref(),
            run_url: self.run_url.as_deref(),
            flags,
            events: self.events,
            cancel: self.cancel,
            open: Default::default(),
            overrides,
            foundational: Some(fstate),
        };
        let mut ctx = ComponentCtx {
            platform: self.platform,
            contract,
            component: spec,
            settings: &resolved,
            inputs,
            last: state.outputs(&node.name),
            intent: Intent::Update,
            state_dir: &self.state_dir,
            recorder: &recorder,
        };
        let record = state.components.get(&node.name);
        let journalled = state.resources.iter().any(|r| r.component == node.name)
            || record.is_some_and(|r| r.state == ComponentState::Interrupted);
        let observed = match retry(self, &node.name, || driver.observe(&ctx)) {
            Ok(o) => o,
            Err(e) => return Done::Failed(i, e),
        };
        let intent = match decide(&observed, record, journalled, &hash) {
            Decision::Unchanged => {
                let outputs = observed
                    .outputs
                    .or_else(|| state.outputs(&node.name).cloned())
                    .unwrap_or_default();
                if let Err(e) = self.publish_hosts(w, i, inputs, &recorder) {
                    return Done::Failed(i, e);
                }
                return Done::Unchanged(i, outputs);
            }
            Decision::Act(intent, _) => intent,
        };
        ctx.intent = intent;
        self.events.emit(&Event::ComponentStarted {
            component: node.name.clone(),
            action: intent_word(intent).into(),
        });
        let t = Instant::now();
        let phase = recorder.start_phase(&format!("apply:{}", node.name), Some(&node.name));
        let action_id = new_id();
        let component_resource = format!("component {}", node.name);
        if let Err(e) = recorder.journal(
            &action_id,
            Stage::Before,
            APPLY,
            &component_resource,
            None,
            None,
        ) {
            recorder.end_phase(phase, 1, None, None);
            return Done::Failed(i, e);
        }
        let result = retry(self, &node.name, || driver.apply(&ctx));
        match result {
            Ok(applied) => {
                let outputs = serde_json::json!({
                    "outputs": applied.outputs,
                    "settingsHash": hash,
                });
                if let Err(e) = recorder.journal(
                    &action_id,
                    Stage::After,
                    APPLY,
                    &component_resource,
                    Some(outputs),
                    None,
                ) {
                    recorder.end_phase(phase, 1, Some(applied.counts), None);
                    return Done::Failed(i, e);
                }
                recorder.end_phase(phase, 0, Some(applied.counts), None);
                match self.publish_hosts(w, i, inputs, &recorder) {
                    Ok(Some(records)) => {
                        let mut applied = applied;
                        applied.counts.added += records.counts.added;
                        applied.counts.changed += records.counts.changed;
                        applied.counts.destroyed += records.counts.destroyed;
                        Done::Applied(i, intent, applied, t.elapsed())
                    }
                    Ok(None) => Done::Applied(i, intent, applied, t.elapsed()),
                    Err(e) => Done::Failed(i, e),
                }
            }
            Err(e) => {
                let _ = recorder.journal(
                    &action_id,
                    Stage::Failed,
                    APPLY,
                    &component_resource,
                    None,
                    Some(e.message.clone()),
                );
                recorder.end_phase(phase, 1, None, None);
                Done::Failed(i, e)
            }
        }
    }

    /// Publishes the DNS records of a component's hosts (see `hosts.rs`)
    /// under a `dns` recorder, so teardown replays them with the rest.
    fn publish_hosts(
        &self,
        w: &Work<'_>,
        i: usize,
        inputs: &BTreeMap<String, ComponentOutputs>,
        recorder: &RunRecorder<'_>,
    ) -> Result<Option<Applied>, DriverError> {
        let node = &w.graph.nodes[i];
        let spec = w.graph.spec(self.platform, node);
        let Some(records) = self.host_records(w.graph, node, spec, w.contract, inputs, w.state)?
        else {
            return Ok(None);
        };
        let mut zone_inputs = inputs.clone();
        if let Some(z) = w.fstate.outputs(&records.zone) {
            zone_inputs
                .entry(records.zone.clone())
                .or_insert_with(|| z.clone());
        }
        let dns = RunRecorder {
            driver: "dns",
            open: Default::default(),
            build_id: recorder.build_id.clone(),
            deployment: recorder.deployment.clone(),
            ..*recorder
        };
        let phase = dns.start_phase(&format!("records:{}", node.name), Some(&node.name));
        let result = retry(self, &node.name, || {
            self.publish_records(spec, w.contract, &records, &zone_inputs, &dns)
        });
        match &result {
            Ok(a) => dns.end_phase(phase, 0, a.as_ref().map(|a| a.counts), None),
            Err(_) => dns.end_phase(phase, 1, None, None),
        }
        result
    }

    /// Records each guard override as a registry override (kind `guard`),
    /// with who and why, before anything runs.
    pub(crate) fn record_guard_overrides(
        &self,
        env: &str,
        deployment: &str,
        overrides: &[crate::GuardOverride],
    ) -> Result<(), EngineError> {
        for o in overrides {
            let subject = match &o.guard {
                Some(g) => format!("{}:{g}", o.component),
                None => o.component.clone(),
            };
            self.registry.record_override(&gp_registry::Override {
                id: new_id(),
                kind: "guard".into(),
                env: env.into(),
                deployment: Some(deployment.into()),
                subject,
                actor: self.actor.clone(),
                reason: o.reason.clone(),
                at_us: now_us(),
            })?;
        }
        Ok(())
    }

    pub(crate) fn record_event(
        &self,
        env: &str,
        deployment: &str,
        run_id: &str,
        event: &str,
        detail: Option<serde_json::Value>,
    ) -> Result<(), EngineError> {
        self.registry.record_deployment(&DeploymentEvent {
            id: new_id(),
            env: env.into(),
            deployment: deployment.into(),
            run_id: Some(run_id.into()),
            event: event.into(),
            actor: self.actor.clone(),
            commit_sha: self.commit.clone(),
            run_url: self.run_url.clone(),
            detail,
            at_us: now_us(),
        })?;
        Ok(())
    }
}

/// What every component's turn in one run shares.
#[derive(Clone, Copy)]
struct Work<'a> {
    graph: &'a Graph,
    contract: &'a Contract<'a>,
    state: &'a DeploymentState,
    fstate: &'a DeploymentState,
    run_id: &'a str,
    flags: Option<&'a str>,
    overrides: &'a [crate::GuardOverride],
}

fn intent_word(i: Intent) -> &'static str {
    match i {
        Intent::Create => "create",
        Intent::Adopt => "adopt",
        Intent::Update => "update",
    }
}

/// Retries retryable errors with a growing pause; everything else returns
/// at once.
fn retry<T>(
    engine: &Engine<'_>,
    component: &str,
    mut f: impl FnMut() -> Result<T, DriverError>,
) -> Result<T, DriverError> {
    let mut attempt = 1;
    loop {
        match f() {
            Err(e)
                if e.kind == ErrorKind::Retryable
                    && attempt <= engine.retries
                    && !engine.cancel.load(Ordering::SeqCst) =>
            {
                attempt += 1;
                engine.events.emit(&Event::Retrying {
                    component: component.into(),
                    attempt,
                    error: e.message.clone(),
                });
                std::thread::park_timeout(Duration::from_secs(2u64.pow(attempt - 1)));
            }
            other => return other,
        }
    }
}
