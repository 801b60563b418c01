//! `status`: what runs, what waits, and why — derived from the registry and
//! the graph, without touching the systems (fast enough to run anywhere).

use gp_core::{Contract, Deployment, Plane, Tier};
use gp_registry::BuildSummary;
use serde::Serialize;

use crate::graph::{Disposition, Graph, Role};
use crate::state::{ComponentState, DeploymentState};
use crate::wait::{Settle, Settled, Upstream};
use crate::{Engine, EngineError, RowState};

/// One component's status.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Component.
    pub component: String,
    /// Plane.
    pub plane: Plane,
    /// Tier.
    pub tier: Tier,
    /// `target` or `dependency`.
    pub role: &'static str,
    /// Its state.
    pub state: RowState,
    /// For anything not ready: why, phrased so that the next step is clear.
    pub reason: Option<String>,
    /// The command to run next, when there is one.
    pub next: Option<String>,
    /// Published outputs (component values and `resource.key` entries).
    pub outputs: serde_json::Map<String, serde_json::Value>,
    /// When its state last changed (µs).
    pub updated_us: Option<i64>,
    /// What the latest `goldenpath drift` found changed outside goldenpath,
    /// if it found anything and nothing applied the component since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftFound>,
}

/// Drift a check found in a component.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftFound {
    /// When the check ran (µs).
    pub found_us: i64,
    /// What differed.
    pub differences: Vec<String>,
}

/// What the latest drift check of a deployment found, per component.
pub(crate) fn latest_drift(
    events: &[gp_registry::DeploymentEvent],
) -> std::collections::BTreeMap<String, DriftFound> {
    let mut out = std::collections::BTreeMap::new();
    let Some(check) = events
        .iter()
        .rev()
        .find(|e| e.event == gp_registry::EventKind::DriftChecked.as_str())
    else {
        return out;
    };
    let components = check
        .detail
        .as_ref()
        .and_then(|d| d.get("components"))
        .and_then(|c| c.as_array());
    // What a deploy let through to put it back has put back since.
    let remediated = |name: &str| {
        events.iter().any(|e| {
            e.event == gp_registry::EventKind::DriftRemediated.as_str()
                && e.at_us >= check.at_us
                && e.detail
                    .as_ref()
                    .and_then(|d| d.get("components"))
                    .and_then(|c| c.as_array())
                    .is_some_and(|c| c.iter().any(|v| v.as_str() == Some(name)))
        })
    };
    for c in components.into_iter().flatten() {
        if c.get("status").and_then(|s| s.as_str()) != Some("drifted") {
            continue;
        }
        let (Some(name), Some(diffs)) = (
            c.get("component").and_then(|n| n.as_str()),
            c.get("differences").and_then(|d| d.as_array()),
        ) else {
            continue;
        };
        if remediated(name) {
            continue;
        }
        out.insert(
            name.to_string(),
            DriftFound {
                found_us: check.at_us,
                differences: diffs
                    .iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect(),
            },
        );
    }
    out
}

/// A deployment's status.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Build id.
    pub build_id: Option<String>,
    /// Derived from its events: `not-deployed`, `deploying`, `live`,
    /// `failed`, `interrupted`, `tearing-down`, `torn-down`.
    pub status: String,
    /// How many of its components are pending.
    pub pending: usize,
    /// A build's expiry (µs since the epoch), if it has a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_us: Option<i64>,
    /// Why a build is kept past its expiry, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// Per component, in graph order.
    pub components: Vec<ComponentStatus>,
}

/// An environment at a glance.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// Version of this JSON shape.
    pub schema_version: u32,
    /// Environment.
    pub env: String,
    /// The foundational plane.
    pub foundational: DeploymentStatus,
    /// The persistent deployment.
    pub persistent: DeploymentStatus,
    /// Builds that are not torn down; one whose rows do not check out
    /// against the registry's chain has the status `tampered`.
    pub builds: Vec<BuildSummary>,
    /// What does not check out (the CLI exits 3 when there is any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tampered: Vec<gp_registry::Tampered>,
}

fn deploy_command(env: &str, deployment: Deployment) -> String {
    format!("goldenpath deploy --env {env}{}", deployment.flags())
}

