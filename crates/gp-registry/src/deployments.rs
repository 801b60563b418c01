//! Deployment lifecycle events and the build list derived from them.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::chain::DEPLOYMENT_EVENTS;
use crate::db::{DbExt, Named, Row};
use crate::{LeaseState, Registry, RegistryError};

/// A deployment lifecycle event.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
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
    /// `interrupted`, `tearing-down`, `torn-down`, `teardown-failed`, or
    /// `imported` for a build known only from imported history,
    /// `imported-legacy-id` when its id is in an older form or free text
    /// (kept as written).
    pub status: String,
    /// When its status last changed.
    pub updated_us: i64,
    /// Known only from imported history (`registry import`): no
    /// reservation, its id as the history wrote it (a legacy id, free text).
    pub imported: bool,
    /// When it expires (µs since the epoch), if it has a TTL.
    pub expires_us: Option<i64>,
    /// Why it is kept past its expiry, if it is.
    pub kept: Option<String>,
}

/// A build's expiry, derived from its events since its reservation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Expiry {
    /// When it expires (µs since the epoch); `None`: no TTL.
    pub expires_us: Option<i64>,
    /// Why it is kept, if it is.
    pub kept: Option<String>,
    /// Lead times (seconds) whose notice was given.
    pub noticed: Vec<u64>,
    /// How many times it was extended.
    pub extensions: u32,
}

impl Expiry {
    /// From a build's events (oldest first), counting those at or after
    /// `since_us` (its reservation: an older generation's do not count).
    pub fn from_events(events: &[DeploymentEvent], since_us: i64) -> Expiry {
        let mut e = Expiry::default();
        let detail_i64 = |ev: &DeploymentEvent, k: &str| {
            ev.detail
                .as_ref()
                .and_then(|d| d.get(k))
                .and_then(|v| v.as_i64())
        };
        for ev in events.iter().filter(|ev| ev.at_us >= since_us) {
            match EventKind::parse(&ev.event) {
                Some(EventKind::ExpirySet) => e.expires_us = detail_i64(ev, "expiresUs"),
                Some(EventKind::ExpiryExtended) => {
                    e.expires_us = detail_i64(ev, "expiresUs").or(e.expires_us);
                    e.extensions += 1;
                }
                Some(EventKind::BuildKept) => {
                    e.kept = Some(
                        ev.detail
                            .as_ref()
                            .and_then(|d| d.get("reason"))
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
                Some(EventKind::BuildReleased) => e.kept = None,
                Some(EventKind::ExpiryNotice) => {
                    if let Some(lead) = detail_i64(ev, "leadS").and_then(|l| u64::try_from(l).ok())
                        && !e.noticed.contains(&lead)
                    {
                        e.noticed.push(lead);
                    }
                }
                _ => {}
            }
        }
        e
    }
}

pub(crate) fn event_row(r: &dyn Row) -> DeploymentEvent {
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

/// What happened to a deployment, as recorded (the strings are the
/// registry's and stay as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A deploy began.
    DeployStarted,
    /// It succeeded.
    DeploySucceeded,
    /// A component failed or was refused.
    DeployFailed,
    /// Ctrl-C, or the lease was lost.
    DeployInterrupted,
    /// A teardown began.
    TeardownStarted,
    /// Everything it created is gone.
    TornDown,
    /// Something it created could not be removed, or survived.
    TeardownFailed,
    /// A state lock was force-unlocked (beside the lifecycle).
    ForceUnlockSucceeded,
    /// A forced unlock failed (beside the lifecycle).
    ForceUnlockFailed,
    /// The orphan sweep deleted a resource still tagged for the
    /// deployment (beside the lifecycle).
    OrphanDeleted,
    /// A policy denied what a component was about to deliver (beside the
    /// lifecycle; the findings in the detail).
    PolicyDenied,
    /// Policies warned, or a denial was overridden (beside the lifecycle).
    PolicyWarned,
    /// A build's expiry was set at its reservation (`expiresUs`, `ttlS`).
    ExpirySet,
    /// Someone moved a build's expiry (`expiresUs`, `byS`, `reason`).
    ExpiryExtended,
    /// A build is kept past its expiry (`reason`).
    BuildKept,
    /// A kept build expires again.
    BuildReleased,
    /// The reaper gave notice of an expiry (`leadS`, `timeLeftS`).
    ExpiryNotice,
}

impl EventKind {
    /// The registry's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DeployStarted => "deploy_started",
            EventKind::DeploySucceeded => "deploy_succeeded",
            EventKind::DeployFailed => "deploy_failed",
            EventKind::DeployInterrupted => "deploy_interrupted",
            EventKind::TeardownStarted => "teardown_started",
            EventKind::TornDown => "torn_down",
            EventKind::TeardownFailed => "teardown_failed",
            EventKind::ForceUnlockSucceeded => "force_unlock_succeeded",
            EventKind::ForceUnlockFailed => "force_unlock_failed",
            EventKind::OrphanDeleted => "orphan_deleted",
            EventKind::PolicyDenied => "policy_denied",
            EventKind::PolicyWarned => "policy_warned",
            EventKind::ExpirySet => "expiry_set",
            EventKind::ExpiryExtended => "expiry_extended",
            EventKind::BuildKept => "build_kept",
            EventKind::BuildReleased => "build_released",
            EventKind::ExpiryNotice => "expiry_notice",
        }
    }

