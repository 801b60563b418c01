//! The [`Recorder`] drivers see during a run: it writes the journal and
//! phases to the registry, and streams child output as events.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use gp_driver::{Action, ActionId, Counts, DriverError, Outputs, PhaseId, Recorder, ResourceRef};
use gp_registry::{JournalEntry, Phase, Registry, Stage, new_id, now_us};

use crate::{Event, EventSink};

/// Journals and phases of one component in one run.
pub(crate) struct RunRecorder<'a> {
    pub registry: &'a Registry,
    /// Plan, read or write: what the run may do.
    pub mode: gp_driver::RunMode,
    pub env: &'a str,
    pub deployment: String,
    pub build_id: Option<gp_core::BuildId>,
    pub run_id: &'a str,
    pub component: &'a str,
    pub driver: &'a str,
    pub actor: &'a str,
    pub commit: Option<&'a str>,
    pub run_url: Option<&'a str>,
    pub flags: Option<&'a str>,
    pub events: &'a dyn EventSink,
    pub cancel: &'a AtomicBool,
    /// Open phases: id -> start record.
    pub open: std::sync::Mutex<Vec<Phase>>,
    /// Guards overridden for this run.
    pub overrides: &'a [crate::GuardOverride],
    /// The foundational plane's journal, replayed.
    pub foundational: Option<&'a crate::state::DeploymentState>,
    /// The journal of the deployment this run changes, replayed.
    pub own: Option<&'a crate::state::DeploymentState>,
    /// The run's policies (deploys only).
    pub policy: Option<&'a crate::policy::PolicyGate>,
    /// A drift check's plan ([`gp_driver::Recorder::checks_drift`]).
    pub drift: bool,
}

impl<'a> RunRecorder<'a> {
    /// A recorder for one component (and driver) of the same run, with
    /// `cancel` as its stop flag (teardown finishes what it starts, so it
    /// passes a flag that never rises).
    pub(crate) fn scoped(
        &self,
        component: &'a str,
        driver: &'a str,
        cancel: &'a AtomicBool,
    ) -> RunRecorder<'a> {
        RunRecorder {
            registry: self.registry,
            mode: self.mode,
            env: self.env,
            deployment: self.deployment.clone(),
            build_id: self.build_id,
            run_id: self.run_id,
            component,
            driver,
            actor: self.actor,
            commit: self.commit,
            run_url: self.run_url,
            flags: self.flags,
            events: self.events,
            cancel,
            open: Default::default(),
            overrides: self.overrides,
            foundational: self.foundational,
            own: self.own,
            policy: self.policy,
            drift: self.drift,
        }
    }
}

/// The resource an action's entry before names. A destroy names its
/// target by kind and id only: what the resource is (its data) is in the
/// entry of its create, and the replay finds it by kind and id. A teardown
/// of a thousand DNS records writes a third of the bytes.
fn journalled_resource(action: Action, resource: &ResourceRef) -> serde_json::Value {
    if action == Action::Destroy {
        serde_json::to_value(ResourceRef::new(resource.kind.clone(), resource.id.clone()))
    } else {
        serde_json::to_value(resource)
    }
    .unwrap_or_default()
}

impl crate::Engine<'_> {
    /// The one way a run's recorder is made: what the run may do (`mode`),
    /// its id, and the engine's actor, source commit, CI run, events and
    /// stop flag. The rest (the component, the replayed states, the
    /// policies) a run sets with struct update syntax.
    pub(crate) fn recorder<'a>(
        &'a self,
        env: &'a str,
        deployment: &str,
        mode: gp_driver::RunMode,
        run_id: &'a str,
    ) -> RunRecorder<'a> {
        RunRecorder {
            registry: self.registry,
            mode,
            env,
            deployment: deployment.to_string(),
            build_id: deployment.parse().ok(),
            run_id,
            component: "",
            driver: "",
            actor: &self.actor,
            commit: self.commit.as_deref(),
            run_url: self.run_url.as_deref(),
            flags: None,
            events: self.events,
            cancel: self.cancel,
            open: Default::default(),
            overrides: &[],
            foundational: None,
            own: None,
            policy: None,
            drift: false,
        }
    }
}

