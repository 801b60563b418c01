//! `plan`: what a deploy would do, per component, from what the drivers
//! observe.

use std::collections::BTreeMap;

use gp_core::{Contract, Deployment, Plane, Tier};
use gp_driver::{ComponentCtx, ComponentOutputs, Intent, Observation, Presence};
use serde::Serialize;

use crate::graph::{Graph, GraphNode, Role};
use crate::state::{ComponentRecord, ComponentState, DeploymentState};
use crate::wait::{Settle, Settled, Upstream};
use crate::{Engine, EngineError, refs};

/// What would happen to a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PlanAction {
    /// It does not exist: create it.
    Create,
    /// It exists but this deployment did not create it: take it over
    /// (teardown will leave it).
    Adopt,
    /// It exists and differs (or a previous apply did not finish).
    Update,
    /// Nothing to do.
    Unchanged,
    /// Filtered out by tier or mode.
    Skip,
    /// It cannot run because of this deployment: it needs a component
    /// that is skipped or blocked, or another owner holds its DNS names.
    Blocked,
    /// It waits for a foundational dependency that is not deployed (or a
    /// component that does); `next` deploys it.
    Pending,
    /// A foundational dependency that is deployed.
    Ready,
    /// A foundational dependency that is not deployed.
    NotDeployed,
    /// A policy `deny` (or a guard) would refuse it: a deploy changes
    /// nothing of it; `reason` says which rule.
    Refused,
}

impl std::fmt::Display for PlanAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

/// One component's line of a plan.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanItem {
    /// Component.
    pub component: String,
    /// Plane.
    pub plane: Plane,
    /// Tier.
    pub tier: Tier,
    /// `target` or `dependency`.
    pub role: &'static str,
    /// What would happen.
    pub action: PlanAction,
    /// Why, for skip, blocked, pending and not-deployed.
    pub reason: Option<String>,
    /// The command that unblocks it, for pending and not-deployed.
    pub next: Option<String>,
    /// Drift and counts, for update.
    pub details: Vec<String>,
    /// How the live system differs from what this deployment applied
    /// (only for a component applied before; a spec change is not drift):
    /// what `goldenpath drift` reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// Whether this deployment applied it (its journal and state say so):
    /// what drift compares against.
    #[serde(skip)]
    #[schemars(skip)]
    pub applied: bool,
}

/// A plan.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Build id, for a build.
    pub build_id: Option<String>,
    /// One item per node, in graph order.
    pub items: Vec<PlanItem>,
}

/// What the engine decides from an observation and the journal.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Decision {
    Act(Intent, Vec<String>),
    Unchanged,
}

pub(crate) fn decide(
    obs: &Observation,
    record: Option<&ComponentRecord>,
    journalled: bool,
    hash: &str,
) -> Decision {
    match obs.presence {
        Presence::Absent => {
            let mut why = Vec::new();
            if record.is_some_and(|r| r.state == ComponentState::Applied) {
                why.push("it was applied before but no longer exists".into());
            }
            Decision::Act(Intent::Create, why)
        }
        Presence::Present | Presence::Partial => {
            let Some(rec) = record.filter(|r| r.state != ComponentState::TornDown) else {
                return if journalled {
                    Decision::Act(
                        Intent::Update,
                        vec!["a previous apply did not finish".into()],
                    )
                } else {
                    // What adopting it will change, as the driver says.
                    Decision::Act(
                        Intent::Adopt,
                        std::iter::once("it exists and was not created by this deployment".into())
                            .chain(obs.drift.iter().cloned())
                            .collect(),
                    )
                };
            };
            match &rec.state {
                ComponentState::Interrupted => Decision::Act(
                    Intent::Update,
                    vec!["the last apply was interrupted".into()],
                ),
                ComponentState::Failed(e) => {
                    Decision::Act(Intent::Update, vec![format!("the last apply failed: {e}")])
                }
                _ if obs.presence == Presence::Partial => {
                    Decision::Act(Intent::Update, vec!["only part of it exists".into()])
                }
                _ if !obs.drift.is_empty() => Decision::Act(Intent::Update, obs.drift.clone()),
                _ if rec.settings_hash.as_deref() != Some(hash) => Decision::Act(
                    Intent::Update,
                    vec!["its settings changed since the last apply".into()],
                ),
                _ => Decision::Unchanged,
            }
        }
    }
}

