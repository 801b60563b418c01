//! goldenpath's engine: it turns the platform spec into the resource graph
//! of one deployment and runs it through drivers.
//!
//! - [`graph`]: targets and read-only foundational dependencies, filtered by
//!   tier and mode, in a deterministic topological order;
//! - [`Engine::validate`]: every component's settings checked by its driver,
//!   and every `${component.output}` reference checked against what the
//!   referenced component declares — all without I/O;
//! - [`Engine::plan`]: create / adopt / update / unchanged / skip / blocked
//!   per component, from what the drivers observe;
//! - [`Engine::deploy`]: runs the plan with bounded parallelism under the
//!   deployment's lease, journalling every driver action before and after
//!   it runs and timing each component as a phase; resumable after a crash;
//! - [`Engine::teardown`]: replays the journal in reverse, destroys exactly
//!   what the deployment created, then checks for orphans;
//! - [`status`]: per component state and, for anything not running, the
//!   reason phrased as the next command, derived from the registry.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use gp_core::{Diagnostic, InvalidInput, Platform};
use gp_driver::{DriverSet, ValidateCtx, Validated};
use gp_registry::Registry;
use serde::Serialize;

pub mod catalog;
pub mod databases;
pub mod drift;
pub mod expiry;
pub mod graph;
pub mod hosts;
pub mod iam;
pub mod impact;
pub mod lease;
pub mod ownership;
pub mod plan;
pub mod policy;
pub mod previews;
mod provision;
mod recorder;
pub mod refs;
pub mod requests;
pub mod run;
pub mod state;
pub mod status;
pub mod sweep;
pub mod teardown;
mod verify;
pub mod wait;

pub use graph::{Disposition, Graph, GraphFormat, Role};
pub use plan::{Plan, PlanAction, PlanItem};
pub use policy::PolicyOverride;
pub use run::{DeployOutcome, DeployRequest, DeploymentSelector, RunOutcome};
pub use teardown::{TeardownOutcome, TeardownRequest, TeardownTarget};
pub use wait::{RowState, Wait};

/// The plane-safety rule, in one place: whether a run on `deployment` may
/// change `component`. The foundational plane changes only the foundational
/// components it targets; a deployment (persistent or a build) never
/// changes a foundational component. A component no longer in the spec is
/// a deployment's own (only deployments journal disposable components).
pub fn may_touch(
    platform: &Platform,
    deployment: gp_core::Deployment,
    targets: &std::collections::BTreeSet<String>,
    component: &str,
) -> bool {
    let plane = platform.component(component).map(|c| c.plane.value);
    match deployment {
        gp_core::Deployment::Foundational => {
            plane == Some(gp_core::Plane::Foundational) && targets.contains(component)
        }
        _ => plane != Some(gp_core::Plane::Foundational),
    }
}

/// A guard the person running goldenpath overrides, with their reason
/// (`--override-guard COMPONENT[:GUARD] --reason ...`). Recorded in the
/// registry when the run starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardOverride {
    /// The component.
    pub component: String,
    /// The guard (`protect`, `maxDestroy`, ...); every guard when `None`.
    pub guard: Option<String>,
    /// Why.
    pub reason: String,
}

impl GuardOverride {
    /// Parses `COMPONENT` or `COMPONENT:GUARD`.
    pub fn parse(spec: &str, reason: &str) -> Option<GuardOverride> {
        let (component, guard) = match spec.split_once(':') {
            Some((c, g)) => (c, Some(g.to_string())),
            None => (spec, None),
        };
        (!component.is_empty()).then(|| GuardOverride {
            component: component.into(),
            guard,
            reason: reason.into(),
        })
    }
}