impl RunRecorder<'_> {
    /// A plan or a read-only look writes nothing to the registry: no
    /// phases, no journal.
    pub(crate) fn writes(&self) -> bool {
        self.mode == gp_driver::RunMode::Write
    }

    pub(crate) fn journal(
        &self,
        action_id: &str,
        stage: Stage,
        action: &str,
        resource: &str,
        outputs: Option<serde_json::Value>,
        detail: Option<String>,
    ) -> Result<(), DriverError> {
        if !self.writes() {
            return Err(DriverError::permanent(format!(
                "{action} {resource}: a plan changes nothing"
            )));
        }
        self.registry
            .journal_append(&JournalEntry {
                id: new_id(),
                env: self.env.into(),
                deployment: self.deployment.clone(),
                run_id: Some(self.run_id.into()),
                action_id: action_id.into(),
                stage,
                component: self.component.into(),
                driver: self.driver.into(),
                action: action.into(),
                resource: resource.into(),
                outputs,
                detail,
            })
            .map(|_| ())
            .map_err(|e| DriverError::permanent(format!("cannot journal {action} {resource}: {e}")))
    }

    /// A journal entry of this recorder's component for `id` at `stage`.
    fn entry(
        &self,
        id: &ActionId,
        stage: Stage,
        outputs: Option<serde_json::Value>,
        detail: Option<String>,
    ) -> JournalEntry {
        JournalEntry {
            id: new_id(),
            env: self.env.into(),
            deployment: self.deployment.clone(),
            run_id: Some(self.run_id.into()),
            action_id: id.id.clone(),
            stage,
            component: self.component.into(),
            driver: self.driver.into(),
            action: id.action.as_str().into(),
            resource: id.resource.clone(),
            outputs,
            detail,
        }
    }

    /// Several entries in one registry write.
    fn append_entries(&self, entries: &[JournalEntry]) -> Result<(), DriverError> {
        if !self.writes() {
            return Err(DriverError::permanent("a plan changes nothing"));
        }
        self.registry.journal_append_many(entries).map_err(|e| {
            DriverError::permanent(format!("cannot journal {} actions: {e}", entries.len()))
        })
    }

    pub(crate) fn start_phase(&self, name: &str, component: Option<&str>) -> Phase {
        let p = Phase {
            run: new_id(),
            env: self.env.into(),
            deployment: self.deployment.clone(),
            build_id: self.build_id.map(|b| b.to_string()).unwrap_or_default(),
            phase: name.into(),
            component: component.map(str::to_string),
            started_us: now_us(),
            flags: self.flags.map(str::to_string),
            run_url: self.run_url.map(str::to_string),
            actor: Some(self.actor.into()),
            commit_sha: self.commit.map(str::to_string),
            ..Phase::default()
        };
        if self.writes()
            && let Err(e) = self.registry.phase_start(&p)
        {
            tracing::warn!("cannot record the start of phase {name}: {e}");
        }
        p
    }

    pub(crate) fn end_phase(
        &self,
        mut p: Phase,
        exit_code: i32,
        counts: Option<Counts>,
        log: Option<&Path>,
    ) {
        p.ended_us = Some(now_us());
        p.exit_code = Some(i64::from(exit_code));
        if let Some(c) = counts {
            p.added = Some(c.added);
            p.changed = Some(c.changed);
            p.destroyed = Some(c.destroyed);
        }
        if let Some(l) = log {
            p.log_path = Some(l.display().to_string());
        }
        if self.writes()
            && let Err(e) = self.registry.phase_end(&p)
        {
            tracing::warn!("cannot record the end of phase {}: {e}", p.phase);
        }
    }
}

