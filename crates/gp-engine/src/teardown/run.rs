//! One teardown run, in its steps: destroy what the journal says this
//! deployment created (newest first, a component's resources as one
//! batch), mark the components whose resources are all gone as torn down,
//! ask the systems whether anything is left (the orphan check, then the
//! cloud's tags), and record how it ended.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use gp_core::{ComponentSpec, Contract, Deployment, Plane};
use gp_driver::{Action, ComponentCtx, ComponentOutputs, Existence, Intent, Recorder};
use gp_registry::{Stage, new_id};

use super::{Leftover, ResourceOutcome, TeardownOutcome};
use crate::recorder::RunRecorder;
use crate::state::{DeploymentState, ResourceRecord, TEARDOWN};
use crate::{Engine, EngineError, Event, refs};

/// What one teardown run works on and has found so far.
struct Run<'a> {
    engine: &'a Engine<'a>,
    contract: &'a Contract<'a>,
    targets: &'a BTreeSet<String>,
    base: RunRecorder<'a>,
    state: DeploymentState,
    fstate: DeploymentState,
    /// Only a build's own adopted state can be claimed by it.
    claims: bool,
    outcome: TeardownOutcome,
    /// Per component: whether all went well (`false` once anything failed).
    touched: BTreeMap<String, bool>,
}

/// The stop flag of a teardown's drivers: never raised, as a teardown
/// finishes what it starts even after Ctrl-C.
static NO_CANCEL: AtomicBool = AtomicBool::new(false);