/// Why the engine would not (or could not) run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Input problems with positions (exit 2).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A usage problem (exit 2).
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: Option<String>,
    },
    /// A guard refused (exit 3).
    #[error("{message}")]
    Refused {
        /// What was refused.
        message: String,
        /// What to do.
        hint: Option<String>,
    },
    /// A driver failed (exit 1).
    #[error("{message}")]
    Failed {
        /// What failed.
        message: String,
        /// What to do.
        hint: Option<String>,
    },
    /// The registry failed or refused.
    #[error(transparent)]
    Registry(#[from] gp_registry::RegistryError),
    /// The graph could not be built.
    #[error(transparent)]
    Graph(#[from] graph::GraphError),
    /// A name could not be derived.
    #[error(transparent)]
    Contract(#[from] gp_core::ContractError),
}

impl EngineError {
    pub(crate) fn usage(message: impl Into<String>, hint: Option<String>) -> Self {
        EngineError::Usage {
            message: message.into(),
            hint,
        }
    }
    pub(crate) fn failed(message: impl Into<String>, hint: Option<String>) -> Self {
        EngineError::Failed {
            message: message.into(),
            hint,
        }
    }
    pub(crate) fn refused(message: impl Into<String>, hint: Option<String>) -> Self {
        EngineError::Refused {
            message: message.into(),
            hint,
        }
    }
}

/// Something that happened during a run, for progress display and JSON
/// Lines output.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(
    tag = "event",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// The run began.
    RunStarted {
        /// Environment.
        env: String,
        /// Deployment key.
        deployment: String,
        /// Run id.
        run_id: String,
        /// What kind of run.
        operation: String,
        /// Components in the graph.
        components: usize,
    },
    /// A component's action started.
    ComponentStarted {
        /// Component.
        component: String,
        /// create / adopt / update / destroy.
        action: String,
    },
    /// A component's action finished.
    ComponentFinished {
        /// Component.
        component: String,
        /// What was done.
        action: String,
        /// How long it took.
        duration_ms: u64,
        /// Resources added.
        added: i64,
        /// Changed.
        changed: i64,
        /// Destroyed.
        destroyed: i64,
    },
    /// Nothing to do for a component.
    ComponentUnchanged {
        /// Component.
        component: String,
    },
    /// A foundational dependency is in place.
    DependencyReady {
        /// Component.
        component: String,
    },
    /// Filtered out by tier or mode.
    ComponentSkipped {
        /// Component.
        component: String,
        /// Why.
        reason: String,
    },
    /// Waits for a foundational dependency that is not deployed.
    ComponentPending {
        /// Component.
        component: String,
        /// What it waits for.
        reason: String,
        /// The command that unblocks it.
        next: Option<String>,
    },
    /// Cannot run because of this deployment (a failed, skipped or blocked
    /// dependency).
    ComponentBlocked {
        /// Component.
        component: String,
        /// Why.
        reason: String,
    },
    /// A foundational dependency is not deployed.
    DependencyNotDeployed {
        /// Component.
        component: String,
        /// Its state.
        reason: String,
        /// The command that deploys it.
        next: Option<String>,
    },
    /// A component failed.
    ComponentFailed {
        /// Component.
        component: String,
        /// The error.
        error: String,
        /// What to do.
        hint: Option<String>,
        /// A guard or an ownership rule refused it (nothing was changed).
        refused: bool,
    },
    /// A transient failure is being retried.
    Retrying {
        /// Component.
        component: String,
        /// Attempt number about to start.
        attempt: u32,
        /// The error.
        error: String,
    },
    /// A resource was removed (teardown).
    ResourceDestroyed {
        /// Component.
        component: String,
        /// The resource.
        resource: String,
    },
    /// A resource could not be removed (teardown).
    ResourceDestroyFailed {
        /// Component.
        component: String,
        /// The resource.
        resource: String,
        /// The error.
        error: String,
    },
    /// A policy's finding on what a component was about to deliver.
    PolicyFinding {
        /// Component.
        component: String,
        /// The rule's id.
        rule: String,
        /// `deny` or `warn`.
        severity: String,
        /// The message.
        message: String,
        /// The file (in the GitOps repository, or the plan).
        file: String,
        /// The line its object starts on.
        line: usize,
        /// Let through by `--override-policy`.
        overridden: bool,
    },
    /// A line of a child process's output.
    Log {
        /// The line.
        line: String,
    },
    /// Ctrl-C: running actions finish, nothing new starts.
    Interrupted {
        /// Components that were not started.
        not_started: Vec<String>,
    },
    /// The run ended.
    RunFinished {
        /// `succeeded`, `failed`, `interrupted`, `torn_down`, ...
        outcome: String,
        /// How long the run took.
        duration_ms: u64,
    },
}

/// Receives [`Event`]s.
pub trait EventSink: Send + Sync {
    /// One event.
    fn emit(&self, event: &Event);
}

/// An [`EventSink`] that drops everything.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: &Event) {}
}

