//! `teardown`: replay a deployment's journal in reverse and destroy exactly
//! what it created — never what it adopted, never a foundational component
//! unless the foundational plane itself is the target (with `--confirm`,
//! and `--break-glass NAME` for a protected one). Then the orphan check asks
//! the drivers whether anything the journal says was created still exists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use gp_core::{BuildId, ComponentSpec, Contract, Deployment, Plane};
use gp_driver::{Action, ComponentCtx, ComponentOutputs, Existence, Intent, Recorder};
use gp_registry::{Override, Stage, new_id, now_us};
use serde::Serialize;

use crate::recorder::RunRecorder;
use crate::state::{DeploymentState, ResourceRecord, TEARDOWN};
use crate::{Engine, EngineError, Event, refs};

/// What to tear down.
#[derive(Clone, Debug)]
pub enum TeardownTarget {
    /// A build.
    Build(BuildId),
    /// The persistent deployment (needs `confirm`).
    Persistent,
    /// Foundational components (needs `confirm`, and `break_glass` for
    /// protected ones); all of them when empty.
    Foundational(Vec<String>),
}

/// A teardown.
#[derive(Clone, Debug)]
pub struct TeardownRequest {
    /// Environment.
    pub env: String,
    /// What.
    pub target: TeardownTarget,
    /// `--confirm`.
    pub confirm: bool,
    /// `--break-glass NAME`s.
    pub break_glass: Vec<String>,
    /// Why (recorded with a break-glass override).
    pub reason: Option<String>,
    /// Guards overridden (recorded).
    pub overrides: Vec<crate::GuardOverride>,
    /// `--cascade`: tear down first what depends on a foundational target
    /// (builds, the persistent deployment, requests' databases), each
    /// through its own recorded teardown; without it a foundational
    /// teardown with dependents is refused.
    pub cascade: bool,
}

/// A resource that survived.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    /// Component.
    pub component: String,
    /// Resource.
    pub resource: String,
    /// `exists`, `unknown`, or the error met while checking.
    pub state: String,
}

/// One resource a teardown destroyed, failed to destroy, or kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceOutcome {
    /// Component.
    pub component: String,
    /// The resource, as the journal names it.
    pub resource: String,
    /// Why it could not be destroyed (for `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ResourceOutcome {
    fn new(component: &str, resource: String, error: Option<String>) -> Self {
        Self {
            component: component.to_string(),
            resource,
            error,
        }
    }
}

/// The result of a teardown.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeardownOutcome {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Resources destroyed.
    pub destroyed: Vec<ResourceOutcome>,
    /// Resources that could not be destroyed, with the error.
    pub failed: Vec<ResourceOutcome>,
    /// The orphan check: created resources that still exist.
    pub orphans: Vec<Leftover>,
    /// Created resources whose existence no driver can check.
    pub unverified: Vec<Leftover>,
    /// Adopted resources left in place on purpose.
    pub kept: Vec<ResourceOutcome>,
    /// What depended on the targets and was torn down first (`--cascade`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cascaded: Vec<crate::impact::Dependent>,
    /// Wall time.
    pub duration_ms: u64,
}

impl TeardownOutcome {
    /// Nothing failed and nothing is left.
    pub fn clean(&self) -> bool {
        self.failed.is_empty() && self.orphans.is_empty()
    }
}

