//! The driver interface: how goldenpath talks to real systems.
//!
//! A [`Driver`] deploys one kind of component. It
//!
//! - **validates** a component's settings without I/O ([`Driver::validate`]),
//!   returning diagnostics with file, line and column;
//! - **observes** what exists ([`Driver::observe`]);
//! - **applies** the desired state ([`Driver::apply`]), journalling every
//!   resource-level action through the [`Recorder`] *before* it runs and
//!   *after* it finishes, so that a crash leaves a journal from which teardown
//!   can remove exactly what was created;
//! - **destroys** one journalled resource ([`Driver::destroy`]) and reports
//!   whether one still exists ([`Driver::exists`]) for the orphan check.
//!
//! Every operation is idempotent. Errors say whether retrying can help
//! ([`ErrorKind`]); the executor's retry policy reads nothing else.
//! [`conformance`] holds the suite every driver must pass, and [`exec`] the
//! driver that runs commands for steps no other driver covers.
//!
//! ```
//! use gp_driver::{DriverError, ErrorKind};
//! let e = DriverError::retryable("server not answering");
//! assert_eq!(e.kind, ErrorKind::Retryable);
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gp_core::yaml::Node;
use gp_core::{ComponentSpec, Contract, Diagnostic, Platform};
use serde::{Deserialize, Serialize};

pub mod cloud;
pub mod conformance;
pub mod deliver;
pub mod exec;
pub mod process;
pub mod secrets;

/// Output values of a component: host, port, secret path, cluster name, ...
pub type Outputs = BTreeMap<String, serde_json::Value>;

/// Everything a component publishes to its dependents: its own outputs and
/// those of the resources within it (e.g. each database of a database
/// instance, referenced as `rds/backstage`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentOutputs {
    /// `${component.key}` values.
    #[serde(default)]
    pub values: Outputs,
    /// `${component/resource.key}` values, by resource name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, Outputs>,
}

impl ComponentOutputs {
    /// Looks up `key` on the component or on one of its resources.
    pub fn get(&self, resource: Option<&str>, key: &str) -> Option<&serde_json::Value> {
        match resource {
            None => self.values.get(key),
            Some(r) => self.resources.get(r).and_then(|o| o.get(key)),
        }
    }
}

/// A resource a driver created or adopted, as journalled: enough to find
/// and destroy it later even if the spec has changed since. Never secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// What kind: `database`, `role`, `secret`, `record`, `state`, `exec`...
    pub kind: String,
    /// Its identity within that kind.
    pub id: String,
    /// Driver-specific, non-secret facts needed to destroy it.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl ResourceRef {
    /// A resource with no extra data.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            data: serde_json::Value::Null,
        }
    }

    /// Adds destroy data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    /// Marks an adopted resource as the deployment's own from now on: a
    /// build's state found at the build's own key is the build's, and its
    /// teardown removes it. Honoured by teardown for ephemeral builds only.
    pub fn claimed(mut self) -> Self {
        match &mut self.data {
            serde_json::Value::Object(m) => {
                m.insert("claimed".into(), serde_json::Value::Bool(true));
            }
            _ => self.data = serde_json::json!({ "claimed": true }),
        }
        self
    }

    /// Whether [`Self::claimed`] marked it.
    pub fn is_claimed(&self) -> bool {
        self.data.get("claimed").and_then(|v| v.as_bool()) == Some(true)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// What an action does to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Make it; teardown will remove it.
    Create,
    /// Take over something that already exists; teardown leaves it
    /// (unless the resource is [`ResourceRef::claimed`] in a build).
    Adopt,
    /// Change something this deployment created or adopted.
    Update,
    /// Remove it.
    Destroy,
}