impl Engine<'_> {
    pub(super) fn run_teardown(
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
            if deployment == Deployment::Foundational {
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
        let claims = matches!(deployment, Deployment::Ephemeral(_));
        let mut run = Run {
            engine: self,
            contract,
            targets,
            base,
            outcome: TeardownOutcome {
                schema_version: 1,
                env: env.into(),
                deployment: key.clone(),
                destroyed: Vec::new(),
                failed: Vec::new(),
                orphans: Vec::new(),
                unverified: Vec::new(),
                kept: Vec::new(),
                cascaded: Vec::new(),
                duration_ms: 0,
            },
            state,
            fstate,
            claims,
            touched: BTreeMap::new(),
        };
        run.outcome.kept = run.kept();
        run.destroy_journalled();
        run.mark_torn_down()?;
        run.orphan_check();
        run.tag_sweep();
        let Run {
            mut outcome, base, ..
        } = run;
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

impl Run<'_> {
    /// Whether this teardown may touch `component`.
    fn may_touch(&self, component: &str) -> bool {
        crate::may_touch(
            self.engine.platform,
            self.contract.deployment(),
            self.targets,
            component,
        )
    }

    /// What was adopted and stays: a teardown never destroys it.
    fn kept(&self) -> Vec<ResourceOutcome> {
        self.state
            .resources
            .iter()
            .filter(|r| {
                r.action == Action::Adopt
                    && !r.owned(self.claims)
                    && !r.destroyed
                    && self.may_touch(&r.component)
            })
            .map(|r| ResourceOutcome::new(&r.component, r.resource.to_string(), None))
            .collect()
    }

    fn fail_all(&mut self, group: &[&ResourceRecord], why: &str) {
        for r in group {
            self.outcome.failed.push(ResourceOutcome::new(
                &r.component,
                r.resource.to_string(),
                Some(why.to_string()),
            ));
        }
        if let Some(first) = group.first() {
            self.touched.insert(first.component.clone(), false);
        }
    }

    /// Destroys what the journal says was created, newest first, in runs
    /// of the same component, so drivers that take batches (DNS) get them
    /// whole.
    fn destroy_journalled(&mut self) {
        let state = std::mem::take(&mut self.state);
        let order: Vec<&ResourceRecord> = state
            .to_destroy(self.claims)
            .into_iter()
            .filter(|r| self.may_touch(&r.component))
            .collect();
        for group in order.chunk_by(|a, b| a.component == b.component && a.driver == b.driver) {
            self.destroy_group(&state, group);
        }
        self.state = state;
    }

    fn destroy_group(&mut self, state: &DeploymentState, group: &[&ResourceRecord]) {
        let engine = self.engine;
        let first = group[0];
        let spec = engine.spec_or_placeholder(&first.component, &first.driver);
        let Some(driver) = engine.drivers.get(&first.driver) else {
            self.fail_all(group, &format!("no driver `{}`", first.driver));
            return;
        };
        let inputs = engine.inputs_for(&spec, state, &self.fstate);
        let resolved = match refs::resolve(&spec.settings_node(), &inputs) {
            Ok(r) => r,
            Err(missing) => {
                let names: Vec<String> = missing.iter().map(|r| r.to_string()).collect();
                self.fail_all(
                    group,
                    &format!(
                        "its settings reference outputs that are not recorded: {}",
                        names.join(", ")
                    ),
                );
                return;
            }
        };
        let recorder = self
            .base
            .scoped(&first.component, &first.driver, &NO_CANCEL);
        let ctx = ComponentCtx {
            platform: engine.platform,
            contract: self.contract,
            component: &spec,
            settings: &resolved,
            inputs: &inputs,
            last: state.outputs(&first.component),
            intent: Intent::Update,
            state_dir: &engine.state_dir,
            recorder: &recorder,
        };
        let ph = recorder.start_phase(
            &format!("destroy:{}", first.component),
            Some(&first.component),
        );
        let mut accepted: Vec<&ResourceRecord> = Vec::new();
        for r in group {
            // A journalled resource is only destroyed by the driver that
            // owns its kind, under a component of that driver (or the dns
            // records of a component's hosts). Anything else is a forged or
            // misfiled row: refused, nothing runs for it.
            if let Some(why) = misfiled(engine.platform, driver.as_ref(), r) {
                engine.events.emit(&Event::ResourceDestroyFailed {
                    component: r.component.clone(),
                    resource: r.resource.to_string(),
                    error: why.clone(),
                });
                self.fail_all(&[*r], &why);
                continue;
            }
            accepted.push(*r);
        }
        // Each destroy is journalled before anything is sent for it and
        // after it went: by the driver's batches, through the journal
        // below (`Driver::destroy_many_journalled`).
        let batch: Vec<&gp_driver::ResourceRef> = accepted.iter().map(|r| &r.resource).collect();
        let journal = DestroyEntries::new(&recorder, &batch);
        let results = driver.destroy_many_journalled(&ctx, &batch, &journal);
        let (ids, finished, journal_error) = journal.into_parts();
        let mut destroyed = 0;
        for (i, (r, result)) in accepted.iter().zip(results).enumerate() {
            match result {
                Ok(()) if finished.get(i) == Some(&true) => {
                    destroyed += 1;
                    engine.events.emit(&Event::ResourceDestroyed {
                        component: r.component.clone(),
                        resource: r.resource.to_string(),
                    });
                    self.outcome.destroyed.push(ResourceOutcome::new(
                        &r.component,
                        r.resource.to_string(),
                        None,
                    ));
                    self.touched.entry(r.component.clone()).or_insert(true);
                }
                Ok(()) => {
                    let why = journal_error
                        .clone()
                        .unwrap_or_else(|| "the driver did not journal it".into());
                    self.fail_all(
                        &[*r],
                        &format!("destroyed, but the journal could not record it: {why}"),
                    );
                }
                Err(e) => {
                    if let Some(Some(id)) = ids.get(i) {
                        recorder.failed(id, &e.message);
                    }
                    engine.events.emit(&Event::ResourceDestroyFailed {
                        component: r.component.clone(),
                        resource: r.resource.to_string(),
                        error: e.message.clone(),
                    });
                    self.fail_all(&[*r], &e.message);
                }
            }
        }
        let ok = self.touched.get(&first.component) != Some(&false);
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

    /// Components whose resources are all gone are torn down: bracketed
    /// like every journalled action, a `before`, then the `after` that
    /// marks the component torn down.
    fn mark_torn_down(&self) -> Result<(), EngineError> {
        let components: BTreeSet<String> = self
            .state
            .components
            .keys()
            .filter(|c| self.may_touch(c))
            .cloned()
            .collect();
        for c in components {
            if self.touched.get(&c) == Some(&false) {
                continue;
            }
            let driver = self
                .engine
                .platform
                .component(&c)
                .map(|s| s.driver.value.as_str())
                .unwrap_or("");
            let recorder = self.base.scoped(&c, driver, &NO_CANCEL);
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
        Ok(())
    }

    /// The orphan check: asks the systems, not the journal, whether
    /// anything this deployment ever created is still there.
    fn orphan_check(&mut self) {
        let engine = self.engine;
        let mut groups: Vec<Vec<&ResourceRecord>> = Vec::new();
        for r in self
            .state
            .ever_created(self.claims)
            .into_iter()
            .filter(|r| self.may_touch(&r.component))
        {
            match groups
                .iter_mut()
                .find(|g| g[0].component == r.component && g[0].driver == r.driver)
            {
                Some(g) => g.push(r),
                None => groups.push(vec![r]),
            }
        }
        let mut orphans = Vec::new();
        let mut unverified = Vec::new();
        for group in groups {
            let first = group[0];
            let spec = engine.spec_or_placeholder(&first.component, &first.driver);
            let Some(driver) = engine.drivers.get(&first.driver) else {
                continue;
            };
            let inputs = engine.inputs_for(&spec, &self.state, &self.fstate);
            let Ok(resolved) = refs::resolve(&spec.settings_node(), &inputs) else {
                for r in group {
                    unverified.push(Leftover {
                        component: r.component.clone(),
                        resource: r.resource.to_string(),
                        state: "cannot check: its settings reference outputs that are not recorded"
                            .into(),
                    });
                }
                continue;
            };
            let recorder = self
                .base
                .scoped(&first.component, &first.driver, &NO_CANCEL);
            let ctx = ComponentCtx {
                platform: engine.platform,
                contract: self.contract,
                component: &spec,
                settings: &resolved,
                inputs: &inputs,
                last: None,
                intent: Intent::Update,
                state_dir: &engine.state_dir,
                recorder: &recorder,
            };
            // Misfiled rows were refused above and are never handed to a
            // driver here either.
            let group: Vec<&ResourceRecord> = group
                .into_iter()
                .filter(|r| misfiled(engine.platform, driver.as_ref(), r).is_none())
                .collect();
            let resources: Vec<&gp_driver::ResourceRef> =
                group.iter().map(|r| &r.resource).collect();
            for (r, result) in group.iter().zip(driver.exists_many(&ctx, &resources)) {
                let leftover = |state: &str| Leftover {
                    component: r.component.clone(),
                    resource: r.resource.to_string(),
                    state: state.into(),
                };
                match result {
                    Ok(Existence::Gone) => {}
                    Ok(Existence::Exists) => orphans.push(leftover("exists")),
                    Ok(Existence::Unknown) => unverified.push(leftover("unknown")),
                    Err(e) => orphans.push(leftover(&format!("cannot check: {e}"))),
                }
            }
        }
        self.outcome.orphans.extend(orphans);
        self.outcome.unverified.extend(unverified);
        // Resources counted once even if created twice (resume).
        self.outcome
            .orphans
            .dedup_by(|a, b| a.component == b.component && a.resource == b.resource);
    }

    /// What the cloud still holds tagged with the build, beyond the
    /// journal (Terraform modules, controllers, a hand).
    fn tag_sweep(&mut self) {
        let (Some(sweep), Deployment::Ephemeral(b)) =
            (self.engine.drivers.tag_sweep(), self.contract.deployment())
        else {
            return;
        };
        let tags = self.contract.sweep_tags();
        match sweep.tagged(&tags) {
            Ok(found) => {
                for r in found {
                    // A journalled secret still there is listed once.
                    let listed = self.outcome.orphans.iter().any(|o| {
                        o.resource
                            .strip_prefix("secret ")
                            .is_some_and(|p| r.id.contains(&format!(":secret:{p}-")))
                    });
                    if !listed {
                        self.outcome.orphans.push(Leftover {
                            component: "(tag sweep)".into(),
                            resource: format!("{} {}", r.kind, r.id),
                            state: format!("still tagged BuildId={b}"),
                        });
                    }
                }
            }
            // The sweep cannot run as configured (its permission denied):
            // nothing proves the build left nothing — a failure to fix.
            Err(e) if e.kind == gp_driver::ErrorKind::Configuration => {
                self.outcome.orphans.push(Leftover {
                    component: "(tag sweep)".into(),
                    resource: format!("resources tagged BuildId={b}"),
                    state: format!("cannot check: {}", e.message),
                })
            }
            Err(e) => self.outcome.unverified.push(Leftover {
                component: "(tag sweep)".into(),
                resource: format!("resources tagged BuildId={b}"),
                state: format!("cannot check: {}", e.message),
            }),
        }
    }
}

/// Why a journalled resource may not be handed to its driver: a kind the
/// driver never journals, or a driver other than the component's own (the
/// dns records of a component's hosts excepted).
pub(super) fn misfiled(
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

/// The journal of one group's destroys, for the driver
/// ([`gp_driver::DestroyJournal`]): what it was told to write goes to the
/// registry as one transaction each time, and it keeps which destroys are
/// journalled before (their action ids) and after.
pub(crate) struct DestroyEntries<'a> {
    recorder: &'a crate::recorder::RunRecorder<'a>,
    resources: &'a [&'a gp_driver::ResourceRef],
    ids: std::cell::RefCell<Vec<Option<gp_driver::ActionId>>>,
    finished: std::cell::RefCell<Vec<bool>>,
    error: std::cell::RefCell<Option<String>>,
}

impl<'a> DestroyEntries<'a> {
    pub(crate) fn new(
        recorder: &'a crate::recorder::RunRecorder<'a>,
        resources: &'a [&'a gp_driver::ResourceRef],
    ) -> Self {
        DestroyEntries {
            recorder,
            resources,
            ids: std::cell::RefCell::new(vec![None; resources.len()]),
            finished: std::cell::RefCell::new(vec![false; resources.len()]),
            error: std::cell::RefCell::new(None),
        }
    }

    /// The action ids journalled before, which are journalled after, and
    /// the last refusal of an after.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_parts(
        self,
    ) -> (Vec<Option<gp_driver::ActionId>>, Vec<bool>, Option<String>) {
        (
            self.ids.into_inner(),
            self.finished.into_inner(),
            self.error.into_inner(),
        )
    }
}