    /// The status a deployment has after it; `None` for events beside
    /// the lifecycle.
    pub fn status(self) -> Option<DeploymentStatus> {
        Some(match self {
            EventKind::DeployStarted => DeploymentStatus::Deploying,
            EventKind::DeploySucceeded => DeploymentStatus::Live,
            EventKind::DeployFailed => DeploymentStatus::Failed,
            EventKind::DeployInterrupted => DeploymentStatus::Interrupted,
            EventKind::TeardownStarted => DeploymentStatus::TearingDown,
            EventKind::TornDown => DeploymentStatus::TornDown,
            EventKind::TeardownFailed => DeploymentStatus::TeardownFailed,
            EventKind::ForceUnlockSucceeded
            | EventKind::ForceUnlockFailed
            | EventKind::OrphanDeleted
            | EventKind::PolicyDenied
            | EventKind::PolicyWarned
            | EventKind::ExpirySet
            | EventKind::ExpiryExtended
            | EventKind::BuildKept
            | EventKind::BuildReleased
            | EventKind::ExpiryNotice => return None,
        })
    }

    /// Reads [`EventKind::as_str`] back.
    pub fn parse(s: &str) -> Option<EventKind> {
        [
            EventKind::DeployStarted,
            EventKind::DeploySucceeded,
            EventKind::DeployFailed,
            EventKind::DeployInterrupted,
            EventKind::TeardownStarted,
            EventKind::TornDown,
            EventKind::TeardownFailed,
            EventKind::ForceUnlockSucceeded,
            EventKind::ForceUnlockFailed,
            EventKind::OrphanDeleted,
            EventKind::PolicyDenied,
            EventKind::PolicyWarned,
            EventKind::ExpirySet,
            EventKind::ExpiryExtended,
            EventKind::BuildKept,
            EventKind::BuildReleased,
            EventKind::ExpiryNotice,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A deployment's status, derived from its latest lifecycle event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentStatus {
    /// Reserved, nothing run yet.
    Reserved,
    /// A deploy is running.
    Deploying,
    /// Deployed.
    Live,
    /// The last deploy failed.
    Failed,
    /// The last run stopped half-way.
    Interrupted,
    /// A teardown is running.
    TearingDown,
    /// Torn down: the build id is retired.
    TornDown,
    /// The last teardown left something.
    TeardownFailed,
}

impl DeploymentStatus {
    /// The word status and `builds list` show.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Reserved => "reserved",
            DeploymentStatus::Deploying => "deploying",
            DeploymentStatus::Live => "live",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::Interrupted => "interrupted",
            DeploymentStatus::TearingDown => "tearing-down",
            DeploymentStatus::TornDown => "torn-down",
            DeploymentStatus::TeardownFailed => "teardown-failed",
        }
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
        None => DeploymentStatus::Reserved.as_str(),
        Some(e) => EventKind::parse(e)
            .and_then(EventKind::status)
            .map(DeploymentStatus::as_str)
            .unwrap_or("unknown"),
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
        // Row by row: only the latest lifecycle event of each deployment is
        // kept, never every event of the environment at once.
        let mut latest = BTreeMap::new();
        self.with(|db| {
            db.query(
                &format!(
                    "SELECT {} FROM deployment_events WHERE env = ? ORDER BY at_us, id",
                    DEPLOYMENT_EVENTS.select_list()
                ),
                &[env.into()],
                &mut |r| {
                    let event = r.index("event").and_then(|i| r.text(i)).unwrap_or("");
                    if is_lifecycle_event(event) {
                        let ev = event_row(r);
                        latest.insert(ev.deployment.clone(), ev);
                    }
                    Ok(())
                },
            )
        })?;
        Ok(latest)
    }

