//! One vocabulary for a component that does not run, shared by `plan`,
//! `deploy` and `status`:
//!
//! - **not-deployed**: it does not exist in that deployment (a foundational
//!   dependency nobody deployed, or a component never deployed);
//! - **pending**: it waits for something outside this run — a foundational
//!   dependency that is not deployed, or a component that is itself
//!   pending. Not a failure; `next` is the command that unblocks it;
//! - **blocked**: it cannot run because of this deployment — it needs a
//!   component that failed, is skipped here, or is itself blocked, or its
//!   DNS names are held by another owner.

use serde::Serialize;

use crate::Engine;
use crate::graph::GraphNode;
use crate::state::{ComponentState, DeploymentState};

/// Why something does not run, and the command that moves it on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wait {
    /// Why, naming what it waits for.
    pub reason: String,
    /// The command to run next, when one would help.
    pub next: Option<String>,
}

impl Wait {
    /// A reason without a command.
    pub fn because(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            next: None,
        }
    }

    /// This wait seen from a component that needs the waiting one: the
    /// same next command, the reason naming the dependency.
    pub fn inherited(&self, reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            next: self.next.clone(),
        }
    }
}

/// The state of a component in a deployment, as `status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RowState {
    /// Deployed (or, for a foundational dependency, in place).
    Ready,
    /// Waiting on something outside this deployment.
    Pending,
    /// Filtered out by tier or mode.
    Skipped,
    /// Cannot run because of something in this deployment.
    Blocked,
    /// Its last apply failed.
    Failed,
    /// Its last apply started and never finished.
    Interrupted,
    /// Never deployed here.
    NotDeployed,
    /// Destroyed by a teardown.
    TornDown,
}

impl RowState {
    /// The word, as JSON and tables show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Pending => "pending",
            Self::Skipped => "skipped",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::NotDeployed => "not-deployed",
            Self::TornDown => "torn-down",
        }
    }
}

impl std::fmt::Display for RowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Engine<'_> {
    /// Whether a foundational dependency is unavailable: `None` when it is
    /// deployed (with `resource`, when one is named). The reason is phrased
    /// from the component that needs it; `next` deploys it.
    pub(crate) fn foundational_gap(
        &self,
        env: &str,
        dep: &GraphNode,
        resource: Option<&str>,
        fstate: &DeploymentState,
    ) -> Option<Wait> {
        let spec = &self.platform.spec.components[dep.spec_index];
        let rec = fstate.components.get(&dep.name);
        let deployed = rec.is_some_and(|r| r.state == ComponentState::Applied);
        let has_resource = resource.is_none_or(|res| {
            fstate
                .outputs(&dep.name)
                .is_some_and(|o| o.resources.contains_key(res))
        });
        if deployed && has_resource {
            return None;
        }
        let what = match resource {
            Some(res) => format!("{}/{res}", dep.name),
            None => dep.name.clone(),
        };
        let noun = self
            .drivers
            .get(&spec.driver.value)
            .map(|d| d.noun(resource.is_some()))
            .unwrap_or("component");
        Some(Wait {
            reason: format!(
                "needs {what}, a foundational {noun} {} in {env}",
                gap_state(rec.map(|r| &r.state))
            ),
            next: Some(format!(
                "goldenpath deploy --env {env} --foundational {}",
                dep.name
            )),
        })
    }

    /// A foundational dependency's own row: `None` when it is deployed.
    pub(crate) fn dependency_gap(
        &self,
        env: &str,
        dep: &GraphNode,
        fstate: &DeploymentState,
    ) -> Option<Wait> {
        let rec = fstate.components.get(&dep.name);
        if rec.is_some_and(|r| r.state == ComponentState::Applied) {
            return None;
        }
        Some(Wait {
            reason: match rec.map(|r| &r.state) {
                Some(ComponentState::Failed(_)) => {
                    format!("foundational, its last deploy in {env} failed")
                }
                Some(ComponentState::Interrupted) => {
                    format!("foundational, its last deploy in {env} was interrupted")
                }
                _ => format!("foundational, not deployed in {env}"),
            },
            next: Some(format!(
                "goldenpath deploy --env {env} --foundational {}",
                dep.name
            )),
        })
    }
}

fn gap_state(state: Option<&ComponentState>) -> &'static str {
    match state {
        Some(ComponentState::Failed(_)) => "whose last deploy failed",
        Some(ComponentState::Interrupted) => "whose last deploy was interrupted",
        _ => "not deployed",
    }
}