/// How a component this deployment applied differs from what it applied,
/// as its driver observed it.
pub(crate) fn live_drift(obs: &Observation) -> Vec<String> {
    match obs.presence {
        // What the driver adds (a reason the absence may only seem so).
        Presence::Absent if obs.drift.is_empty() => {
            vec!["it was applied but no longer exists".into()]
        }
        Presence::Absent => vec![format!(
            "it was applied but no longer exists ({})",
            obs.drift.join("; ")
        )],
        Presence::Partial if obs.drift.is_empty() => vec!["only part of it exists".into()],
        _ => obs.drift.clone(),
    }
}

/// How a component's DNS records differ from what it published.
pub(crate) fn record_drift(obs: &Observation) -> Vec<String> {
    if obs.drift.is_empty() {
        vec!["its DNS records are gone".into()]
    } else {
        obs.drift.iter().map(|d| format!("DNS: {d}")).collect()
    }
}

impl Engine<'_> {
    /// Plans a deployment.
    pub fn plan(
        &self,
        env: &str,
        deployment: Deployment,
        targets: &[String],
    ) -> Result<Plan, EngineError> {
        self.plan_as(env, deployment, targets, false)
    }

    /// [`Self::plan`]; `for_drift`: a drift check's, whose observations are
    /// drift checks ([`gp_driver::Recorder::checks_drift`]) and which asks
    /// no policy (what a deploy would be refused does not change what
    /// drifted).
    pub(crate) fn plan_as(
        &self,
        env: &str,
        deployment: Deployment,
        targets: &[String],
        for_drift: bool,
    ) -> Result<Plan, EngineError> {
        self.validate()?;
        let contract = Contract::new(self.platform, env, deployment)?;
        let graph = Graph::build(self.platform, env, deployment, targets)?;
        let key = deployment.key();
        // The zones the components' records go to are read while the
        // deployment's journal is.
        let (state, fstate, mut zone_reads) =
            DeploymentState::load_foundational_first(self.registry, env, deployment, |f| {
                self.read_zones_ahead(&graph, f)
            })?;
        // The deploy's policy gate, asked now: a `deny` shows in the plan
        // as the refusal the deploy would meet (nothing is recorded).
        let gate = if !for_drift {
            self.policy_gate(&contract, &[])?
        } else {
            None
        };
        let recorder = crate::recorder::RunRecorder {
            build_id: deployment.build_id(),
            foundational: Some(&fstate),
            // What this deployment created, as the deploy's recorder knows
            // it: a driver decides from it what it reconciles (a role it
            // created is brought back to what the spec declares).
            own: Some(&state),
            policy: gate.as_ref(),
            drift: for_drift,
            ..self.recorder(env, &key, gp_driver::RunMode::Plan, "plan")
        };
        let settle = Settle::new(self, &graph, &fstate);
        let mut items: Vec<PlanItem> = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let spec = graph.spec(self.platform, node);
            let mut item = PlanItem {
                component: node.name.clone(),
                plane: spec.plane.value,
                tier: spec.tier.value,
                role: node.role.as_str(),
                action: PlanAction::Unchanged,
                reason: None,
                next: None,
                details: Vec::new(),
                drift: Vec::new(),
                applied: false,
            };
            // What does not run, and why: the one decision status and the
            // scheduler make too.
            let upstream = |d: usize| match items[d].action {
                PlanAction::Pending => Upstream::Pending(items[d].next.clone()),
                PlanAction::Blocked => Upstream::Blocked,
                PlanAction::Skip => Upstream::Skipped,
                PlanAction::Create | PlanAction::Update | PlanAction::Adopt => Upstream::Changes,
                _ => Upstream::Clear,
            };
            let waits_on = match settle.settle(i, &upstream) {
                Settled::Runs { after } => after,
                settled => {
                    let (action, reason, next) = match settled {
                        Settled::Ready => (PlanAction::Ready, None, None),
                        Settled::NotDeployed(w) => {
                            (PlanAction::NotDeployed, Some(w.reason), w.next)
                        }
                        Settled::Skipped(why) => (PlanAction::Skip, Some(why), None),
                        Settled::Blocked(why) => (PlanAction::Blocked, Some(why), None),
                        Settled::Pending(w) => (PlanAction::Pending, Some(w.reason), w.next),
                        Settled::NotStarted | Settled::Runs { .. } => {
                            (PlanAction::Blocked, None, None)
                        }
                    };
                    item.action = action;
                    item.reason = reason;
                    item.next = next;
                    items.push(item);
                    continue;
                }
            };
            let inputs = self.inputs_from_state(&graph, node, &state, &fstate);
            let settings = spec.settings_node();
            let resolved = refs::resolve(&settings, &inputs);
            let record = state.components.get(&node.name);
            let applied = record.is_some_and(|r| r.state == ComponentState::Applied);
            item.applied = applied;
            let journalled = state.resources.iter().any(|r| r.component == node.name);
            let Ok(resolved) = resolved else {
                // Its inputs come from components this run creates first.
                item.action = if record.is_some_and(|r| r.state == ComponentState::Applied) {
                    PlanAction::Update
                } else {
                    PlanAction::Create
                };
                item.details.push(format!("after {}", waits_on.join(", ")));
                items.push(item);
                continue;
            };
            let Some(driver) = self.drivers.get(&spec.driver.value) else {
                continue;
            };
            let hash = crate::settings_hash(spec, &resolved);
            let scoped = recorder.scoped(&node.name, &spec.driver.value, self.cancel);
            let ctx = ComponentCtx {
                platform: self.platform,
                contract: &contract,
                component: spec,
                settings: &resolved,
                inputs: &inputs,
                last: state.outputs(&node.name),
                intent: Intent::Update,
                state_dir: &self.state_dir,
                recorder: &scoped,
            };
            match driver.observe(&ctx) {
                // What the deploy's policy gate would say, said now.
                Err(e) if e.kind == gp_driver::ErrorKind::Refused => {
                    item.action = PlanAction::Refused;
                    item.reason = Some(e.message.clone());
                    item.next = e.hint.clone();
                }
                Err(e) => {
                    item.action = PlanAction::Blocked;
                    item.reason = Some(format!("cannot observe it: {e}"));
                }
                Ok(obs) => {
                    if applied {
                        item.drift = live_drift(&obs);
                    }
                    if let Some(c) = obs.counts {
                        item.details
                            .push(format!("+{} ~{} -{}", c.added, c.changed, c.destroyed));
                    }
                    match decide(&obs, record, journalled, &hash) {
                        Decision::Unchanged => item.action = PlanAction::Unchanged,
                        Decision::Act(intent, why) => {
                            item.action = match intent {
                                Intent::Create => PlanAction::Create,
                                Intent::Adopt => PlanAction::Adopt,
                                Intent::Update => PlanAction::Update,
                            };
                            item.details.extend(why);
                        }
                    }
                }
            }
            // Its hosts' DNS records: a record someone else owns blocks it.
            let mut zone_inputs = inputs.clone();
            for (_, d) in &node.needs {
                let dep = &graph.nodes[*d];
                if let Some(o) = fstate.outputs(&dep.name) {
                    zone_inputs
                        .entry(dep.name.clone())
                        .or_insert_with(|| o.clone());
                }
            }
            if let Ok(Some(records)) =
                self.host_records_with(&graph, node, spec, &contract, &zone_inputs, &state, true)
                && zone_inputs.contains_key(&records.zone)
            {
                let read = zone_reads.remove(&records.zone);
                match self.observe_records(spec, &contract, &records, &zone_inputs, &recorder, read)
                {
                    Ok(obs) => {
                        let conflicts: Vec<&String> = obs
                            .drift
                            .iter()
                            .filter(|d| d.starts_with("conflict: "))
                            .collect();
                        if !conflicts.is_empty() {
                            item.action = PlanAction::Blocked;
                            item.reason = Some(format!(
                                "DNS {} — deploy would refuse it",
                                conflicts
                                    .iter()
                                    .map(|c| c.as_str())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ));
                        } else if obs.presence != gp_driver::Presence::Present
                            || !obs.drift.is_empty()
                        {
                            if applied {
                                item.drift.extend(record_drift(&obs));
                            }
                            item.details.push("publishes its DNS records".into());
                            if item.action == PlanAction::Unchanged {
                                item.action = PlanAction::Update;
                            }
                        }
                    }
                    Err(e) => item.details.push(format!("cannot read its DNS zone: {e}")),
                }
            }
            items.push(item);
        }
        Ok(Plan {
            schema_version: 1,
            env: env.into(),
            deployment: key,
            build_id: deployment.build_id().map(|b| b.to_string()),
            items,
        })
    }

    /// Outputs of a node's needs from what the registry recorded.
    pub(crate) fn inputs_from_state(
        &self,
        graph: &Graph,
        node: &GraphNode,
        state: &DeploymentState,
        fstate: &DeploymentState,
    ) -> BTreeMap<String, ComponentOutputs> {
        let mut inputs = BTreeMap::new();
        for (_, d) in &node.needs {
            let dep = &graph.nodes[*d];
            let outputs = match dep.role {
                Role::Dependency => fstate.outputs(&dep.name),
                Role::Target => state.outputs(&dep.name),
            };
            if let Some(o) = outputs {
                inputs.insert(dep.name.clone(), o.clone());
            }
        }
        inputs
    }
}