    /// A build's expiry, from its events since its latest reservation.
    pub fn expiry(&self, env: &str, build: &str) -> Result<Expiry, RegistryError> {
        let since = self.with(|db| {
            db.rows(
                "SELECT MAX(at_us) FROM reservations WHERE env = ? AND build_id = ?",
                &[env.into(), build.into()],
                |r| r.int(0).unwrap_or(0),
            )
        })?;
        let events = self.deployment_events(env, build)?;
        Ok(Expiry::from_events(
            &events,
            since.first().copied().unwrap_or(0),
        ))
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
        // Only the events an expiry is made of: the lifecycle (most rows)
        // is in `latest` already.
        let all_events = self.with(|db| {
            db.rows(
                &format!(
                    "SELECT {} FROM deployment_events WHERE env = ? AND event IN ('expiry_set', 'expiry_extended', 'build_kept', 'build_released', 'expiry_notice') ORDER BY at_us, id",
                    DEPLOYMENT_EVENTS.select_list()
                ),
                &[env.into()],
                event_row,
            )
        })?;
        let mut by_deployment: BTreeMap<String, Vec<DeploymentEvent>> = BTreeMap::new();
        for ev in all_events {
            by_deployment
                .entry(ev.deployment.clone())
                .or_default()
                .push(ev);
        }
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
            let expiry = Expiry::from_events(
                by_deployment.get(&build_id).map_or(&[][..], Vec::as_slice),
                at_us,
            );
            out.push(BuildSummary {
                env: env.into(),
                build_id,
                generation,
                reserved_by: actor,
                reserved_us: at_us,
                status,
                updated_us: ev.map(|e| e.at_us).unwrap_or(at_us),
                imported: false,
                expires_us: expiry.expires_us,
                kept: expiry.kept,
            });
        }
        // Builds only the imported history knows, under the id it wrote.
        let imported = self.with(|db| {
            db.rows(
                // A source that is a JSON object (an imported row's cells), found
                // by a range over `phase_events_source`.
                "SELECT deployment, MIN(started_us), MAX(ended_us) FROM phase_events WHERE kind = 'end' AND env = ? AND source >= '{' AND source < '|' AND deployment <> 'persistent' AND deployment <> 'foundational' GROUP BY deployment",
                &[env.into()],
                |r| (r.string(0), r.int(1).unwrap_or(0), r.int(2).unwrap_or(0)),
            )
        })?;
        for (key, first, last) in imported {
            if seen.contains(&key) {
                continue;
            }
            // An id in an older form (YYYYMMDD-NN) or free text is kept as
            // written and marked, never converted.
            let legacy = key
                .parse::<gp_core::BuildId>()
                .map_or(true, |b| b.to_string() != key);
            let status = if legacy {
                "imported-legacy-id"
            } else {
                "imported"
            };
            out.push(BuildSummary {
                env: env.into(),
                build_id: key,
                generation: 0,
                reserved_by: "import".into(),
                reserved_us: first,
                status: status.into(),
                updated_us: last,
                imported: true,
                expires_us: None,
                kept: None,
            });
        }
        out.sort_by(|a, b| {
            b.reserved_us
                .cmp(&a.reserved_us)
                .then(b.build_id.cmp(&a.build_id))
        });
        Ok(out)
    }
}