impl gp_driver::DestroyJournal for DestroyEntries<'_> {
    fn after_and_before(
        &self,
        done: &[usize],
        next: &[usize],
    ) -> Result<(), gp_driver::DriverError> {
        use gp_driver::Recorder;
        let mut ids = self.ids.borrow_mut();
        let mut finished = self.finished.borrow_mut();
        // Only a destroy journalled before and not yet after is finished;
        // one is journalled before once.
        let done: Vec<usize> = done
            .iter()
            .copied()
            .filter(|&i| ids.get(i).is_some_and(Option::is_some) && !finished[i])
            .collect();
        if let Some(&i) = next
            .iter()
            .find(|&&i| ids.get(i).is_none_or(Option::is_some))
        {
            return Err(gp_driver::DriverError::permanent(format!(
                "the driver asked to journal resource {i} of {} before twice, or one it was not given",
                self.resources.len()
            )));
        }
        let done_ids: Vec<gp_driver::ActionId> =
            done.iter().filter_map(|&i| ids[i].clone()).collect();
        let actions: Vec<(Action, &gp_driver::ResourceRef)> = next
            .iter()
            .map(|&i| (Action::Destroy, self.resources[i]))
            .collect();
        match self.recorder.after_and_before_many(&done_ids, &actions) {
            Ok(new) => {
                for (&i, id) in next.iter().zip(new) {
                    ids[i] = Some(id);
                }
                for i in done {
                    finished[i] = true;
                }
                Ok(())
            }
            Err(e) => {
                if !done_ids.is_empty() {
                    *self.error.borrow_mut() = Some(e.message.clone());
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gp_driver::DestroyJournal;

    #[test]
    fn destroys_are_journalled_before_once_and_after_only_once_journalled_before() {
        let t = crate::TestEngine::new();
        let (registry, engine) = (&t.registry, t.engine());
        let base = engine.recorder("dev", "persistent", gp_driver::RunMode::Write, "run");
        let rec = base.scoped("web", "exec", &NO_CANCEL);
        let resources: Vec<gp_driver::ResourceRef> = (0..4)
            .map(|i| gp_driver::ResourceRef::new("record", format!("h{i}")))
            .collect();
        let resources: Vec<&gp_driver::ResourceRef> = resources.iter().collect();
        let journal = DestroyEntries::new(&rec, &resources);
        // A destroy never journalled before is not finished by asking.
        journal.after_and_before(&[0], &[0, 1]).unwrap();
        // Before twice, or an index it was not given: refused, nothing
        // written.
        assert!(journal.after_and_before(&[], &[1]).is_err());
        assert!(journal.after_and_before(&[0], &[9]).is_err());
        journal.after_and_before(&[0, 1, 3], &[2]).unwrap();
        // Finished once, however often asked.
        journal.after_and_before(&[0], &[]).unwrap();
        let (ids, finished, error) = journal.into_parts();
        assert_eq!(
            ids.iter().map(Option::is_some).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(finished, [true, true, false, false]);
        assert_eq!(error, None);
        let rows = registry.journal("dev", "persistent").unwrap();
        let stages: Vec<(Stage, String)> = rows
            .iter()
            .map(|r| (r.entry.stage, r.entry.resource.clone()))
            .collect();
        assert_eq!(
            stages,
            [
                (Stage::Before, "record h0".to_string()),
                (Stage::Before, "record h1".to_string()),
                (Stage::After, "record h0".to_string()),
                (Stage::After, "record h1".to_string()),
                (Stage::Before, "record h2".to_string()),
            ]
        );
        assert!(rows.iter().all(|r| r.entry.action == "destroy"));
        // A refused write is remembered when it held destroys to finish.
        let plan = engine.recorder("dev", "persistent", gp_driver::RunMode::Plan, "plan");
        let plan = plan.scoped("web", "exec", &NO_CANCEL);
        let refused = DestroyEntries::new(&plan, &resources);
        assert!(refused.after_and_before(&[], &[0]).is_err());
        assert_eq!(refused.into_parts().2, None);
    }
}
