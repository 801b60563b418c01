//! A deployment's state, derived by replaying its journal.
//!
//! The engine writes two levels of entries. Component entries (action
//! `apply` or `teardown`, resource `component NAME`) bracket a component's
//! turn; their `after` carries the outputs and the hash of the settings
//! applied. Resource entries (`create`, `adopt`, `update`, `destroy`) are
//! written by drivers through the recorder, before and after each action;
//! the `before` carries the [`ResourceRef`].

use std::collections::{BTreeMap, HashMap};

use gp_driver::{Action, ComponentOutputs, ResourceRef};
use gp_registry::{JournalRow, Registry, RegistryError, Stage};

/// The component-level action words.
pub const APPLY: &str = "apply";
/// Written when a component's resources have been torn down.
pub const TEARDOWN: &str = "teardown";

/// What happened to a component last.
#[derive(Clone, Debug, PartialEq)]
pub enum ComponentState {
    /// Its last apply succeeded.
    Applied,
    /// Its last apply failed.
    Failed(String),
    /// Its last apply started and never finished (a crash).
    Interrupted,
    /// It was torn down.
    TornDown,
}

/// The last record of a component.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentRecord {
    /// Its state.
    pub state: ComponentState,
    /// Outputs of the last successful apply.
    pub outputs: Option<ComponentOutputs>,
    /// Settings hash of the last successful apply.
    pub settings_hash: Option<String>,
    /// When the last entry was written.
    pub at_us: i64,
}

/// A resource the deployment created (or adopted).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceRecord {
    /// The component.
    pub component: String,
    /// Its driver.
    pub driver: String,
    /// The resource.
    pub resource: ResourceRef,
    /// Create or adopt.
    pub action: Action,
    /// Whether the create finished (false: interrupted or failed; it may
    /// exist partly).
    pub finished: bool,
    /// Whether it has been destroyed since.
    pub destroyed: bool,
    /// Journal sequence of the create.
    pub seq: i64,
}

impl ResourceRecord {
    /// Created here, or adopted and claimed (counted only with `claims`).
    pub fn owned(&self, claims: bool) -> bool {
        self.action == Action::Create
            || (claims && self.action == Action::Adopt && self.resource.is_claimed())
    }
}

/// A deployment's journal, replayed.
#[derive(Clone, Debug, Default)]
pub struct DeploymentState {
    /// Per component.
    pub components: BTreeMap<String, ComponentRecord>,
    /// Every resource created or adopted, in journal order.
    pub resources: Vec<ResourceRecord>,
}

impl DeploymentState {
    /// Loads and replays the journal of (`env`, `deployment`).
    pub fn load(
        registry: &Registry,
        env: &str,
        deployment: &str,
    ) -> Result<DeploymentState, RegistryError> {
        Ok(Self::replay(&registry.journal(env, deployment)?))
    }

    /// The state of `deployment` and of its environment's foundational
    /// plane (the same state when `deployment` is the foundational plane).
    pub fn load_with_foundational(
        registry: &Registry,
        env: &str,
        deployment: gp_core::Deployment,
    ) -> Result<(DeploymentState, DeploymentState), RegistryError> {
        let own = Self::load(registry, env, &deployment.key())?;
        let foundational = if deployment == gp_core::Deployment::Foundational {
            own.clone()
        } else {
            Self::load(registry, env, &gp_core::Deployment::Foundational.key())?
        };
        Ok((own, foundational))
    }