impl Action {
    /// The journal's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Destroy => "destroy",
        }
    }

    /// Parses [`Action::as_str`].
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "create" => Action::Create,
            "adopt" => Action::Adopt,
            "update" => Action::Update,
            "destroy" => Action::Destroy,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether trying again can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The settings or the environment are wrong; fix them first.
    Configuration,
    /// Transient (network, lock, server starting); retrying may succeed.
    Retryable,
    /// The operation failed and will fail again.
    Permanent,
    /// The thing looked for does not exist.
    NotFound,
    /// A guard refused (protected resource, ownership conflict); exit 3.
    Refused,
    /// The run was interrupted before the action finished.
    Interrupted,
}

/// A driver failure.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct DriverError {
    /// Whether retrying can help.
    pub kind: ErrorKind,
    /// What happened (never contains a secret).
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// Positioned problems in input files, when there are any.
    pub diagnostics: Vec<Diagnostic>,
}

impl DriverError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            diagnostics: Vec::new(),
        }
    }
    /// A configuration error.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, message)
    }
    /// A transient failure.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Retryable, message)
    }
    /// A lasting failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }
    /// Something is missing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// A guard refused.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }
    /// The run was interrupted.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }
    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Attaches positioned diagnostics.
    pub fn with_diagnostics(mut self, d: Vec<Diagnostic>) -> Self {
        self.diagnostics = d;
        self
    }
}

/// Is a resource there?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Nothing of it exists.
    Absent,
    /// It exists.
    Present,
    /// Some of it exists (an interrupted apply).
    Partial,
}

/// What a driver sees of a component.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Whether it exists.
    pub presence: Presence,
    /// How the live state differs from the desired state; empty when it
    /// matches.
    pub drift: Vec<String>,
    /// Live outputs, when the driver can read them.
    pub outputs: Option<ComponentOutputs>,
    /// Counts of a pending change, when the driver can tell (Terraform).
    pub counts: Option<Counts>,
}

impl Observation {
    /// Nothing there.
    pub fn absent() -> Self {
        Self {
            presence: Presence::Absent,
            drift: Vec::new(),
            outputs: None,
            counts: None,
        }
    }
    /// There, matching.
    pub fn present(outputs: Option<ComponentOutputs>) -> Self {
        Self {
            presence: Presence::Present,
            drift: Vec::new(),
            outputs,
            counts: None,
        }
    }
}

/// Resources added, changed and destroyed by an action.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Counts {
    /// Added.
    pub added: i64,
    /// Changed.
    pub changed: i64,
    /// Destroyed.
    pub destroyed: i64,
}

/// The result of an apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// What the component now publishes.
    pub outputs: ComponentOutputs,
    /// What changed.
    pub counts: Counts,
}

/// Whether a journalled resource still exists (the orphan check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Existence {
    /// It exists.
    Exists,
    /// It is gone.
    Gone,
    /// The driver cannot tell (e.g. an exec component without a check).
    Unknown,
}

/// What the engine decided for a component, which the driver journals its
/// main resource as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Nothing of it exists yet.
    Create,
    /// It exists but this deployment did not create it.
    Adopt,
    /// This deployment created or adopted it before.
    Update,
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

/// A DNS record for one of a component's hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostRecord {
    /// The host relative to the deployment's suffix.
    pub name: String,
    /// The full name, derived by the contract.
    pub fqdn: String,
    /// A, AAAA or CNAME.
    #[serde(rename = "type")]
    pub rtype: gp_core::RecordType,
    /// The address or name it points at (references resolved).
    pub target: String,
}

/// The records of one component's hosts, in the zone of a component it
/// needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostRecords {
    /// The zone's component.
    pub zone: String,
    /// The records.
    pub records: Vec<HostRecord>,
}

/// What publishing one host record would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordAction {
    /// It does not exist yet.
    Create,
    /// It exists and points elsewhere.
    Update,
    /// It is as wanted.
    Unchanged,
    /// Another owner holds the name: never touched.
    Conflict,
}

