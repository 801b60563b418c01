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
//!
//! [`Settle`] is the one place that decides it: plan, status, the
//! scheduler and the check that a deploy can run at all each give it what
//! they know of a component's dependencies in this run ([`Upstream`]) and
//! read back the same [`Settled`]. Every wait on the foundational plane
//! names the one command that deploys everything the deployment misses
//! there, in dependency order.

use serde::Serialize;

use crate::Engine;
use crate::graph::{Disposition, Graph, GraphNode, Role};
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
    /// Deployed (or, for a foundational dependency, in place), as its
    /// driver observes.
    Ready,
    /// Delivered to the system that deploys it (a GitOps commit Argo CD
    /// syncs); nothing of it is read back, so not known to be ready.
    Delivered,
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
            Self::Delivered => "delivered",
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

/// What one of a component's dependencies in this run says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// Nothing stops what needs it.
    Clear,
    /// It changes in this run first (plan: what this one comes after).
    Changes,
    /// It waits on something outside this run; the command that moves it.
    Pending(Option<String>),
    /// Its apply failed (or was refused).
    Failed,
    /// It cannot run here.
    Blocked,
    /// It is filtered out here.
    Skipped,
    /// Its last apply started and never finished.
    Interrupted,
    /// The run stopped before it (Ctrl-C).
    NotStarted,
}

/// A component, settled before any work on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// A foundational dependency in place.
    Ready,
    /// A foundational dependency that is not: why, and the command.
    NotDeployed(Wait),
    /// Filtered out by tier or mode.
    Skipped(String),
    /// It cannot run because of this deployment.
    Blocked(String),
    /// It waits on something outside this run.
    Pending(Wait),
    /// The run stopped before it.
    NotStarted,
    /// It runs, after the components of this run named.
    Runs {
        /// Dependencies of this run that change first.
        after: Vec<String>,
    },
}

/// The one decision of what does not run in a deployment (see the module
/// documentation).
pub(crate) struct Settle<'e> {
    engine: &'e Engine<'e>,
    graph: &'e Graph,
    fstate: &'e DeploymentState,
    /// `goldenpath deploy --env E --foundational A B C`: every foundational
    /// component this deployment needs that is not in place.
    deploy_missing: Option<String>,
}

impl<'e> Settle<'e> {
    /// Settles `graph` against the foundational plane as `fstate` records it.
    pub(crate) fn new(
        engine: &'e Engine<'e>,
        graph: &'e Graph,
        fstate: &'e DeploymentState,
    ) -> Self {
        let env = &graph.env;
        let mut missing = vec![false; graph.nodes.len()];
        for (i, node) in graph.nodes.iter().enumerate() {
            if node.role == Role::Dependency {
                missing[i] |= engine.dependency_gap(env, node, fstate).is_some();
                continue;
            }
            for (r, d) in &node.needs {
                let dep = &graph.nodes[*d];
                if dep.role == Role::Dependency
                    && engine
                        .foundational_gap(env, dep, r.resource.as_deref(), fstate)
                        .is_some()
                {
                    missing[*d] = true;
                }
            }
        }
        // The graph's order is the dependency order.
        let names: Vec<&str> = graph
            .nodes
            .iter()
            .zip(&missing)
            .filter(|(_, m)| **m)
            .map(|(n, _)| n.name.as_str())
            .collect();
        let deploy_missing = (!names.is_empty()).then(|| {
            format!(
                "goldenpath deploy --env {env} --foundational {}",
                names.join(" ")
            )
        });
        Settle {
            engine,
            graph,
            fstate,
            deploy_missing,
        }
    }

    fn with_next(&self, mut w: Wait) -> Wait {
        if self.deploy_missing.is_some() {
            w.next.clone_from(&self.deploy_missing);
        }
        w
    }

    /// Why what node `i` needs of the foundational plane is not there
    /// (its first such need), if it is not.
    pub(crate) fn foundational_wait(&self, i: usize) -> Option<Wait> {
        let node = &self.graph.nodes[i];
        node.needs.iter().find_map(|(r, d)| {
            let dep = &self.graph.nodes[*d];
            (dep.role == Role::Dependency)
                .then(|| {
                    self.engine.foundational_gap(
                        &self.graph.env,
                        dep,
                        r.resource.as_deref(),
                        self.fstate,
                    )
                })
                .flatten()
                .map(|w| self.with_next(w))
        })
    }

    /// Settles node `i`, given what its dependencies in this run say.
    /// Root causes first: a foundational need that is not there, then a
    /// dependency of this run that stops it.
    pub(crate) fn settle(&self, i: usize, upstream: &dyn Fn(usize) -> Upstream) -> Settled {
        let node = &self.graph.nodes[i];
        if node.role == Role::Dependency {
            return match self
                .engine
                .dependency_gap(&self.graph.env, node, self.fstate)
            {
                None => Settled::Ready,
                Some(w) => Settled::NotDeployed(self.with_next(w)),
            };
        }
        match &node.disposition {
            Disposition::Skip(why) => return Settled::Skipped(why.clone()),
            Disposition::Blocked(why) => return Settled::Blocked(why.clone()),
            Disposition::Run => {}
        }
        if let Some(w) = self.foundational_wait(i) {
            return Settled::Pending(w);
        }
        let mut after = Vec::new();
        for (r, d) in &node.needs {
            if self.graph.nodes[*d].role == Role::Dependency {
                continue;
            }
            let blocked = |word: &str| Settled::Blocked(format!("needs {r}, which {word}"));
            match upstream(*d) {
                Upstream::Clear => {}
                Upstream::Changes => after.push(self.graph.nodes[*d].name.clone()),
                Upstream::Pending(next) => {
                    return Settled::Pending(Wait {
                        reason: format!("needs {r}, which is pending"),
                        next,
                    });
                }
                Upstream::Failed => return blocked("failed"),
                Upstream::Blocked => return blocked("is blocked"),
                Upstream::Skipped => return blocked("is skipped here"),
                Upstream::Interrupted => return blocked("is interrupted"),
                Upstream::NotStarted => return Settled::NotStarted,
            }
        }
        Settled::Runs { after }
    }
}