    /// Replays journal rows.
    pub fn replay(rows: &[JournalRow]) -> DeploymentState {
        let mut state = DeploymentState::default();
        // action id -> index into `resources` (for create/adopt), or the
        // destroy's target key.
        let mut resource_by_action: HashMap<&str, usize> = HashMap::new();
        let mut destroy_target: HashMap<&str, (String, String)> = HashMap::new();
        let key = |r: &ResourceRef| (r.kind.clone(), r.id.clone());
        for row in rows {
            let e = &row.entry;
            match e.action.as_str() {
                APPLY | TEARDOWN => {
                    let rec =
                        state
                            .components
                            .entry(e.component.clone())
                            .or_insert(ComponentRecord {
                                state: ComponentState::Interrupted,
                                outputs: None,
                                settings_hash: None,
                                at_us: row.at_us,
                            });
                    rec.at_us = row.at_us;
                    match (e.action.as_str(), e.stage) {
                        (APPLY, Stage::Before) => rec.state = ComponentState::Interrupted,
                        (APPLY, Stage::After) => {
                            rec.state = ComponentState::Applied;
                            if let Some(o) = &e.outputs {
                                rec.outputs = o
                                    .get("outputs")
                                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                                rec.settings_hash = o
                                    .get("settingsHash")
                                    .and_then(|v| v.as_str())
                                    .map(str::to_string);
                            }
                        }
                        (APPLY, Stage::Failed) => {
                            rec.state =
                                ComponentState::Failed(e.detail.clone().unwrap_or_default());
                        }
                        (TEARDOWN, Stage::After) => {
                            rec.state = ComponentState::TornDown;
                            rec.outputs = None;
                            rec.settings_hash = None;
                        }
                        _ => {}
                    }
                }
                action => {
                    let Some(action) = Action::parse(action) else {
                        continue;
                    };
                    match e.stage {
                        Stage::Before => {
                            let Some(resource) = e
                                .outputs
                                .as_ref()
                                .and_then(|o| o.get("resource"))
                                .and_then(|r| {
                                    serde_json::from_value::<ResourceRef>(r.clone()).ok()
                                })
                            else {
                                continue;
                            };
                            match action {
                                Action::Create | Action::Adopt => {
                                    // A create of something already alive
                                    // (re-created after drift) is the same
                                    // resource.
                                    let existing = state.resources.iter().position(|r| {
                                        !r.destroyed
                                            && r.component == e.component
                                            && key(&r.resource) == key(&resource)
                                    });
                                    let idx = match existing {
                                        Some(i) => {
                                            // Once created, it stays ours to
                                            // destroy even if later adopted.
                                            if action == Action::Create {
                                                state.resources[i].action = Action::Create;
                                            }
                                            state.resources[i].resource = resource;
                                            i
                                        }
                                        None => {
                                            state.resources.push(ResourceRecord {
                                                component: e.component.clone(),
                                                driver: e.driver.clone(),
                                                resource,
                                                action,
                                                finished: false,
                                                destroyed: false,
                                                seq: row.seq,
                                            });
                                            state.resources.len() - 1
                                        }
                                    };
                                    resource_by_action.insert(&e.action_id, idx);
                                }
                                Action::Destroy => {
                                    destroy_target.insert(&e.action_id, key(&resource));
                                }
                                Action::Update => {}
                            }
                        }
                        Stage::After => {
                            if let Some(&i) = resource_by_action.get(e.action_id.as_str()) {
                                state.resources[i].finished = true;
                            }
                            if let Some(target) = destroy_target.get(e.action_id.as_str()) {
                                for r in state.resources.iter_mut() {
                                    if r.component == e.component && key(&r.resource) == *target {
                                        r.destroyed = true;
                                    }
                                }
                            }
                        }
                        Stage::Failed => {}
                    }
                }
            }
        }
        state
    }

    /// Resources created by this deployment and not destroyed, newest first:
    /// the order teardown removes them in. With `claims` (a build's
    /// teardown), adopted resources the driver claimed as the build's own
    /// are among them.
    pub fn to_destroy(&self, claims: bool) -> Vec<&ResourceRecord> {
        let mut v: Vec<&ResourceRecord> = self
            .resources
            .iter()
            .filter(|r| r.owned(claims) && !r.destroyed)
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.seq));
        v
    }

    /// Every resource this deployment ever created (or, with `claims`,
    /// claimed), for the orphan check.
    pub fn ever_created(&self, claims: bool) -> Vec<&ResourceRecord> {
        self.resources.iter().filter(|r| r.owned(claims)).collect()
    }

    /// The outputs of a component's last successful apply.
    pub fn outputs(&self, component: &str) -> Option<&ComponentOutputs> {
        self.components
            .get(component)
            .filter(|c| c.state != ComponentState::TornDown)
            .and_then(|c| c.outputs.as_ref())
    }
}