/// One row of a host-records plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPlan {
    /// Full name.
    pub fqdn: String,
    /// Record type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Target.
    pub target: String,
    /// What applying would do.
    pub action: RecordAction,
    /// Why (a conflict's owner, the current value).
    pub detail: String,
}

/// A driver that holds a zone and publishes components' host records in
/// it, with ownership records so that it and ExternalDNS never delete each
/// other's records. The engine finds this capability, never a driver name.
pub trait HostPublisher: Send + Sync {
    /// What exists of the records.
    fn observe_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Observation, DriverError>;
    /// Publishes them (journalled under the component); a name another
    /// owner holds is refused ([`ErrorKind::Refused`]).
    fn publish_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Applied, DriverError>;
    /// What publishing would do, per record.
    fn plan_hosts(
        &self,
        ctx: &ComponentCtx<'_>,
        records: &HostRecords,
    ) -> Result<Vec<RecordPlan>, DriverError>;
}

/// The [`Driver`] face of a driver's [`HostPublisher`] for one set of
/// records: `apply` publishes them, `observe` observes them, `destroy` and
/// `exists` are the driver's own. What the shared conformance suite and the
/// publisher's tests run.
pub struct PublishHosts<'a> {
    /// The driver holding the zone.
    pub driver: &'a dyn Driver,
    /// The records.
    pub records: HostRecords,
}

impl PublishHosts<'_> {
    fn publisher(&self) -> Result<&dyn HostPublisher, DriverError> {
        self.driver.host_publisher().ok_or_else(|| {
            DriverError::configuration(format!(
                "the {} driver publishes no host records",
                self.driver.name()
            ))
        })
    }
}

impl Driver for PublishHosts<'_> {
    fn name(&self) -> &'static str {
        self.driver.name()
    }
    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<Diagnostic>> {
        self.driver.validate(ctx)
    }
    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<Diagnostic> {
        self.driver.preflight(ctx)
    }
    fn artifacts(&self, ctx: &ArtifactCtx<'_>) -> Vec<gp_core::propagation::Artifact> {
        self.driver.artifacts(ctx)
    }
    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        self.publisher()?.observe_hosts(ctx, &self.records)
    }
    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        self.publisher()?.publish_hosts(ctx, &self.records)
    }
    fn destroy(&self, ctx: &ComponentCtx<'_>, resource: &ResourceRef) -> Result<(), DriverError> {
        self.driver.destroy(ctx, resource)
    }
    fn destroy_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[ResourceRef],
    ) -> Vec<Result<(), DriverError>> {
        self.driver.destroy_many(ctx, resources)
    }
    fn resource_kinds(&self) -> &'static [&'static str] {
        self.driver.resource_kinds()
    }
    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError> {
        self.driver.exists(ctx, resource)
    }
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

/// What a driver may look at while validating: no I/O is allowed.
pub struct ValidateCtx<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The component.
    pub component: &'a ComponentSpec,
    /// Its settings; references (`${x.y}`) are still unresolved.
    pub settings: &'a Node,
}

/// What the driver declares about a component after validating it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Validated {
    /// The outputs it will publish, when known statically; `None` when they
    /// are only known at apply time.
    pub outputs: Option<Vec<String>>,
    /// Resources within it that others can need (`rds/backstage`).
    pub resources: Vec<String>,
    /// Per-resource outputs, when known statically.
    pub resource_outputs: Option<Vec<String>>,
    /// Names in shared systems this component owns (its databases and
    /// login roles, an instance's admin role): a self-service request can
    /// never take them over. `(name, kind)`, kind `role` or `database`.
    pub owned: Vec<(String, &'static str)>,
}

/// A name in a shared system a component holds in one deployment (its
/// database, its login role, where its credentials are): no request may
/// claim it. See [`Driver::holds`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldName {
    /// What kind of name.
    pub kind: gp_core::ownership::NameKind,
    /// The name, as the deployment's contract derives it.
    pub name: String,
    /// Everything under it too (a folder of secrets).
    pub under: bool,
    /// What it is, in words (`its admin role`).
    pub what: String,
}