/// The engine for one platform.
pub struct Engine<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The registry.
    pub registry: &'a Registry,
    /// The drivers.
    pub drivers: &'a DriverSet,
    /// goldenpath's state directory.
    pub state_dir: PathBuf,
    /// Who is acting.
    pub actor: String,
    /// Source commit, if known.
    pub commit: Option<String>,
    /// CI run URL, if known.
    pub run_url: Option<String>,
    /// Who opened the change this run comes from (a pull request's
    /// author, in CI), if known: never an approver of what it brings.
    pub change_author: Option<String>,
    /// The pull request a build is deployed for (in CI), recorded with
    /// each of its deploys: the build is that pull request's preview.
    pub pull_request: Option<gp_registry::PullRequestRef>,
    /// Where progress goes.
    pub events: &'a dyn EventSink,
    /// Set by Ctrl-C: stop starting new work.
    pub cancel: &'a AtomicBool,
    /// Components run at once.
    pub parallel: usize,
    /// Attempts after a retryable failure.
    pub retries: u32,
    /// Lease lifetime in seconds (renewed while the run lasts).
    pub lease_ttl_s: i64,
    /// Where policies are evaluated during a deploy; `None` runs none.
    pub policy: Option<gp_policy::Runner>,
    validated: std::sync::OnceLock<BTreeMap<String, Validated>>,
}

impl<'a> Engine<'a> {
    /// An engine with default knobs.
    pub fn new(
        platform: &'a Platform,
        registry: &'a Registry,
        drivers: &'a DriverSet,
        state_dir: PathBuf,
        events: &'a dyn EventSink,
        cancel: &'a AtomicBool,
    ) -> Self {
        Self {
            platform,
            registry,
            drivers,
            state_dir,
            actor: "unknown".into(),
            commit: None,
            run_url: None,
            change_author: None,
            pull_request: None,
            events,
            cancel,
            parallel: 4,
            retries: 2,
            lease_ttl_s: 300,
            policy: None,
            validated: std::sync::OnceLock::new(),
        }
    }

    /// Checks every component against its driver and every reference against
    /// what it refers to. No I/O. Returns what each driver declared.
    /// Hands the engine a validation already made of its platform and
    /// drivers (the CLI validates before opening the registry).
    pub fn set_validated(&mut self, v: BTreeMap<String, Validated>) {
        let _ = self.validated.set(v);
    }

    /// Validation runs once per engine: every workflow calls this first,
    /// and only the first call does the work.
    pub fn validate(&self) -> Result<&BTreeMap<String, Validated>, InvalidInput> {
        if let Some(v) = self.validated.get() {
            return Ok(v);
        }
        let v = validate(self.platform, self.drivers)?;
        Ok(self.validated.get_or_init(|| v))
    }
}

/// Checks every component against its driver and every reference against
/// what it refers to, without I/O (and without a registry).
pub fn validate(
    platform: &Platform,
    drivers: &DriverSet,
) -> Result<BTreeMap<String, Validated>, InvalidInput> {
    Validator { platform, drivers }.run()
}

/// Checks that this machine can run the spec's components as written
/// (each driver's [`gp_driver::Driver::preflight`]: roots and programs
/// present, backends built in), reading only local files. Run by
/// `validate` and before a deploy reserves anything.
pub fn preflight(platform: &Platform, drivers: &DriverSet) -> Result<(), InvalidInput> {
    let mut problems = Vec::new();
    for c in &platform.spec.components {
        let Some(driver) = drivers.get(&c.driver.value) else {
            continue;
        };
        let settings = c.settings_node();
        problems.extend(driver.preflight(&ValidateCtx {
            platform,
            component: c,
            settings: &settings,
        }));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InvalidInput(problems))
    }
}

