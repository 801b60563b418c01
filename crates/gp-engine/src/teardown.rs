//! `teardown`: replay a deployment's journal in reverse and destroy exactly
//! what it created — never what it adopted, never a foundational component
//! unless the foundational plane itself is the target (with `--confirm`,
//! and `--break-glass NAME` for a protected one). Then the orphan check asks
//! the drivers whether anything the journal says was created still exists.

use std::collections::BTreeSet;
use std::time::Instant;

use gp_core::{BuildId, Contract, Deployment};
use gp_registry::{Override, new_id, now_us};
use serde::Serialize;

use crate::{Engine, EngineError};

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
}

mod run;