/// Everything a driver needs for one component in one deployment.
pub struct ComponentCtx<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The contract of the deployment.
    pub contract: &'a Contract<'a>,
    /// The component.
    pub component: &'a ComponentSpec,
    /// Its settings with references resolved (or, when planning before the
    /// inputs exist, still unresolved).
    pub settings: &'a Node,
    /// Outputs of the components it needs, by component name.
    pub inputs: &'a BTreeMap<String, ComponentOutputs>,
    /// Outputs of its last successful apply in this deployment.
    pub last: Option<&'a ComponentOutputs>,
    /// What the engine decided.
    pub intent: Intent,
    /// goldenpath's state directory.
    pub state_dir: &'a Path,
    /// The journal and phase recorder.
    pub recorder: &'a dyn Recorder,
}

/// What [`Driver::artifacts`] gets: one deployment.
pub struct ArtifactCtx<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The deployment's contract.
    pub contract: &'a Contract<'a>,
    /// goldenpath's state directory.
    pub state_dir: &'a Path,
}

/// The working directory of a deployment's components:
/// `{state}/work/{env}/{deployment}` (one folder per component below).
pub fn deployment_work_dir(state_dir: &Path, contract: &Contract<'_>) -> PathBuf {
    state_dir
        .join("work")
        .join(contract.env())
        .join(contract.deployment().key())
}

impl ComponentCtx<'_> {
    /// A directory for this component's working files in this deployment:
    /// `{state}/work/{env}/{deployment}/{component}`.
    pub fn work_dir(&self) -> PathBuf {
        deployment_work_dir(self.state_dir, self.contract).join(&self.component.name.value)
    }

    /// Where the process groups of this deployment's running children are
    /// recorded: `{state}/run/{env}/{deployment}`.
    pub fn children_dir(&self) -> PathBuf {
        children_dir(
            self.state_dir,
            self.contract.env(),
            &self.contract.deployment().key(),
        )
    }

    /// A log file for one step of this run:
    /// `{state}/logs/{env}/{deployment}/{run}/{component}-{step}.log`
    /// (appended to when a step runs again within the run).
    pub fn log_file(&self, step: &str) -> PathBuf {
        let run: String = self
            .recorder
            .run_id()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.state_dir
            .join("logs")
            .join(self.contract.env())
            .join(self.contract.deployment().key())
            .join(run)
            .join(format!("{}-{step}.log", self.component.name.value))
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        &self.component.name.value
    }

    /// A diagnostic at `pos` in the spec.
    pub fn diagnostic(&self, pos: gp_core::yaml::Pos, message: impl Into<String>) -> Diagnostic {
        self.platform.diagnostic(pos, message)
    }
}

/// `{state}/run/{env}/{deployment}`: the running children of a deployment
/// (see [`process::kill_tracked`]).
pub fn children_dir(state_dir: &Path, env: &str, deployment: &str) -> PathBuf {
    state_dir.join("run").join(env).join(deployment)
}

/// A driver: one kind of component.
pub trait Driver: Send + Sync {
    /// The name components use in `driver:`.
    fn name(&self) -> &'static str;

    /// Checks the settings without I/O.
    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<Diagnostic>>;

    /// Checks that this machine can run the component as written — its
    /// files exist, its programs are installed, its backend is built in —
    /// reading only local files (no network, no registry). `validate` and
    /// `deploy` report these with the spec's positions before anything
    /// runs.
    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<Diagnostic> {
        let _ = ctx;
        Vec::new()
    }

    /// The files this driver wrote for a deployment that carry the
    /// contract (rendered objects, variable files), for `verify
    /// propagation`; each says where it must hold the build id.
    fn artifacts(&self, ctx: &ArtifactCtx<'_>) -> Vec<gp_core::propagation::Artifact> {
        let _ = ctx;
        Vec::new()
    }