impl Engine<'_> {
    /// The status of one deployment.
    pub fn status(
        &self,
        env: &str,
        deployment: Deployment,
    ) -> Result<DeploymentStatus, EngineError> {
        let contract = Contract::new(self.platform, env, deployment)?;
        let graph = Graph::build(self.platform, env, deployment, &[])?;
        let key = deployment.key();
        let (state, fstate) =
            DeploymentState::load_with_foundational(self.registry, env, deployment)?;
        let deploy = deploy_command(env, deployment);
        let settle = Settle::new(self, &graph, &fstate);
        // The latest drift checks of this deployment and of the
        // foundational plane its dependencies belong to.
        let drift_own = latest_drift(&self.registry.deployment_events(env, &key)?);
        let drift_foundational = if deployment == Deployment::Foundational {
            drift_own.clone()
        } else {
            latest_drift(
                &self
                    .registry
                    .deployment_events(env, &Deployment::Foundational.key())?,
            )
        };
        let mut rows: Vec<ComponentStatus> = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let spec = graph.spec(self.platform, node);
            let mut row = ComponentStatus {
                component: node.name.clone(),
                plane: spec.plane.value,
                tier: spec.tier.value,
                role: node.role.as_str(),
                state: RowState::NotDeployed,
                reason: None,
                next: None,
                outputs: serde_json::Map::new(),
                updated_us: None,
                drift: None,
            };
            let (own, drift) = if node.role == Role::Dependency {
                (&fstate, &drift_foundational)
            } else {
                (&state, &drift_own)
            };
            let record = own.components.get(&node.name);
            row.updated_us = record.map(|r| r.at_us);
            // Found after its last apply: a deploy since would have put it
            // back.
            row.drift = drift
                .get(&node.name)
                .filter(|d| record.is_some_and(|r| r.at_us < d.found_us))
                .cloned();
            if let Some(o) = own.outputs(&node.name) {
                for (k, v) in &o.values {
                    row.outputs.insert(k.clone(), v.clone());
                }
                for (res, vals) in &o.resources {
                    for (k, v) in vals {
                        row.outputs.insert(format!("{res}.{k}"), v.clone());
                    }
                }
            }
            // What does not run, and why: the one decision plan and the
            // scheduler make too.
            let upstream = |d: usize| match rows.get(d).map(|r| r.state) {
                Some(RowState::Pending) => Upstream::Pending(rows[d].next.clone()),
                Some(RowState::Failed) => Upstream::Failed,
                Some(RowState::Blocked) => Upstream::Blocked,
                Some(RowState::Interrupted) => Upstream::Interrupted,
                _ => Upstream::Clear,
            };
            let settled = settle.settle(i, &upstream);
            match settled {
                Settled::Ready => row.state = RowState::Ready,
                Settled::NotDeployed(w) => {
                    row.state = RowState::NotDeployed;
                    row.reason = Some(w.reason);
                    row.next = w.next;
                }
                Settled::Skipped(why) => {
                    row.state = RowState::Skipped;
                    let mut reason = why;
                    if let Some(mode) = deployment.mode()
                        && !spec.runs_in(mode)
                        && let Some(h) = spec.hosts.first()
                        && let Ok(host) = contract.persistent_hostname(&h.name.value)
                    {
                        reason.push_str(&format!(" at {host}"));
                    }
                    row.reason = Some(reason);
                }
                Settled::Blocked(why) if node.disposition != Disposition::Run => {
                    row.state = RowState::Blocked;
                    row.reason = Some(why);
                }
                settled => match record.map(|r| &r.state) {
                    Some(ComponentState::Applied) => {
                        row.state = if self
                            .drivers
                            .get(&spec.driver.value)
                            .is_none_or(|d| d.observes_readiness())
                        {
                            RowState::Ready
                        } else {
                            RowState::Delivered
                        };
                        // Deployed, but what it needs of the foundational
                        // plane is gone since: never ready.
                        if let Some(w) = settle.foundational_wait(i) {
                            row.state = RowState::Pending;
                            row.reason = Some(format!("deployed, but {}", w.reason));
                            row.next = w.next;
                        }
                    }
                    Some(ComponentState::Failed(e)) => {
                        row.state = RowState::Failed;
                        row.reason = Some(e.clone());
                        row.next = Some(format!("{deploy} --resume"));
                    }
                    Some(ComponentState::Interrupted) => {
                        row.state = RowState::Interrupted;
                        row.reason = Some("its last apply started and never finished".into());
                        row.next = Some(format!("{deploy} --resume"));
                    }
                    // Not deployed (or torn down): what it waits for.
                    other => {
                        row.state = if matches!(other, Some(ComponentState::TornDown)) {
                            RowState::TornDown
                        } else {
                            RowState::NotDeployed
                        };
                        match settled {
                            Settled::Pending(w) => {
                                row.state = RowState::Pending;
                                row.reason = Some(w.reason);
                                row.next = w.next;
                            }
                            Settled::Blocked(why) => {
                                row.state = RowState::Blocked;
                                row.reason = Some(why);
                            }
                            _ if row.state == RowState::NotDeployed => {
                                row.next = Some(deploy.clone());
                            }
                            _ => {}
                        }
                    }
                },
            }
            rows.push(row);
        }
        let status = self.deployment_status(env, &key)?;
        let pending = rows
            .iter()
            .filter(|r| r.role == "target" && r.state == RowState::Pending)
            .count();
        let expiry = match deployment.build_id() {
            Some(b) => self.registry.expiry(env, &b.to_string())?,
            None => Default::default(),
        };
        Ok(DeploymentStatus {
            schema_version: 1,
            env: env.into(),
            deployment: key,
            build_id: deployment.build_id().map(|b| b.to_string()),
            status,
            pending,
            expires_us: expiry.expires_us,
            kept: expiry.kept,
            components: rows,
        })
    }

    /// The environment: foundational plane, persistent deployment, and every
    /// build that is not torn down.
    pub fn overview(&self, env: &str) -> Result<Overview, EngineError> {
        let (builds, tampered) = self.builds_checked(env)?;
        Ok(Overview {
            schema_version: 1,
            env: env.into(),
            foundational: self.status(env, Deployment::Foundational)?,
            persistent: self.status(env, Deployment::Persistent)?,
            builds: builds
                .into_iter()
                .filter(|b| b.status != "torn-down" && !b.imported)
                .collect(),
            tampered,
        })
    }

    pub(crate) fn deployment_status(&self, env: &str, key: &str) -> Result<String, EngineError> {
        let events = self.registry.deployment_events(env, key)?;
        let mut status = gp_registry::status_from_event(
            events
                .iter()
                .rev()
                .map(|e| e.event.as_str())
                .find(|e| gp_registry::is_lifecycle_event(e)),
        )
        .to_string();
        if status == "reserved" {
            status = "not-deployed".into();
        }
        // Read whatever the status: a lease that does not check out is
        // reported, never passed over.
        let lease = self.registry.lease(env, key)?;
        if status == "deploying" || status == "tearing-down" {
            // A lease whose holder died on this machine (SIGKILL) is as
            // good as gone: the next deploy takes it over.
            let held = lease.is_some_and(|l| crate::lease::is_live(&l));
            if !held {
                status = "interrupted".into();
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod drift_tests {
    use gp_registry::DeploymentEvent;
    use serde_json::json;

    fn ev(event: &str, at_us: i64, detail: serde_json::Value) -> DeploymentEvent {
        DeploymentEvent {
            id: format!("e{at_us}"),
            env: "dev".into(),
            deployment: "foundational".into(),
            run_id: None,
            event: event.into(),
            actor: "a".into(),
            commit_sha: None,
            run_url: None,
            detail: Some(detail),
            at_us,
        }
    }

    #[test]
    fn only_the_latest_checks_drifted_components_count() {
        let checked =
            |at, comps: serde_json::Value| ev("drift_checked", at, json!({"components": comps}));
        let events = vec![
            checked(
                1,
                json!([{"component": "dns-zone", "status": "drifted", "differences": ["old"]}]),
            ),
            ev("deploy_succeeded", 2, json!({})),
            checked(
                3,
                json!([
                    {"component": "rds", "status": "drifted", "differences": ["role x: CONNECTION LIMIT -1"]},
                    {"component": "cluster", "status": "failed", "differences": []},
                    {"component": 7, "status": "drifted", "differences": []},
                    {"status": "drifted"}
                ]),
            ),
            ev("deploy_started", 4, json!({})),
        ];
        let found = super::latest_drift(&events);
        assert_eq!(found.keys().collect::<Vec<_>>(), ["rds"]);
        assert_eq!(found["rds"].found_us, 3);
        assert_eq!(found["rds"].differences, ["role x: CONNECTION LIMIT -1"]);
        assert!(super::latest_drift(&events[..2]).contains_key("dns-zone"));
        assert!(super::latest_drift(&events[1..2]).is_empty());
        // Put back by a deploy let through for it since the check.
        let mut put_back = events.clone();
        put_back.push(ev("drift_remediated", 5, json!({"components": ["rds"]})));
        assert!(super::latest_drift(&put_back).is_empty());
        // A remediation before the check does not clear it.
        let mut earlier = events.clone();
        earlier.insert(1, ev("drift_remediated", 2, json!({"components": ["rds"]})));
        assert!(super::latest_drift(&earlier).contains_key("rds"));
        // A check without a detail finds nothing.
        let mut bare = checked(5, json!([]));
        bare.detail = None;
        assert!(super::latest_drift(&[bare]).is_empty());
    }
}
