//! The conformance suite every driver must pass:
//!
//! 1. applying twice: the second apply creates nothing and the observation
//!    matches;
//! 2. destroying twice: the second destroy is not an error, and nothing
//!    created still exists;
//! 3. an apply interrupted half-way (at each of its journalled actions in
//!    turn), followed by destroying what the journal recorded, leaves
//!    nothing behind.
//!
//! A driver's own tests build a [`Fixture`] against a real system and call
//! [`check`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use gp_core::yaml::Node;
use gp_core::{ComponentSpec, Contract, Platform};

use crate::{
    Action, ActionId, ComponentCtx, ComponentOutputs, Counts, Driver, DriverError, Existence,
    Intent, Outputs, PhaseId, Presence, Recorder, ResourceRef,
};

/// One journalled action.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The action.
    pub action: Action,
    /// Its resource.
    pub resource: ResourceRef,
    /// Whether it finished.
    pub finished: bool,
    /// Whether it failed.
    pub failed: bool,
}

/// A phase as recorded: name, exit code once ended, counts.
pub type PhaseRecord = (String, Option<i32>, Option<Counts>);

/// A [`Recorder`] in memory. With `interrupt_at = Some(n)` the n-th
/// `before` (1-based) refuses, as a crash or Ctrl-C would stop the run.
#[derive(Default, Debug)]
pub struct MemoryRecorder {
    /// Everything journalled.
    pub actions: Mutex<Vec<Recorded>>,
    /// Phases started and ended: (name, exit code, counts).
    pub phases: Mutex<Vec<PhaseRecord>>,
    /// Refuse this `before` call.
    pub interrupt_at: Option<usize>,
    calls: AtomicUsize,
    /// Lines streamed.
    pub lines: Mutex<Vec<String>>,
    /// Guards overridden, with their reasons.
    pub overrides: std::collections::BTreeMap<String, String>,
    /// Answered by [`Recorder::checks_drift`].
    pub drift_check: bool,
}

impl MemoryRecorder {
    /// A recorder that interrupts at the n-th action.
    pub fn interrupting_at(n: usize) -> Self {
        Self {
            interrupt_at: Some(n),
            ..Self::default()
        }
    }

    /// A recorder of a drift check ([`Recorder::checks_drift`]), or not.
    pub fn checking_drift(drift_check: bool) -> Self {
        Self {
            drift_check,
            ..Self::default()
        }
    }

    /// Resources journalled as created (finished or not), in order.
    pub fn created(&self) -> Vec<ResourceRef> {
        self.actions
            .lock()
            .map(|a| {
                a.iter()
                    .filter(|r| r.action == Action::Create)
                    .map(|r| r.resource.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many `before` calls were made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Recorder for MemoryRecorder {
    fn checks_drift(&self) -> bool {
        self.drift_check
    }

    fn before(&self, action: Action, resource: &ResourceRef) -> Result<ActionId, DriverError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.interrupt_at == Some(n) {
            return Err(DriverError::interrupted(format!(
                "interrupted before {action} {resource}"
            )));
        }
        let mut actions = self
            .actions
            .lock()
            .map_err(|_| DriverError::permanent("recorder poisoned"))?;
        actions.push(Recorded {
            action,
            resource: resource.clone(),
            finished: false,
            failed: false,
        });
        Ok(ActionId {
            id: (actions.len() - 1).to_string(),
            action,
            resource: resource.to_string(),
        })
    }

    fn after(&self, id: &ActionId, _outputs: Option<&Outputs>) -> Result<(), DriverError> {
        let i: usize = id
            .id
            .parse()
            .map_err(|_| DriverError::permanent("bad action id"))?;
        if let Ok(mut a) = self.actions.lock()
            && let Some(r) = a.get_mut(i)
        {
            r.finished = true;
        }
        Ok(())
    }

    fn failed(&self, id: &ActionId, _error: &str) {
        if let Ok(i) = id.id.parse::<usize>()
            && let Ok(mut a) = self.actions.lock()
            && let Some(r) = a.get_mut(i)
        {
            r.failed = true;
        }
    }

    fn phase_start(&self, name: &str) -> PhaseId {
        if let Ok(mut p) = self.phases.lock() {
            p.push((name.to_string(), None, None));
            return PhaseId((p.len() - 1).to_string());
        }
        PhaseId(String::new())
    }

    fn phase_end(&self, id: PhaseId, exit_code: i32, counts: Option<Counts>, _log: Option<&Path>) {
        if let Ok(i) = id.0.parse::<usize>()
            && let Ok(mut p) = self.phases.lock()
            && let Some(entry) = p.get_mut(i)
        {
            entry.1 = Some(exit_code);
            entry.2 = counts;
        }
    }

    fn log(&self, line: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line.to_string());
        }
    }

    /// What this recorder journalled (finished or not) is the run's own.
    fn owns(&self, resource: &ResourceRef) -> bool {
        self.actions.lock().is_ok_and(|a| {
            a.iter()
                .any(|r| r.resource.kind == resource.kind && r.resource.id == resource.id)
        })
    }

    fn created(&self, resource: &ResourceRef) -> bool {
        self.actions.lock().is_ok_and(|a| {
            a.iter().any(|r| {
                r.action == Action::Create
                    && r.resource.kind == resource.kind
                    && r.resource.id == resource.id
            })
        })
    }

    fn cancelled(&self) -> bool {
        false
    }

    fn guard_override(&self, guard: &str) -> Option<String> {
        self.overrides.get(guard).cloned()
    }
}

/// A component to run the suite on.
pub struct Fixture<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The deployment's contract.
    pub contract: &'a Contract<'a>,
    /// The component.
    pub component: &'a ComponentSpec,
    /// Its settings, resolved.
    pub settings: &'a Node,
    /// Outputs of what it needs.
    pub inputs: &'a BTreeMap<String, ComponentOutputs>,
    /// A state directory.
    pub state_dir: PathBuf,
}

impl Fixture<'_> {
    fn ctx<'b>(
        &'b self,
        recorder: &'b dyn Recorder,
        last: Option<&'b ComponentOutputs>,
        intent: Intent,
    ) -> ComponentCtx<'b> {
        ComponentCtx {
            platform: self.platform,
            contract: self.contract,
            component: self.component,
            settings: self.settings,
            inputs: self.inputs,
            last,
            intent,
            state_dir: &self.state_dir,
            recorder,
        }
    }
}