    /// Looks at what exists.
    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError>;

    /// Makes it so; journals each resource action before and after.
    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError>;

    /// Removes one resource this deployment created. Removing something
    /// already gone is not an error.
    fn destroy(&self, ctx: &ComponentCtx<'_>, resource: &ResourceRef) -> Result<(), DriverError>;

    /// What one of its components is, in words (`database instance`, `DNS
    /// zone`), and with `resource` what a resource within it is
    /// (`database`), for the reasons status and plan give.
    fn noun(&self, resource: bool) -> &'static str {
        let _ = resource;
        "component"
    }

    /// The names in shared systems the component holds in the deployment
    /// of `contract` (no I/O): the ownership index asks it for the
    /// foundational plane, the persistent deployment and two probe builds,
    /// and learns a per-build pattern from what the build changed. Return
    /// the names in the same order for every deployment.
    fn holds(&self, ctx: &ValidateCtx<'_>, contract: &Contract<'_>) -> Vec<HeldName> {
        let _ = (ctx, contract);
        Vec::new()
    }

    /// Its host-publishing capability, for a driver that holds a zone.
    fn host_publisher(&self) -> Option<&dyn HostPublisher> {
        None
    }

    /// Its capability of delivering requests' objects to the cluster, for
    /// a driver that writes what the cluster applies.
    fn deliverer(&self) -> Option<&dyn deliver::Deliverer> {
        None
    }

    /// The resource kinds this driver journals. Teardown refuses a
    /// journalled resource of any other kind under a component of this
    /// driver (a forged or misfiled row), running nothing for it.
    fn resource_kinds(&self) -> &'static [&'static str];

    /// Whether a journalled resource still exists.
    fn exists(
        &self,
        ctx: &ComponentCtx<'_>,
        resource: &ResourceRef,
    ) -> Result<Existence, DriverError>;

    /// Removes several resources of one component, in the order given,
    /// with one result each. Drivers whose systems take batches (DNS
    /// updates) override it; the default destroys one at a time.
    fn destroy_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[ResourceRef],
    ) -> Vec<Result<(), DriverError>> {
        resources.iter().map(|r| self.destroy(ctx, r)).collect()
    }

    /// [`Driver::exists`] for several resources at once.
    fn exists_many(
        &self,
        ctx: &ComponentCtx<'_>,
        resources: &[ResourceRef],
    ) -> Vec<Result<Existence, DriverError>> {
        resources.iter().map(|r| self.exists(ctx, r)).collect()
    }

    /// Provisions something a self-service request asks of a deployed
    /// component (a database on an instance), journalling each action
    /// like [`Driver::apply`]. The request is the driver's own JSON shape.
    /// Drivers that take no requests refuse.
    fn provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Applied, DriverError> {
        let _ = request;
        Err(DriverError::configuration(format!(
            "{} (driver {}) takes no requests",
            ctx.name(),
            self.name()
        )))
    }

    /// Called once at the end of a deploy run (successful or not), for work
    /// a driver batches across its components (the gitops driver's one
    /// commit and push to a remote).
    fn run_finished(&self, platform: &gp_core::Platform) -> Result<(), DriverError> {
        let _ = platform;
        Ok(())
    }

    /// What [`Driver::provision`] of `request` would change, one line per
    /// step, reading only (drivers that take no requests: nothing).
    fn plan_provision(
        &self,
        ctx: &ComponentCtx<'_>,
        request: &serde_json::Value,
    ) -> Result<Vec<String>, DriverError> {
        let _ = (ctx, request);
        Ok(Vec::new())
    }

    /// Releases a stale lock on the component's state (`terraform
    /// force-unlock`). The engine records who and why first. Drivers
    /// without locks refuse.
    fn unlock(&self, ctx: &ComponentCtx<'_>, lock_id: &str) -> Result<(), DriverError> {
        let _ = lock_id;
        Err(DriverError::configuration(format!(
            "{} (driver {}) has no state locks",
            ctx.name(),
            self.name()
        )))
    }

    /// What a deployed component holds, read live (the databases on an
    /// instance), one JSON object per item. Empty for drivers with nothing
    /// to list.
    fn inventory(&self, ctx: &ComponentCtx<'_>) -> Result<Vec<serde_json::Value>, DriverError> {
        let _ = ctx;
        Ok(Vec::new())
    }
}