impl Engine<'_> {
    /// Tears a deployment down.
    pub fn teardown(&self, req: &TeardownRequest) -> Result<TeardownOutcome, EngineError> {
        let started = Instant::now();
        let env = req.env.as_str();
        let (deployment, targets): (Deployment, BTreeSet<String>) = match &req.target {
            TeardownTarget::Build(b) => {
                if self.registry.reservation(env, *b)?.is_none() {
                    return Err(EngineError::usage(
                        format!("build {b} was never deployed in {env}"),
                        Some(format!(
                            "list the builds with: goldenpath builds list --env {env}"
                        )),
                    ));
                }
                (Deployment::Ephemeral(*b), BTreeSet::new())
            }
            TeardownTarget::Persistent => {
                if !req.confirm {
                    return Err(EngineError::refused(
                        format!("tearing down the persistent deployment of {env} needs --confirm"),
                        Some(format!(
                            "goldenpath teardown --env {env} --persistent --confirm"
                        )),
                    ));
                }
                (Deployment::Persistent, BTreeSet::new())
            }
            TeardownTarget::Foundational(names) => {
                let graph =
                    crate::Graph::build(self.platform, env, Deployment::Foundational, names)?;
                let targets: BTreeSet<String> = graph
                    .nodes
                    .iter()
                    .filter(|n| n.role == crate::Role::Target)
                    .map(|n| n.name.clone())
                    .collect();
                let list = targets.iter().cloned().collect::<Vec<_>>().join(" ");
                if !req.confirm {
                    return Err(EngineError::refused(
                        format!("tearing down foundational {list} in {env} needs --confirm"),
                        Some(format!(
                            "goldenpath teardown --env {env} --foundational {list} --confirm"
                        )),
                    ));
                }
                let protected: Vec<&String> = targets
                    .iter()
                    .filter(|t| {
                        self.platform
                            .component(t)
                            .is_some_and(|c| c.protected.value)
                    })
                    .filter(|t| !req.break_glass.contains(t))
                    .collect();
                if let Some(first) = protected.first() {
                    return Err(EngineError::refused(
                        format!(
                            "`{first}` is protected; tearing it down needs --break-glass {first} (recorded with your name and reason)"
                        ),
                        Some(format!(
                            "goldenpath teardown --env {env} --foundational {first} --confirm --break-glass {first} --reason \"...\""
                        )),
                    ));
                }
                // Impact before destruction: nothing goes while something
                // depends on it, unless the dependents go first.
                let dependents = self.dependents(env, &targets)?;
                if !dependents.is_empty() && !req.cascade {
                    let list: Vec<String> = dependents.iter().map(|d| d.to_string()).collect();
                    let flags: String = std::iter::once("--confirm".to_string())
                        .chain(req.break_glass.iter().map(|b| format!("--break-glass {b}")))
                        .chain(std::iter::once("--cascade".to_string()))
                        .collect::<Vec<_>>()
                        .join(" ");
                    return Err(EngineError::refused(
                        format!(
                            "tearing down foundational {list_t} in {env} would take what depends on it: {}; nothing was changed",
                            list.join("; "),
                            list_t = targets.iter().cloned().collect::<Vec<_>>().join(" "),
                        ),
                        Some(format!(
                            "tear them down first, or let this teardown do it, each through its own recorded teardown: goldenpath teardown --env {env} --foundational {} {flags}{}",
                            targets.iter().cloned().collect::<Vec<_>>().join(" "),
                            if req.break_glass.is_empty() {
                                String::new()
                            } else {
                                " --reason \"...\"".into()
                            }
                        )),
                    ));
                }
                (Deployment::Foundational, targets)
            }
        };
        let key = deployment.key();
        let break_glass: Vec<&String> = req
            .break_glass
            .iter()
            .filter(|b| targets.contains(*b))
            .collect();
        let reason = req
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if !break_glass.is_empty() && reason.is_none() {
            return Err(EngineError::usage(
                "--break-glass needs --reason \"...\" (it is recorded)",
                None,
            ));
        }
        let cascaded = if req.cascade && deployment == Deployment::Foundational {
            self.cascade(req, &targets)?
        } else {
            Vec::new()
        };
        let contract = Contract::new(self.platform, env, deployment)?;
        let (run_id, held) = self.take_lease(env, &key)?;
        for b in &break_glass {
            self.registry.record_override(&Override {
                id: new_id(),
                env: env.into(),
                deployment: Some(key.clone()),
                kind: "break-glass".into(),
                subject: format!("teardown of protected foundational component {b}"),
                actor: self.actor.clone(),
                reason: reason.unwrap_or_default().into(),
                at_us: now_us(),
            })?;
        }
        self.record_guard_overrides(env, &key, &req.overrides)?;
        let result = self.run_teardown(env, &contract, &targets, &run_id, started, &req.overrides);
        if let Err(e) = self.registry.lease_release(&held) {
            tracing::warn!("cannot release the lease: {e}");
        }
        let mut outcome = result?;
        // The requests whose databases went with their instance.
        if outcome.failed.is_empty() {
            for d in &cascaded {
                if let crate::impact::Dependent::Request { request, on, .. } = d {
                    self.record_for(
                        request,
                        "rds",
                        env,
                        crate::requests::RequestEventDetail::TornDown {
                            by: format!("the teardown of foundational {on} in {env}"),
                            removed: Vec::new(),
                        },
                    )?;
                }
            }
        }
        outcome.cascaded = cascaded;
        Ok(outcome)
    }

    /// Tears down what depends on the foundational `targets`, each through
    /// its own recorded teardown: builds, the persistent deployment; the
    /// requests' deliveries are withdrawn (their databases go with the
    /// instance's journal). Stops at the first that does not come down
    /// clean.
    fn cascade(
        &self,
        req: &TeardownRequest,
        targets: &BTreeSet<String>,
    ) -> Result<Vec<crate::impact::Dependent>, EngineError> {
        use crate::impact::Dependent;
        let env = req.env.as_str();
        let dependents = self.dependents(env, targets)?;
        for d in &dependents {
            let target = match d {
                Dependent::Build { build, .. } => match build.parse() {
                    Ok(b) => TeardownTarget::Build(b),
                    Err(_) => continue,
                },
                Dependent::Persistent { .. } => TeardownTarget::Persistent,
                Dependent::Request { request, .. } => {
                    self.withdraw_deliveries(request, env, &gp_registry::new_id())?;
                    continue;
                }
            };
            let out = self.teardown(&TeardownRequest {
                env: env.into(),
                target,
                confirm: true,
                break_glass: Vec::new(),
                reason: req.reason.clone(),
                overrides: req.overrides.clone(),
                cascade: false,
            })?;
            if !out.clean() {
                return Err(EngineError::failed(
                    format!("{d} did not come down clean; the foundational teardown stops here"),
                    Some(format!(
                        "goldenpath teardown --env {env}{}",
                        Deployment::flags_of_key(&out.deployment)
                    )),
                ));
            }
        }
        Ok(dependents)
    }

    fn run_teardown(
        &self,
        env: &str,
        contract: &Contract<'_>,
        targets: &BTreeSet<String>,
        run_id: &str,
        started: Instant,
        overrides: &[crate::GuardOverride],
    ) -> Result<TeardownOutcome, EngineError> {
        let deployment = contract.deployment();
        let key = deployment.key();
        let foundational = deployment == Deployment::Foundational;
        let base = RunRecorder {
            build_id: deployment.build_id(),
            overrides,
            ..self.recorder(env, &key, gp_driver::RunMode::Write, run_id)
        };
        self.record_event(
            env,
            &key,
            run_id,
            gp_registry::EventKind::TeardownStarted,
            None,
        )?;
        let phase = base.start_phase(
            if foundational {
                "teardown-foundational"
            } else {
                "teardown"
            },
            None,
        );
        self.events.emit(&Event::RunStarted {
            env: env.into(),
            deployment: key.clone(),
            run_id: run_id.into(),
            operation: "teardown".into(),
            components: targets.len(),
        });
        let (state, fstate) =
            DeploymentState::load_with_foundational(self.registry, env, deployment)?;
        // What this teardown may touch.
        let may_touch =
            |component: &str| crate::may_touch(self.platform, deployment, targets, component);
        let in_scope = |r: &ResourceRecord| may_touch(&r.component);
        // Only a build's own adopted state can be claimed by it.
        let claims = matches!(deployment, Deployment::Ephemeral(_));
        let mut outcome = TeardownOutcome {
            schema_version: 1,
            env: env.into(),
            deployment: key.clone(),
            destroyed: Vec::new(),
            failed: Vec::new(),
            orphans: Vec::new(),
            unverified: Vec::new(),
            kept: state
                .resources
                .iter()
                .filter(|r| {
                    r.action == Action::Adopt && !r.owned(claims) && !r.destroyed && in_scope(r)
                })
                .map(|r| ResourceOutcome::new(&r.component, r.resource.to_string(), None))
                .collect(),
            cascaded: Vec::new(),
            duration_ms: 0,
        };
        let mut touched: BTreeMap<String, bool> = BTreeMap::new();
        let no_cancel = AtomicBool::new(false);
        // Newest first, in runs of the same component, so drivers that take
        // batches (DNS) get them whole.
        let order: Vec<&ResourceRecord> = state
            .to_destroy(claims)
            .into_iter()
            .filter(|r| in_scope(r))
            .collect();
        for group in order.chunk_by(|a, b| a.component == b.component && a.driver == b.driver) {
            let first = group[0];
            let spec = self.spec_or_placeholder(&first.component, &first.driver);
            let Some(driver) = self.drivers.get(&first.driver) else {
                for r in group {
                    outcome.failed.push(ResourceOutcome::new(
                        &r.component,
                        r.resource.to_string(),
                        Some(format!("no driver `{}`", r.driver)),
                    ));
                }
                touched.insert(first.component.clone(), false);
                continue;
            };
            let inputs = self.inputs_for(&spec, &state, &fstate);
            let resolved = match refs::resolve(&spec.settings_node(), &inputs) {
                Ok(r) => r,
                Err(missing) => {
                    let names: Vec<String> = missing.iter().map(|r| r.to_string()).collect();
                    for r in group {
                        outcome.failed.push(ResourceOutcome::new(
                            &r.component,
                            r.resource.to_string(),
                            Some(format!(
                                "its settings reference outputs that are not recorded: {}",
                                names.join(", ")
                            )),
                        ));
                    }
                    touched.insert(first.component.clone(), false);
                    continue;
                }
            };
            // Teardown finishes what it starts even after Ctrl-C.
            let recorder = base.scoped(&first.component, &first.driver, &no_cancel);
            let ctx = ComponentCtx {
                platform: self.platform,
                contract,
                component: &spec,
                settings: &resolved,
                inputs: &inputs,
                last: state.outputs(&first.component),
                intent: Intent::Update,
                state_dir: &self.state_dir,
                recorder: &recorder,
            };
            let ph = recorder.start_phase(
                &format!("destroy:{}", first.component),
                Some(&first.component),
            );
            let mut ids = Vec::new();
            let mut batch = Vec::new();
            let mut accepted: Vec<&ResourceRecord> = Vec::new();
            for r in group {
                // A journalled resource is only destroyed by the driver that
                // owns its kind, under a component of that driver (or the
                // dns records of a component's hosts). Anything else is a
                // forged or misfiled row: refused, nothing runs for it.
                if let Some(why) = misfiled(self.platform, driver.as_ref(), r) {
                    self.events.emit(&Event::ResourceDestroyFailed {
                        component: r.component.clone(),
                        resource: r.resource.to_string(),
                        error: why.clone(),
                    });
                    outcome.failed.push(ResourceOutcome::new(
                        &r.component,
                        r.resource.to_string(),
                        Some(why),
                    ));
                    touched.insert(r.component.clone(), false);
                    continue;
                }
                accepted.push(*r);
            }
            // The batch is journalled as one write before and one after.
            let actions: Vec<(Action, &gp_driver::ResourceRef)> = accepted
                .iter()
                .map(|r| (Action::Destroy, &r.resource))
                .collect();
            match recorder.before_many(&actions) {
                Ok(journalled) => {
                    for (id, r) in journalled.into_iter().zip(&accepted) {
                        ids.push((id, *r));
                        batch.push(r.resource.clone());
                    }
                }
                Err(e) => {
                    for r in &accepted {
                        outcome.failed.push(ResourceOutcome::new(
                            &r.component,
                            r.resource.to_string(),
                            Some(e.message.clone()),
                        ));
                    }
                }
            }
            let results = driver.destroy_many(&ctx, &batch);
            let done: Vec<gp_driver::ActionId> = ids
                .iter()
                .zip(&results)
                .filter(|(_, res)| res.is_ok())
                .map(|((id, _), _)| id.clone())
                .collect();
            let journal_error = recorder.after_many(&done).err();
            let mut destroyed = 0;
            for ((id, r), result) in ids.into_iter().zip(results) {
                match result {
                    Ok(()) => {
                        if let Some(e) = &journal_error {
                            outcome.failed.push(ResourceOutcome::new(
                                &r.component,
                                r.resource.to_string(),
                                Some(format!(
                                    "destroyed, but the journal could not record it: {e}"
                                )),
                            ));
                            touched.insert(r.component.clone(), false);
                            continue;
                        }
                        destroyed += 1;
                        self.events.emit(&Event::ResourceDestroyed {
                            component: r.component.clone(),
                            resource: r.resource.to_string(),
                        });
                        outcome.destroyed.push(ResourceOutcome::new(
                            &r.component,
                            r.resource.to_string(),
                            None,
                        ));
                        touched.entry(r.component.clone()).or_insert(true);
                    }
                    Err(e) => {
                        recorder.failed(&id, &e.message);
                        self.events.emit(&Event::ResourceDestroyFailed {
                            component: r.component.clone(),
                            resource: r.resource.to_string(),
                            error: e.message.clone(),
                        });
                        outcome.failed.push(ResourceOutcome::new(
                            &r.component,
                            r.resource.to_string(),
                            Some(e.message),
                        ));
                        touched.insert(r.component.clone(), false);
                    }
                }
            }
            let ok = touched.get(&first.component) != Some(&false);
            recorder.end_phase(
                ph,
                if ok { 0 } else { 1 },
                Some(gp_driver::Counts {
                    added: 0,
                    changed: 0,
                    destroyed,
                }),
                None,
            );
        }
        // Components whose resources are all gone are torn down.
        let components: BTreeSet<String> = state
            .components
            .keys()
            .filter(|c| may_touch(c))
            .cloned()
            .collect();
        for c in components {
            if touched.get(&c) == Some(&false) {
                continue;
            }
            let driver = self
                .platform
                .component(&c)
                .map(|s| s.driver.value.as_str())
                .unwrap_or("");
            let recorder = base.scoped(&c, driver, &no_cancel);
            // Bracketed like every journalled action: a `before`, then the
            // `after` that marks the component torn down.
            let id = new_id();
            let resource = format!("component {c}");
            let written = recorder
                .journal(&id, Stage::Before, TEARDOWN, &resource, None, None)
                .and_then(|_| recorder.journal(&id, Stage::After, TEARDOWN, &resource, None, None));
            if let Err(e) = written {
                return Err(EngineError::Failed {
                    message: format!("cannot record the teardown of {c}: {e}"),
                    hint: None,
                });
            }
        }
        // The orphan check: ask the systems, not the journal.
        let created: Vec<&ResourceRecord> = state
            .ever_created(claims)
            .into_iter()
            .filter(|r| in_scope(r))
            .collect();
        let mut groups: Vec<Vec<&ResourceRecord>> = Vec::new();
        for r in created {
            match groups
                .iter_mut()
                .find(|g| g[0].component == r.component && g[0].driver == r.driver)
            {
                Some(g) => g.push(r),
                None => groups.push(vec![r]),
            }
        }
        for group in groups {
            let first = group[0];
            let spec = self.spec_or_placeholder(&first.component, &first.driver);
            let Some(driver) = self.drivers.get(&first.driver) else {
                continue;
            };
            let inputs = self.inputs_for(&spec, &state, &fstate);
            let Ok(resolved) = refs::resolve(&spec.settings_node(), &inputs) else {
                for r in group {
                    outcome.unverified.push(Leftover {
                        component: r.component.clone(),
                        resource: r.resource.to_string(),
                        state: "cannot check: its settings reference outputs that are not recorded"
                            .into(),
                    });
                }
                continue;
            };
            let recorder = base.scoped(&first.component, &first.driver, &no_cancel);
            let ctx = ComponentCtx {
                platform: self.platform,
                contract,
                component: &spec,
                settings: &resolved,
                inputs: &inputs,
                last: None,
                intent: Intent::Update,
                state_dir: &self.state_dir,
                recorder: &recorder,
            };
            // Misfiled rows were refused above and are never handed to a
            // driver here either.
            let group: Vec<&ResourceRecord> = group
                .into_iter()
                .filter(|r| misfiled(self.platform, driver.as_ref(), r).is_none())
                .collect();
            let resources: Vec<gp_driver::ResourceRef> =
                group.iter().map(|r| r.resource.clone()).collect();
            for (r, result) in group.iter().zip(driver.exists_many(&ctx, &resources)) {
                let leftover = |state: &str| Leftover {
                    component: r.component.clone(),
                    resource: r.resource.to_string(),
                    state: state.into(),
                };
                match result {
                    Ok(Existence::Gone) => {}
                    Ok(Existence::Exists) => outcome.orphans.push(leftover("exists")),
                    Ok(Existence::Unknown) => outcome.unverified.push(leftover("unknown")),
                    Err(e) => outcome
                        .orphans
                        .push(leftover(&format!("cannot check: {e}"))),
                }
            }
        }
        // Resources counted once even if created twice (resume).
        outcome
            .orphans
            .dedup_by(|a, b| a.component == b.component && a.resource == b.resource);
        // What the cloud still holds tagged with the build, beyond the
        // journal (Terraform modules, controllers, a hand).
        if let (Some(sweep), Deployment::Ephemeral(b)) = (self.drivers.tag_sweep(), &deployment) {
            let tags = contract.sweep_tags();
            match sweep.tagged(&tags) {
                Ok(found) => {
                    for r in found {
                        // A journalled secret still there is listed once.
                        let listed = outcome.orphans.iter().any(|o| {
                            o.resource
                                .strip_prefix("secret ")
                                .is_some_and(|p| r.id.contains(&format!(":secret:{p}-")))
                        });
                        if !listed {
                            outcome.orphans.push(Leftover {
                                component: "(tag sweep)".into(),
                                resource: format!("{} {}", r.kind, r.id),
                                state: format!("still tagged BuildId={b}"),
                            });
                        }
                    }
                }
                Err(e) => outcome.unverified.push(Leftover {
                    component: "(tag sweep)".into(),
                    resource: format!("resources tagged BuildId={b}"),
                    state: format!("cannot check: {}", e.message),
                }),
            }
        }
        let clean = outcome.clean();
        self.record_event(
            env,
            &key,
            run_id,
            if clean {
                gp_registry::EventKind::TornDown
            } else {
                gp_registry::EventKind::TeardownFailed
            },
            Some(serde_json::json!({
                "destroyed": outcome.destroyed.len(),
                "failed": outcome.failed.len(),
                "orphans": outcome.orphans.len(),
            })),
        )?;
        base.end_phase(
            phase,
            if clean { 0 } else { 1 },
            Some(gp_driver::Counts {
                added: 0,
                changed: 0,
                destroyed: outcome.destroyed.len() as i64,
            }),
            None,
        );
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        self.events.emit(&Event::RunFinished {
            outcome: if clean {
                "torn_down".into()
            } else {
                "teardown_failed".into()
            },
            duration_ms: outcome.duration_ms,
        });
        Ok(outcome)
    }

    fn inputs_for(
        &self,
        spec: &ComponentSpec,
        state: &DeploymentState,
        fstate: &DeploymentState,
    ) -> BTreeMap<String, ComponentOutputs> {
        let mut inputs = BTreeMap::new();
        for (r, _) in spec.need_refs() {
            let from = match self.platform.component(&r.component).map(|c| c.plane.value) {
                Some(Plane::Foundational) => fstate.outputs(&r.component),
                _ => state.outputs(&r.component),
            };
            if let Some(o) = from {
                inputs.insert(r.component.clone(), o.clone());
            }
        }
        inputs
    }

    /// The component's spec, or — for a component removed from the spec
    /// since it was deployed — a stand-in carrying its name and driver, so
    /// its journalled resources can still be destroyed.
    fn spec_or_placeholder(&self, name: &str, driver: &str) -> ComponentSpec {
        if let Some(c) = self.platform.component(name) {
            return c.clone();
        }
        use gp_core::yaml::Spanned;
        ComponentSpec {
            name: Spanned::unpositioned(name.into()),
            description: None,
            plane: Spanned::unpositioned(Plane::Disposable),
            tier: Spanned::unpositioned(gp_core::Tier::MAX),
            modes: None,
            protected: Spanned::unpositioned(false),
            driver: Spanned::unpositioned(driver.into()),
            settings: None,
            needs: Vec::new(),
            hosts: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

/// Why a journalled resource may not be handed to its driver: a kind the
/// driver never journals, or a driver other than the component's own (the
/// dns records of a component's hosts excepted).
fn misfiled(
    platform: &gp_core::Platform,
    driver: &dyn gp_driver::Driver,
    r: &ResourceRecord,
) -> Option<String> {
    if !driver.resource_kinds().contains(&r.resource.kind.as_str()) {
        return Some(format!(
            "refused: the journal names a `{}` under `{}`, a kind the {} driver never creates; nothing was run",
            r.resource.kind, r.component, r.driver
        ));
    }
    if let Some(spec) = platform.component(&r.component) {
        let own = spec.driver.value == r.driver;
        let host_record = driver.host_publisher().is_some()
            && r.resource.kind == "record"
            && !spec.hosts.is_empty();
        if !own && !host_record {
            return Some(format!(
                "refused: the journal files {} under `{}` with driver {}, but `{}` uses {}; nothing was run",
                r.resource, r.component, r.driver, r.component, spec.driver.value
            ));
        }
    }
    None
}
