//! What a driver is handed: the contexts of validation, a component and its artifacts.

use super::*;

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