struct Validator<'a> {
    platform: &'a Platform,
    drivers: &'a DriverSet,
}

impl Validator<'_> {
    fn run(&self) -> Result<BTreeMap<String, Validated>, InvalidInput> {
        let platform = self.platform;
        let mut problems: Vec<Diagnostic> = Vec::new();
        let mut declared: BTreeMap<String, Validated> = BTreeMap::new();
        for c in &platform.spec.components {
            let Some(driver) = self.drivers.get(&c.driver.value) else {
                let names: Vec<String> = self.drivers.names().map(String::from).collect();
                problems.push(
                    platform
                        .diagnostic(
                            c.driver.start,
                            format!(
                                "unknown driver `{}` (available: {})",
                                c.driver.value,
                                names.join(", ")
                            ),
                        )
                        .with_hint_opt(gp_core::spec::suggest(&c.driver.value, names.iter())),
                );
                continue;
            };
            let settings = c.settings_node();
            match driver.validate(&ValidateCtx {
                platform,
                component: c,
                settings: &settings,
            }) {
                Ok(v) => {
                    declared.insert(c.name.value.clone(), v);
                }
                Err(mut d) => problems.append(&mut d),
            }
        }
        // Needs on resources, and references.
        for c in &platform.spec.components {
            for (r, need) in c.need_refs() {
                if let (Some(res), Some(v)) = (&r.resource, declared.get(&r.component))
                    && !v.resources.contains(res)
                {
                    problems.push(
                        platform
                            .diagnostic(
                                need.start,
                                format!(
                                    "`{}` needs `{r}`, but `{}` publishes no resource `{res}` (it has: {})",
                                    c.name.value,
                                    r.component,
                                    if v.resources.is_empty() {
                                        "none".to_string()
                                    } else {
                                        v.resources.join(", ")
                                    }
                                ),
                            )
                            .with_hint_opt(resource_suggestion(&r.component, res, &v.resources)),
                    );
                }
            }
            let mut found = Vec::new();
            let settings = c.settings_node();
            let scan = refs::scan(&settings);
            found.extend(scan.refs);
            for (e, pos) in scan.errors {
                problems.push(platform.diagnostic(pos, e));
            }
            for h in &c.hosts {
                if let Some(t) = &h.target {
                    match refs::split(&t.value) {
                        Ok(pieces) => {
                            for p in pieces {
                                if let refs::Piece::Ref(r) = p {
                                    found.push((r, t.start));
                                }
                            }
                        }
                        Err(e) => problems.push(platform.diagnostic(t.start, e)),
                    }
                }
            }
            for (r, pos) in found {
                problems.extend(self.check_reference(c, &r, pos, &declared));
            }
        }
        if problems.is_empty() {
            Ok(declared)
        } else {
            Err(InvalidInput(problems))
        }
    }

    fn check_reference(
        &self,
        c: &gp_core::ComponentSpec,
        r: &refs::Reference,
        pos: gp_core::yaml::Pos,
        declared: &BTreeMap<String, Validated>,
    ) -> Option<Diagnostic> {
        let platform = self.platform;
        let needed = c.need_refs().any(|(n, _)| n.component == r.component);
        if !needed {
            let hint = if platform.component(&r.component).is_some() {
                format!("add `{}` to `needs` of `{}`", r.component, c.name.value)
            } else {
                let names: Vec<String> = c.need_refs().map(|(n, _)| n.component).collect();
                gp_core::spec::suggest(&r.component, names.iter()).unwrap_or_else(|| {
                    "a component can only reference outputs of what it needs".into()
                })
            };
            return Some(
                platform
                    .diagnostic(
                        pos,
                        format!(
                            "`{}` references `{r}`, but does not need `{}`",
                            c.name.value, r.component
                        ),
                    )
                    .with_hint(hint),
            );
        }
        let v = declared.get(&r.component)?;
        let (known, what) = match &r.resource {
            None => (v.outputs.as_ref(), format!("`{}`", r.component)),
            Some(res) => {
                if !v.resources.contains(res) {
                    return Some(
                        platform
                            .diagnostic(
                                pos,
                                format!("`{r}`: `{}` publishes no resource `{res}`", r.component),
                            )
                            .with_hint_opt(resource_suggestion(&r.component, res, &v.resources)),
                    );
                }
                (
                    v.resource_outputs.as_ref(),
                    format!("each resource of `{}`", r.component),
                )
            }
        };
        let known = known?;
        if known.contains(&r.key) {
            return None;
        }
        Some(
            platform
                .diagnostic(
                    pos,
                    format!(
                        "`{r}`: {what} publishes no output `{}` (outputs: {})",
                        r.key,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
                .with_hint_opt(gp_core::spec::suggest(&r.key, known.iter())),
        )
    }
}

/// A stable hash of what a component was applied with: its driver, its
/// resolved settings, hosts and secrets. A change means `update`.
pub fn settings_hash(component: &gp_core::ComponentSpec, resolved: &gp_core::yaml::Node) -> String {
    let doc = serde_json::json!({
        "driver": component.driver.value,
        "settings": resolved.to_json(),
        "hosts": component.hosts.iter().map(|h| (h.name.value.clone(), h.target.as_ref().map(|t| t.value.clone()))).collect::<Vec<_>>(),
        "secrets": serde_json::to_value(&component.secrets).unwrap_or_default(),
    });
    let text = doc.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// "did you mean `rds/backstage`?" for a resource name close to one the
/// component publishes.
fn resource_suggestion(component: &str, res: &str, resources: &[String]) -> Option<String> {
    gp_core::spec::closest(res, resources.iter())
        .map(|r| format!("did you mean `{component}/{r}`?"))
}

/// What a unit test needs to make an [`Engine`]: a platform of one `exec`
/// component (or the spec given), the exec driver, a SQLite registry in a
/// temporary directory.
#[cfg(test)]
pub(crate) struct TestEngine {
    pub platform: Platform,
    pub registry: gp_registry::Registry,
    pub drivers: gp_driver::DriverSet,
    pub dir: tempfile::TempDir,
    pub cancel: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
impl TestEngine {
    pub(crate) fn new() -> Self {
        Self::with_spec(
            "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: t\nprefix: gp\ndomain: example.test\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - name: web\n    plane: disposable\n    tier: 0\n    driver: exec\n    settings: { apply: 'true', destroy: 'true' }\n",
        )
    }

    pub(crate) fn with_spec(spec: &str) -> Self {
        let platform =
            Platform::from_source(std::path::Path::new("goldenpath.yaml"), spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let registry =
            gp_registry::Registry::open(&gp_registry::Location::Sqlite(dir.path().join("r.db")))
                .unwrap();
        TestEngine {
            platform,
            registry,
            drivers: gp_driver::DriverSet::new()
                .with(std::sync::Arc::new(gp_driver::exec::ExecDriver)),
            dir,
            cancel: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn engine(&self) -> Engine<'_> {
        Engine::new(
            &self.platform,
            &self.registry,
            &self.drivers,
            self.dir.path().into(),
            &QuietEvents,
            &self.cancel,
        )
    }
}

/// An event sink that drops every event (unit tests).
#[cfg(test)]
pub(crate) struct QuietEvents;

#[cfg(test)]
impl EventSink for QuietEvents {
    fn emit(&self, _: &Event) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Platform {
        Platform::from_source(std::path::Path::new("goldenpath.yaml"), &platform_source()).unwrap()
    }

    fn platform_source() -> String {
        String::from(
            "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: p\nprefix: p\ndomain: example.io\nowner: t\nenvironments:\n  dev: {}\ncomponents:\n  - { name: db, plane: foundational, tier: 2, driver: exec, settings: { apply: [\"true\"] } }\n  - { name: zone, plane: foundational, tier: 0, driver: exec, settings: { apply: [\"true\"] } }\n  - { name: web, plane: disposable, tier: 1, driver: exec, settings: { apply: [\"true\"] } }\n",
        )
    }

    #[test]
    fn the_foundational_plane_touches_only_its_named_foundational_targets() {
        let p = platform();
        let targets: std::collections::BTreeSet<String> = ["db".to_string()].into();
        let f = gp_core::Deployment::Foundational;
        assert!(may_touch(&p, f, &targets, "db"), "a target");
        assert!(
            !may_touch(&p, f, &targets, "zone"),
            "foundational, not named"
        );
        assert!(!may_touch(&p, f, &targets, "web"), "disposable");
        assert!(!may_touch(&p, f, &targets, "gone"), "not in the spec");
    }

    #[test]
    fn a_deployment_never_touches_a_foundational_component() {
        let p = platform();
        let targets: std::collections::BTreeSet<String> = ["db".to_string()].into();
        for d in [
            gp_core::Deployment::Persistent,
            gp_core::Deployment::Ephemeral("23-01-26-01".parse().unwrap()),
        ] {
            assert!(
                !may_touch(&p, d, &targets, "db"),
                "{d}: foundational, even named"
            );
            assert!(!may_touch(&p, d, &targets, "zone"), "{d}");
            assert!(may_touch(&p, d, &targets, "web"), "{d}: its own");
            assert!(
                may_touch(&p, d, &targets, "gone"),
                "{d}: a component no longer in the spec is the deployment's own"
            );
        }
    }

    #[test]
    fn a_guard_override_names_a_component_and_maybe_one_guard() {
        assert_eq!(
            GuardOverride::parse("db", "why"),
            Some(GuardOverride {
                component: "db".into(),
                guard: None,
                reason: "why".into(),
            })
        );
        assert_eq!(
            GuardOverride::parse("db:protect", "why"),
            Some(GuardOverride {
                component: "db".into(),
                guard: Some("protect".into()),
                reason: "why".into(),
            })
        );
        assert_eq!(GuardOverride::parse("", "why"), None);
        assert_eq!(GuardOverride::parse(":protect", "why"), None);
    }

    #[test]
    fn the_settings_hash_is_stable_and_changes_with_each_input() {
        let p = platform();
        let web = p.component("web").unwrap();
        let node = web.settings_node();
        let h = settings_hash(web, &node);
        assert_eq!(h.len(), 16);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h, settings_hash(web, &node), "stable");
        // Other settings, another driver's component: another hash.
        let db = p.component("db").unwrap();
        assert_eq!(
            settings_hash(db, &db.settings_node()),
            settings_hash(db, &db.settings_node())
        );
        let other = gp_core::yaml::parse("apply: [\"false\"]").unwrap().unwrap();
        assert_ne!(h, settings_hash(web, &other));
        let mut renamed = web.clone();
        renamed.driver.value = "terraform".into();
        assert_ne!(h, settings_hash(&renamed, &node));
        // A known value: the FNV-1a of the canonical document.
        let empty = gp_core::yaml::parse("{}").unwrap().unwrap();
        let mut bare = web.clone();
        bare.driver.value = String::new();
        bare.hosts.clear();
        let doc = serde_json::json!({
            "driver": "",
            "settings": {},
            "hosts": Vec::<(String, Option<String>)>::new(),
            "secrets": serde_json::to_value(&bare.secrets).unwrap(),
        })
        .to_string();
        let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
        for b in doc.bytes() {
            fnv = (fnv ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(settings_hash(&bare, &empty), format!("{fnv:016x}"));
    }

    #[test]
    fn a_close_resource_name_gets_a_did_you_mean() {
        let known = ["backstage".to_string(), "keycloak".to_string()];
        assert_eq!(
            resource_suggestion("rds", "backstag", &known).as_deref(),
            Some("did you mean `rds/backstage`?")
        );
        assert_eq!(resource_suggestion("rds", "zzzzzzzz", &known), None);
    }

    #[test]
    fn validation_handed_over_is_used_and_not_made_again() {
        let t = TestEngine::with_spec(&platform_source());
        let (p, drivers) = (&t.platform, &t.drivers);
        let mut e = t.engine();
        let made = validate(p, drivers).unwrap();
        assert!(made.contains_key("web"));
        // A validation that says something else wins: it is not redone.
        let handed: BTreeMap<String, Validated> = BTreeMap::new();
        e.set_validated(handed);
        assert!(e.validate().unwrap().is_empty());
    }
}
