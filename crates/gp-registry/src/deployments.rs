//! Deployment lifecycle events and the build list derived from them.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::chain::DEPLOYMENT_EVENTS;
use crate::db::{DbExt, Named, Row};
use crate::{LeaseState, Registry, RegistryError};

/// A deployment lifecycle event.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentEvent {
    /// Event id.
    pub id: String,
    /// Environment.
    pub env: String,
    /// `foundational`, `persistent` or the build id.
    pub deployment: String,
    /// The run (one goldenpath invocation).
    pub run_id: Option<String>,
    /// What happened: `deploy_started`, `deploy_succeeded`, `deploy_failed`,
    /// `deploy_interrupted`, `teardown_started`, `torn_down`,
    /// `teardown_failed`.
    pub event: String,
    /// Who.
    pub actor: String,
    /// Source commit.
    pub commit_sha: Option<String>,
    /// CI run URL.
    pub run_url: Option<String>,
    /// Non-secret detail.
    pub detail: Option<serde_json::Value>,
    /// When.
    pub at_us: i64,
}

/// A build as `builds list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSummary {
    /// Environment.
    pub env: String,
    /// The id.
    pub build_id: String,
    /// Reservation generation.
    pub generation: i64,
    /// Who reserved it.
    pub reserved_by: String,
    /// When.
    pub reserved_us: i64,
    /// Derived status: `reserved`, `deploying`, `live`, `failed`,
    /// `interrupted`, `tearing-down`, `torn-down`, `teardown-failed`.
    pub status: String,
    /// When its status last changed.
    pub updated_us: i64,
}

fn event_row(r: &dyn Row) -> DeploymentEvent {
    let r = Named(r);
    DeploymentEvent {
        id: r.string("id"),
        env: r.string("env"),
        deployment: r.string("deployment"),
        run_id: r.text("run_id"),
        event: r.string("event"),
        actor: r.string("actor"),
        commit_sha: r.text("commit_sha"),
        run_url: r.text("run_url"),
        detail: r.json("detail"),
        at_us: r.int("at_us").unwrap_or_default(),
    }
}

/// Whether a deployment event changes a deployment's status (others, such
/// as `force_unlock_failed`, are recorded beside the lifecycle).
pub fn is_lifecycle_event(event: &str) -> bool {
    status_from_event(Some(event)) != "unknown"
}

/// Maps a deployment's latest lifecycle event to a status.
pub fn status_from_event(event: Option<&str>) -> &'static str {
    match event {
        None => "reserved",
        Some("deploy_started") => "deploying",
        Some("deploy_succeeded") => "live",
        Some("deploy_failed") => "failed",
        Some("deploy_interrupted") => "interrupted",
        Some("teardown_started") => "tearing-down",
        Some("torn_down") => "torn-down",
        Some("teardown_failed") => "teardown-failed",
        Some(_) => "unknown",
    }
}

impl Registry {
    /// Records a deployment lifecycle event (idempotent by id).
    pub fn record_deployment(&self, ev: &DeploymentEvent) -> Result<(), RegistryError> {
        let detail = ev.detail.as_ref().map(|d| d.to_string());
        self.append_one(
            &DEPLOYMENT_EVENTS,
            vec![
                (&ev.id).into(),
                (&ev.env).into(),
                (&ev.deployment).into(),
                ev.run_id.clone().into(),
                (&ev.event).into(),
                (&ev.actor).into(),
                ev.commit_sha.clone().into(),
                ev.run_url.clone().into(),
                detail.clone().into(),
                ev.at_us.into(),
            ],
        )?;
        Ok(())
    }

    /// A deployment's events, oldest first.
    pub fn deployment_events(
        &self,
        env: &str,
        deployment: &str,
    ) -> Result<Vec<DeploymentEvent>, RegistryError> {
        self.with(|db| {
            db.rows(
                &format!(
                    "SELECT {} FROM deployment_events WHERE env = ? AND deployment = ? ORDER BY at_us, id",
                    DEPLOYMENT_EVENTS.select_list()
                ),
                &[env.into(), deployment.into()],
                event_row,
            )
        })
    }

    /// The latest lifecycle event of every deployment of `env`, by
    /// deployment key.
    pub fn latest_deployment_events(
        &self,
        env: &str,
    ) -> Result<BTreeMap<String, DeploymentEvent>, RegistryError> {
        let all = self.with(|db| {
            db.rows(
                &format!(
                    "SELECT {} FROM deployment_events WHERE env = ? ORDER BY at_us, id",
                    DEPLOYMENT_EVENTS.select_list()
                ),
                &[env.into()],
                event_row,
            )
        })?;
        let mut latest = BTreeMap::new();
        for ev in all.into_iter().filter(|e| is_lifecycle_event(&e.event)) {
            latest.insert(ev.deployment.clone(), ev);
        }
        Ok(latest)
    }

    /// Builds of `env`, newest first, with their derived status.
    pub fn builds(&self, env: &str) -> Result<Vec<BuildSummary>, RegistryError> {
        let reservations = self.with(|db| {
            db.rows(
                "SELECT build_id, generation, actor, at_us FROM reservations WHERE env = ? ORDER BY at_us DESC, build_id DESC",
                &[env.into()],
                |r| (r.string(0), r.int(1).unwrap_or(1), r.string(2), r.int(3).unwrap_or(0)),
            )
        })?;
        let latest = self.latest_deployment_events(env)?;
        let leases: BTreeMap<String, LeaseState> = self
            .leases(Some(env))?
            .into_iter()
            .map(|l| (l.deployment.clone(), l))
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (build_id, generation, actor, at_us) in reservations {
            if !seen.insert(build_id.clone()) {
                continue; // an older generation of an overridden id
            }
            let ev = latest.get(&build_id).filter(|e| e.at_us >= at_us);
            let mut status = status_from_event(ev.map(|e| e.event.as_str())).to_string();
            // A deploy that started and whose lease is gone died mid-way.
            if status == "deploying" || status == "tearing-down" {
                let held = leases.get(&build_id).is_some_and(|l| l.state == "held");
                if !held {
                    status = "interrupted".into();
                }
            }
            out.push(BuildSummary {
                env: env.into(),
                build_id,
                generation,
                reserved_by: actor,
                reserved_us: at_us,
                status,
                updated_us: ev.map(|e| e.at_us).unwrap_or(at_us),
            });
        }
        Ok(out)
    }
}