impl Recorder for RunRecorder<'_> {
    fn mode(&self) -> gp_driver::RunMode {
        self.mode
    }

    fn checks_drift(&self) -> bool {
        self.drift
    }

    fn run_id(&self) -> &str {
        self.run_id
    }

    fn before_many(
        &self,
        actions: &[(Action, &ResourceRef)],
    ) -> Result<Vec<ActionId>, DriverError> {
        self.after_and_before_many(&[], actions)
    }

    fn after_and_before_many(
        &self,
        done: &[ActionId],
        actions: &[(Action, &ResourceRef)],
    ) -> Result<Vec<ActionId>, DriverError> {
        if !self.writes() {
            return Err(DriverError::permanent("a plan changes nothing"));
        }
        let ids: Vec<ActionId> = actions
            .iter()
            .map(|(action, resource)| ActionId {
                id: new_id(),
                action: *action,
                resource: resource.to_string(),
            })
            .collect();
        // The finished ones first, then the next: one transaction.
        let entries: Vec<JournalEntry> = done
            .iter()
            .map(|id| self.entry(id, Stage::After, None, None))
            .chain(ids.iter().zip(actions).map(|(id, (action, resource))| {
                let r = journalled_resource(*action, resource);
                self.entry(
                    id,
                    Stage::Before,
                    Some(serde_json::json!({ "resource": r })),
                    None,
                )
            }))
            .collect();
        self.append_entries(&entries)?;
        Ok(ids)
    }

    fn after_many(&self, ids: &[ActionId]) -> Result<(), DriverError> {
        let entries: Vec<JournalEntry> = ids
            .iter()
            .map(|id| self.entry(id, Stage::After, None, None))
            .collect();
        self.append_entries(&entries)
    }

    fn created(&self, resource: &ResourceRef) -> bool {
        self.own.is_some_and(|state| {
            state.resources.iter().any(|r| {
                r.component == self.component
                    && !r.destroyed
                    && r.action == gp_driver::Action::Create
                    && r.resource.kind == resource.kind
                    && r.resource.id == resource.id
            })
        })
    }

    fn owns(&self, resource: &ResourceRef) -> bool {
        self.own.is_some_and(|state| {
            state.resources.iter().any(|r| {
                r.component == self.component
                    && !r.destroyed
                    && r.resource.kind == resource.kind
                    && r.resource.id == resource.id
            })
        })
    }

    fn before(&self, action: Action, resource: &ResourceRef) -> Result<ActionId, DriverError> {
        let id = new_id();
        let r = journalled_resource(action, resource);
        self.journal(
            &id,
            Stage::Before,
            action.as_str(),
            &resource.to_string(),
            Some(serde_json::json!({ "resource": r })),
            None,
        )?;
        Ok(ActionId {
            id,
            action,
            resource: resource.to_string(),
        })
    }

    fn after(&self, id: &ActionId, outputs: Option<&Outputs>) -> Result<(), DriverError> {
        let outputs = outputs.map(|o| serde_json::to_value(o).unwrap_or_default());
        self.journal(
            &id.id,
            Stage::After,
            id.action.as_str(),
            &id.resource,
            outputs,
            None,
        )
    }

    fn failed(&self, id: &ActionId, error: &str) {
        if let Err(e) = self.journal(
            &id.id,
            Stage::Failed,
            id.action.as_str(),
            &id.resource,
            None,
            Some(error.into()),
        ) {
            tracing::warn!("{e}");
        }
    }

    fn phase_start(&self, name: &str) -> PhaseId {
        let p = self.start_phase(name, Some(self.component));
        let id = p.run.clone();
        if let Ok(mut open) = self.open.lock() {
            open.push(p);
        }
        PhaseId(id)
    }

    fn phase_end(&self, id: PhaseId, exit_code: i32, counts: Option<Counts>, log: Option<&Path>) {
        let p = self.open.lock().ok().and_then(|mut open| {
            let i = open.iter().position(|p| p.run == id.0)?;
            Some(open.remove(i))
        });
        if let Some(p) = p {
            self.end_phase(p, exit_code, counts, log);
        }
    }

    fn log(&self, line: &str) {
        self.events.emit(&Event::Log { line: line.into() });
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn check_policy(&self, subject: gp_driver::PolicySubject<'_>) -> Result<(), DriverError> {
        self.policy_check(subject)
    }

    fn guard_override(&self, guard: &str) -> Option<String> {
        self.overrides
            .iter()
            .find(|o| {
                o.component == self.component && o.guard.as_deref().is_none_or(|g| g == guard)
            })
            .map(|o| o.reason.clone())
    }

    fn foundational_ready(&self, component: &str) -> Option<bool> {
        let f = self.foundational?;
        Some(
            f.components
                .get(component)
                .is_some_and(|c| c.state == crate::state::ComponentState::Applied),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_batch_after_and_the_next_before_are_one_write_in_that_order() {
        let t = crate::TestEngine::new();
        let (registry, engine) = (&t.registry, t.engine());
        let never = AtomicBool::new(false);
        let base = engine.recorder("dev", "persistent", gp_driver::RunMode::Write, "run");
        let rec = base.scoped("web", "exec", &never);
        let refs: Vec<ResourceRef> = (0..5)
            .map(|i| ResourceRef::new("record", format!("h{i}")))
            .collect();
        let first: Vec<(Action, &ResourceRef)> =
            refs[..2].iter().map(|r| (Action::Create, r)).collect();
        let next: Vec<(Action, &ResourceRef)> =
            refs[2..].iter().map(|r| (Action::Create, r)).collect();
        let done = rec.before_many(&first).unwrap();
        assert_eq!(registry.journal("dev", "persistent").unwrap().len(), 2);
        let ids = rec.after_and_before_many(&done, &next).unwrap();
        assert_eq!(ids.len(), 3);
        let rows = registry.journal("dev", "persistent").unwrap();
        let got: Vec<(Stage, &str)> = rows
            .iter()
            .map(|r| (r.entry.stage, r.entry.action_id.as_str()))
            .collect();
        let want: Vec<(Stage, &str)> = done
            .iter()
            .map(|d| (Stage::Before, d.id.as_str()))
            .chain(done.iter().map(|d| (Stage::After, d.id.as_str())))
            .chain(ids.iter().map(|d| (Stage::Before, d.id.as_str())))
            .collect();
        assert_eq!(got, want);
        // The next batch's entries carry their resources; the finished
        // ones name theirs.
        assert!(rows[4..].iter().all(|r| r.entry.outputs.is_some()));
        assert!(rows[2..4].iter().all(|r| r.entry.resource.contains("h")));
        // A destroy names its target by kind and id; the replay finds
        // the create by them and marks it destroyed.
        let with_data = ResourceRef {
            kind: "record".into(),
            id: "h0".into(),
            data: serde_json::json!({ "fqdn": "h0.example.test" }),
        };
        let created = rec.before(Action::Create, &with_data).unwrap();
        rec.after(&created, None).unwrap();
        let destroy = rec.before_many(&[(Action::Destroy, &with_data)]).unwrap();
        let rows = registry.journal("dev", "persistent").unwrap();
        let named = |action: &str| {
            rows.iter()
                .rev()
                .filter(|r| r.entry.action == action && r.entry.stage == Stage::Before)
                .find_map(|r| r.entry.outputs.clone())
                .unwrap()
        };
        assert_eq!(
            named("create")["resource"]["data"]["fqdn"],
            "h0.example.test"
        );
        assert_eq!(
            named("destroy"),
            serde_json::json!({ "resource": { "kind": "record", "id": "h0" } })
        );
        let alive = |rows: &[gp_registry::JournalRow]| {
            crate::state::DeploymentState::replay(rows)
                .resources
                .iter()
                .any(|r| r.resource.id == "h0" && !r.destroyed)
        };
        assert!(alive(&rows));
        rec.after_many(&destroy).unwrap();
        assert!(!alive(&registry.journal("dev", "persistent").unwrap()));
        // A plan writes nothing, either part.
        let plan = engine.recorder("dev", "persistent", gp_driver::RunMode::Plan, "run2");
        let plan = plan.scoped("web", "exec", &never);
        assert!(plan.after_and_before_many(&ids, &next).is_err());
        assert_eq!(registry.journal("dev", "persistent").unwrap().len(), 11);
    }
}
