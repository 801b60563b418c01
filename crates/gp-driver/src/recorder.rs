//! The recorder drivers journal every action through, before and after it runs.

use super::*;

/// What a run may do. Drivers read it to stay within it: a plan or a read
/// only looks — nothing is created, locally or remotely, and nothing is
/// journalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// `plan`: what a deploy would do.
    Plan,
    /// A read-only look (status, inventory, a DNS listing).
    Read,
    /// A deploy, teardown or provisioning run: it changes things and
    /// journals them.
    Write,
}

/// An action id returned by [`Recorder::before`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionId {
    /// The journal's id of the action (shared by its entries).
    pub id: String,
    /// What is being done.
    pub action: Action,
    /// The resource, as the journal names it.
    pub resource: String,
}

/// A phase started with [`Recorder::phase_start`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseId(pub String);

/// How a driver reports what it does. The engine implements it on the
/// registry; the conformance suite in memory.
pub trait Recorder: Send + Sync {
    /// What this run may do ([`RunMode`]); a recorder of a run that
    /// changes things unless it says otherwise.
    fn mode(&self) -> RunMode {
        RunMode::Write
    }

    /// Whether this look is a drift check (`goldenpath drift`): a driver
    /// may look further than `plan` does (Terraform runs a refresh-only
    /// plan beside it).
    fn checks_drift(&self) -> bool {
        false
    }

    /// Journals an action *before* it runs. An error (e.g. the run is
    /// interrupted) means the action must not run.
    fn before(&self, action: Action, resource: &ResourceRef) -> Result<ActionId, DriverError>;
    /// Journals that the action finished.
    fn after(&self, id: &ActionId, outputs: Option<&Outputs>) -> Result<(), DriverError>;
    /// Journals that the action failed.
    fn failed(&self, id: &ActionId, error: &str);

    /// [`Recorder::before`] for several actions at once (a batch of DNS
    /// changes): the registry writes them as one transaction. All or
    /// nothing: an error means none may run.
    fn before_many(
        &self,
        actions: &[(Action, &ResourceRef)],
    ) -> Result<Vec<ActionId>, DriverError> {
        actions.iter().map(|(a, r)| self.before(*a, r)).collect()
    }

    /// [`Recorder::after`] for several finished actions at once.
    fn after_many(&self, ids: &[ActionId]) -> Result<(), DriverError> {
        ids.iter().try_for_each(|id| self.after(id, None))
    }

    /// [`Recorder::after_many`] of `done`, then [`Recorder::before_many`]
    /// of `next`: the registry writes both as one transaction (a DNS
    /// publish journals the batch it sent and the batch it sends next in
    /// one write). An error means none of `next` may run; `done` may or
    /// may not be journalled (the default writes it first, the registry
    /// neither), so a caller journals it after again (the same fact twice).
    fn after_and_before_many(
        &self,
        done: &[ActionId],
        next: &[(Action, &ResourceRef)],
    ) -> Result<Vec<ActionId>, DriverError> {
        self.after_many(done)?;
        self.before_many(next)
    }
    /// Starts a timed sub-phase (e.g. `terraform-plan`).
    fn phase_start(&self, name: &str) -> PhaseId;
    /// Ends it with the exit code of the process that ran, the counts, and
    /// its log file.
    fn phase_end(&self, id: PhaseId, exit_code: i32, counts: Option<Counts>, log: Option<&Path>);
    /// A line of a child process's output, for `-v`.
    fn log(&self, line: &str);
    /// Whether the run was asked to stop (Ctrl-C).
    fn cancelled(&self) -> bool;

    /// The recorded reason when the person running goldenpath overrode
    /// `guard` of this component (`--override-guard COMPONENT[:GUARD]
    /// --reason ...`); `None` when the guard stands.
    fn guard_override(&self, _guard: &str) -> Option<String> {
        None
    }

    /// Checks what the driver is about to deliver against the platform's
    /// policies (rendered files before they are written and committed, a
    /// Terraform plan before it is applied). An error refuses: nothing may
    /// be delivered. Without policies (the default), always `Ok`.
    fn check_policy(&self, _subject: PolicySubject<'_>) -> Result<(), DriverError> {
        Ok(())
    }

    /// Whether a foundational component of this environment is deployed
    /// (from the registry), for drivers that render it into bootstrap
    /// values; `None` when the run cannot tell.
    fn foundational_ready(&self, _component: &str) -> Option<bool> {
        None
    }

    /// Whether this deployment's journal holds a create of `resource`
    /// (not only its adoption) that was not destroyed since.
    fn created(&self, resource: &ResourceRef) -> bool {
        self.owns(resource)
    }

    /// Whether this deployment's journal holds an action of this component
    /// on `resource` (finished or not) that was not destroyed since: a
    /// resource found in the system is then its own — for instance one an
    /// interrupted run created — not someone else's.
    fn owns(&self, resource: &ResourceRef) -> bool {
        let _ = resource;
        false
    }

    /// The run this recorder belongs to, as a file-name-safe id: every run
    /// writes its logs under its own directory, so a phase recorded in the
    /// registry keeps pointing at its own log.
    fn run_id(&self) -> &str {
        "run"
    }
}

/// What [`Recorder::check_policy`] checks.
pub enum PolicySubject<'a> {
    /// Rendered files: path in the GitOps repository, and text.
    Rendered(&'a BTreeMap<String, String>),
    /// A Terraform plan as `terraform show -json` printed it.
    Plan {
        /// What to call it in findings (`cluster/apply.tfplan`).
        name: &'a str,
        /// The plan.
        json: &'a serde_json::Value,
    },
}

impl<'r> dyn Recorder + 'r {
    /// Runs `op` on `resource` journalled as `action`: `before` it runs,
    /// then `after` it, or `failed` with its error. An error journalling
    /// `before` means `op` does not run.
    pub fn journalled<T>(
        &self,
        action: Action,
        resource: &ResourceRef,
        op: impl FnOnce() -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let id = self.before(action, resource)?;
        match op() {
            Ok(v) => {
                self.after(&id, None)?;
                Ok(v)
            }
            Err(e) => {
                self.failed(&id, &e.message);
                Err(e)
            }
        }
    }
}