/// The drivers a run can use, by name.
#[derive(Clone, Default)]
pub struct DriverSet {
    drivers: BTreeMap<&'static str, Arc<dyn Driver>>,
    sweep: Option<Arc<dyn TagSweep>>,
}

/// A resource a cloud still holds with a deployment's tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedResource {
    /// Its id (an ARN).
    pub id: String,
    /// Its kind (`secretsmanager:secret`).
    pub kind: String,
    /// Whether goldenpath owns resources of this kind and may delete it.
    pub deletable: bool,
    /// Its `BuildId` tag, if it has one.
    pub build_id: Option<String>,
}

/// Finds what a cloud still holds tagged for a deployment, beyond the
/// journal (resources made by Terraform modules, by controllers, by hand):
/// the orphan sweep.
pub trait TagSweep: Send + Sync {
    /// Every resource carrying all of `tags`.
    fn tagged(&self, tags: &BTreeMap<String, String>) -> Result<Vec<TaggedResource>, DriverError>;
    /// Deletes one (only a `deletable` one is ever passed).
    fn delete(&self, r: &TaggedResource) -> Result<(), DriverError>;
}

impl DriverSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a driver.
    pub fn with(mut self, driver: Arc<dyn Driver>) -> Self {
        self.drivers.insert(driver.name(), driver);
        self
    }

    /// Adds the orphan sweep by tags.
    pub fn with_tag_sweep(mut self, sweep: Arc<dyn TagSweep>) -> Self {
        self.sweep = Some(sweep);
        self
    }

    /// The orphan sweep by tags, when this platform has one.
    pub fn tag_sweep(&self) -> Option<&Arc<dyn TagSweep>> {
        self.sweep.as_ref()
    }

    /// The driver called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Driver>> {
        self.drivers.get(name)
    }

    /// Every driver name.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.drivers.keys().copied()
    }

    /// The driver that delivers requests' objects, if one is wired.
    pub fn deliverer(&self) -> Option<&dyn deliver::Deliverer> {
        self.drivers.values().find_map(|d| d.deliverer())
    }
}

/// Reads a driver's typed settings, turning errors into diagnostics at the
/// offending node.
pub fn typed_settings<T: for<'de> Deserialize<'de>>(
    platform: &Platform,
    settings: &Node,
    placeholders: bool,
) -> Result<T, Vec<Diagnostic>> {
    let r = if placeholders {
        gp_core::yaml::from_node_with_placeholders(settings)
    } else {
        gp_core::yaml::from_node(settings)
    };
    r.map_err(|e| {
        let pos = e.pos.unwrap_or(settings.start);
        vec![
            platform
                .diagnostic(pos, format!("invalid settings: {}", e.message))
                .with_hint_opt(e.hint),
        ]
    })
}

/// As [`typed_settings`] at apply time, as a configuration error.
pub fn settings_at_apply<T: for<'de> Deserialize<'de>>(
    ctx: &ComponentCtx<'_>,
) -> Result<T, DriverError> {
    typed_settings(ctx.platform, ctx.settings, false).map_err(|d| {
        DriverError::configuration(format!("invalid settings for `{}`", ctx.name()))
            .with_diagnostics(d)
    })
}

/// A program on `PATH` (or `name` itself when it holds a `/`), when it is
/// an executable file.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = std::path::PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| executable(p))
}