fn destroy_all(
    driver: &dyn Driver,
    f: &Fixture<'_>,
    created: &[ResourceRef],
) -> Result<(), String> {
    let rec = MemoryRecorder::default();
    let ctx = f.ctx(&rec, None, Intent::Update);
    for r in created.iter().rev() {
        driver
            .destroy(&ctx, r)
            .map_err(|e| format!("destroy {r}: {e}"))?;
    }
    Ok(())
}

fn assert_gone(
    driver: &dyn Driver,
    f: &Fixture<'_>,
    created: &[ResourceRef],
    when: &str,
) -> Result<(), String> {
    let rec = MemoryRecorder::default();
    let ctx = f.ctx(&rec, None, Intent::Create);
    for r in created {
        match driver
            .exists(&ctx, r)
            .map_err(|e| format!("exists {r}: {e}"))?
        {
            Existence::Gone => {}
            other => return Err(format!("{when}: {r} is {other:?} after destroy")),
        }
    }
    let seen = driver.observe(&ctx).map_err(|e| format!("observe: {e}"))?;
    if seen.presence != Presence::Absent {
        return Err(format!(
            "{when}: observe says {:?} after destroy",
            seen.presence
        ));
    }
    Ok(())
}

/// Runs the whole suite. Returns a description of the first failure.
pub fn check(driver: &dyn Driver, f: &Fixture<'_>) -> Result<(), String> {
    // 1. apply twice.
    let first = MemoryRecorder::default();
    let applied = driver
        .apply(&f.ctx(&first, None, Intent::Create))
        .map_err(|e| format!("first apply: {e}"))?;
    let created = first.created();
    if created.is_empty() {
        return Err("the first apply journalled no created resource".into());
    }
    if first
        .actions
        .lock()
        .map(|a| a.iter().any(|r| !r.finished))
        .unwrap_or(true)
    {
        return Err("the first apply left an action without its `after`".into());
    }
    let seen = driver
        .observe(&f.ctx(
            &MemoryRecorder::default(),
            Some(&applied.outputs),
            Intent::Update,
        ))
        .map_err(|e| format!("observe after apply: {e}"))?;
    if seen.presence != Presence::Present || !seen.drift.is_empty() {
        return Err(format!(
            "after apply, observe says {:?} with drift {:?}",
            seen.presence, seen.drift
        ));
    }
    let second = MemoryRecorder::default();
    driver
        .apply(&f.ctx(&second, Some(&applied.outputs), Intent::Update))
        .map_err(|e| format!("second apply: {e}"))?;
    if !second.created().is_empty() {
        return Err(format!(
            "the second apply created again: {:?}",
            second.created()
        ));
    }
    // 2. destroy twice.
    destroy_all(driver, f, &created)?;
    destroy_all(driver, f, &created).map_err(|e| format!("second destroy: {e}"))?;
    assert_gone(driver, f, &created, "after destroying twice")?;
    // 3. interrupted half-way, at every action the full apply journals.
    let steps = first.calls();
    for n in 1..=steps {
        let rec = MemoryRecorder::interrupting_at(n);
        match driver.apply(&f.ctx(&rec, None, Intent::Create)) {
            Err(e) if e.kind == crate::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(format!(
                    "apply interrupted at action {n}: unexpected error {e}"
                ));
            }
            Ok(_) => return Err(format!("apply interrupted at action {n} still succeeded")),
        }
        let journalled = rec.created();
        destroy_all(driver, f, &journalled)?;
        assert_gone(driver, f, &created, &format!("interrupted at action {n}"))?;
    }
    Ok(())
}
