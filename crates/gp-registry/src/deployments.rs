//! Deployment lifecycle events and the build list derived from them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chain::DEPLOYMENT_EVENTS;
use crate::db::{Named, Row};
use crate::{Heads, Registry, RegistryError, Tampered};

mod builds;
use builds::EnvEvents;

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
    /// What happened: `deploy_started`, `deploy_succeeded`, `deploy_partial`, `deploy_failed`,
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
    /// Derived status: `reserved`, `deploying`, `live`, `partial`, `failed`,
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
    /// The pull request whose preview it is (from its latest deploy), if
    /// any: one build per pull request, reused on every push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestRef>,
}

/// A pull request a deployment was made for, as recorded with each of its
/// deploys (`detail.pullRequest` of `deploy_started`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestRef {
    /// Its number.
    pub number: u64,
    /// The head commit deployed (40 hex digits).
    pub head_sha: String,
}

impl PullRequestRef {
    /// The pull request of a `deploy_started` event, if its detail names
    /// one in the recorded form (anything else is no pull request).
    pub fn of_event(ev: &DeploymentEvent) -> Option<PullRequestRef> {
        if ev.event != EventKind::DeployStarted.as_str() {
            return None;
        }
        let v = ev.detail.as_ref()?.get("pullRequest")?;
        let pr: PullRequestRef = serde_json::from_value(v.clone()).ok()?;
        (pr.number > 0
            && pr.head_sha.len() == 40
            && pr.head_sha.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(pr)
    }
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
    /// It ran, and what it could deploy is deployed, but a target waits on
    /// something outside it (a foundational component not deployed): by
    /// design in a story that deploys in stages, never all of it.
    DeployPartial,
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
    /// `goldenpath drift` compared the live systems with what was applied
    /// (`drifted`, `ignored`, `failed`, and per component what differs).
    DriftChecked,
    /// Someone approved putting back the drift a check found in named
    /// foundational components (`components`, `checkUs`, `reason`).
    DriftRemediationApproved,
    /// A deploy that was let through to put drift back succeeded: what the
    /// latest check found in `components` is no longer pending.
    DriftRemediated,
}

impl EventKind {
    /// The registry's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DeployStarted => "deploy_started",
            EventKind::DeploySucceeded => "deploy_succeeded",
            EventKind::DeployPartial => "deploy_partial",
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
            EventKind::DriftChecked => "drift_checked",
            EventKind::DriftRemediationApproved => "drift_remediation_approved",
            EventKind::DriftRemediated => "drift_remediated",
        }
    }

    /// The status a deployment has after it; `None` for events beside
    /// the lifecycle.
    pub fn status(self) -> Option<DeploymentStatus> {
        Some(match self {
            EventKind::DeployStarted => DeploymentStatus::Deploying,
            EventKind::DeploySucceeded => DeploymentStatus::Live,
            EventKind::DeployPartial => DeploymentStatus::Partial,
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
            | EventKind::ExpiryNotice
            | EventKind::DriftChecked
            | EventKind::DriftRemediationApproved
            | EventKind::DriftRemediated => return None,
        })
    }

    /// Every kind, in the order of the lifecycle.
    pub const ALL: [EventKind; 21] = [
        EventKind::DeployStarted,
        EventKind::DeploySucceeded,
        EventKind::DeployPartial,
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
        EventKind::DriftChecked,
        EventKind::DriftRemediationApproved,
        EventKind::DriftRemediated,
    ];

    /// Reads [`EventKind::as_str`] back.
    pub fn parse(s: &str) -> Option<EventKind> {
        // A match, not a search: every read of a build list parses each
        // event it reads.
        Some(match s {
            "deploy_started" => EventKind::DeployStarted,
            "deploy_succeeded" => EventKind::DeploySucceeded,
            "deploy_partial" => EventKind::DeployPartial,
            "deploy_failed" => EventKind::DeployFailed,
            "deploy_interrupted" => EventKind::DeployInterrupted,
            "teardown_started" => EventKind::TeardownStarted,
            "torn_down" => EventKind::TornDown,
            "teardown_failed" => EventKind::TeardownFailed,
            "force_unlock_succeeded" => EventKind::ForceUnlockSucceeded,
            "force_unlock_failed" => EventKind::ForceUnlockFailed,
            "orphan_deleted" => EventKind::OrphanDeleted,
            "policy_denied" => EventKind::PolicyDenied,
            "policy_warned" => EventKind::PolicyWarned,
            "expiry_set" => EventKind::ExpirySet,
            "expiry_extended" => EventKind::ExpiryExtended,
            "build_kept" => EventKind::BuildKept,
            "build_released" => EventKind::BuildReleased,
            "expiry_notice" => EventKind::ExpiryNotice,
            "drift_checked" => EventKind::DriftChecked,
            "drift_remediation_approved" => EventKind::DriftRemediationApproved,
            "drift_remediated" => EventKind::DriftRemediated,
            _ => return None,
        })
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
    /// Deployed, but a target waits on something outside the deployment.
    Partial,
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
            DeploymentStatus::Partial => "partial",
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

    /// A deployment's events, oldest first, every one checked against its
    /// chain: a tampered stream is an error.
    pub fn deployment_events(
        &self,
        env: &str,
        deployment: &str,
    ) -> Result<Vec<DeploymentEvent>, RegistryError> {
        let stream = format!("{env}\u{1f}{deployment}");
        let mut out = Vec::new();
        self.streams_trusted(
            &DEPLOYMENT_EVENTS,
            "env = ? AND deployment = ?",
            &[env.into(), deployment.into()],
            Heads::Stream(&stream),
            &mut |r| {
                out.push(event_row(r));
                Ok(())
            },
        )?;
        out.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
        Ok(out)
    }

    /// The latest lifecycle event of every deployment of `env`, by
    /// deployment key. A tampered stream is an error.
    pub fn latest_deployment_events(
        &self,
        env: &str,
    ) -> Result<BTreeMap<String, DeploymentEvent>, RegistryError> {
        let read = self.env_events(env)?;
        match read.tampered.into_iter().next() {
            Some(t) => Err(t.into_error()),
            None => Ok(read.latest),
        }
    }

    /// Every deployment event of `env`, checked, kept as much as a build
    /// list needs: each deployment's latest lifecycle event and its expiry
    /// events. Deployments whose stream does not check out are named.
    fn env_events(&self, env: &str) -> Result<EnvEvents, RegistryError> {
        let prefix = format!("{env}\u{1f}");
        let mut read = EnvEvents::default();
        let tampered = self.streams(
            &DEPLOYMENT_EVENTS,
            "env = ?",
            &[env.into()],
            Heads::Prefix(&prefix),
            &mut |r, ok| {
                let deployment = r.index("deployment").and_then(|i| r.text(i)).unwrap_or("");
                if !ok {
                    read.untrusted.insert(deployment.to_string());
                    return Ok(());
                }
                let event = r.index("event").and_then(|i| r.text(i)).unwrap_or("");
                let expiry = matches!(
                    EventKind::parse(event),
                    Some(
                        EventKind::ExpirySet
                            | EventKind::ExpiryExtended
                            | EventKind::BuildKept
                            | EventKind::BuildReleased
                            | EventKind::ExpiryNotice
                    )
                );
                if is_lifecycle_event(event) {
                    let ev = event_row(r);
                    if let Some(pr) = PullRequestRef::of_event(&ev) {
                        let newer = read
                            .pull_requests
                            .get(deployment)
                            .is_none_or(|(at, id, _)| (*at, id) <= (ev.at_us, &ev.id));
                        if newer {
                            read.pull_requests
                                .insert(ev.deployment.clone(), (ev.at_us, ev.id.clone(), pr));
                        }
                    }
                    let newer = read
                        .latest
                        .get(deployment)
                        .is_none_or(|old| (old.at_us, &old.id) <= (ev.at_us, &ev.id));
                    if newer {
                        read.latest.insert(ev.deployment.clone(), ev);
                    }
                } else if expiry {
                    let ev = event_row(r);
                    read.expiry_events
                        .entry(ev.deployment.clone())
                        .or_default()
                        .push(ev);
                }
                Ok(())
            },
        )?;
        for t in &tampered {
            if let Some((_, d)) = t.stream.split_once('/') {
                read.untrusted.insert(d.to_string());
            }
        }
        for evs in read.expiry_events.values_mut() {
            evs.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
        }
        read.tampered = tampered;
        Ok(read)
    }

    /// Whether anything is recorded for `env` (a reservation, a deployment
    /// event or a phase): whether a command may read an environment the
    /// spec no longer declares. It decides nothing else; what is then read
    /// is read through the chain.
    pub fn env_recorded(&self, env: &str) -> Result<bool, RegistryError> {
        self.with(|db| {
            for table in ["reservations", "deployment_events", "phase_events"] {
                if crate::db::DbExt::scalar(
                    db,
                    &format!("SELECT 1 FROM {table} WHERE env = ? LIMIT 1"),
                    &[env.into()],
                )?
                .is_some()
                {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// A build's expiry, from its events since its latest reservation.
    pub fn expiry(&self, env: &str, build: &str) -> Result<Expiry, RegistryError> {
        let since = match build.parse::<gp_core::BuildId>() {
            Ok(b) => self.reservation(env, b)?.map(|r| r.at_us).unwrap_or(0),
            Err(_) => 0,
        };
        let events = self.deployment_events(env, build)?;
        Ok(Expiry::from_events(&events, since))
    }
}

/// The status of a build, deployment, lease or request whose rows do not
/// check out: nothing is derived from them.
pub const TAMPERED: &str = "tampered";

#[cfg(test)]
mod tests {
    use super::{DeploymentEvent, EventKind, Expiry, is_lifecycle_event};

    fn ev(event: &str, at_us: i64, detail: serde_json::Value) -> DeploymentEvent {
        DeploymentEvent {
            id: format!("e{at_us}"),
            env: "dev".into(),
            deployment: "23-01-26-01".into(),
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
    fn an_expiry_is_set_extended_kept_released_and_noticed_by_its_events_since_the_reservation() {
        use serde_json::json;
        let events = [
            // An older generation's: not counted.
            ev("expiry_set", 5, json!({"expiresUs": 1})),
            ev("build_kept", 6, json!({"reason": "old"})),
            ev("expiry_set", 10, json!({"expiresUs": 100})),
            ev("expiry_notice", 11, json!({"leadS": 3600})),
            ev("expiry_notice", 12, json!({"leadS": 3600})),
            ev("expiry_notice", 13, json!({"leadS": 600})),
            ev("expiry_extended", 14, json!({"expiresUs": 200})),
            ev("deploy_started", 15, json!({})),
        ];
        let e = Expiry::from_events(&events, 10);
        assert_eq!(
            e,
            Expiry {
                expires_us: Some(200),
                kept: None,
                noticed: vec![3600, 600],
                extensions: 1,
            }
        );
        // Before any extension: the time set.
        assert_eq!(Expiry::from_events(&events[..6], 10).expires_us, Some(100));
        // Counted from the first event of this generation, not after.
        assert_eq!(Expiry::from_events(&events, 11).expires_us, Some(200));
        assert_eq!(Expiry::from_events(&events[..4], 11).expires_us, None);
        // Kept with its reason, then released.
        let mut kept = events.to_vec();
        kept.push(ev("build_kept", 16, json!({"reason": "demo on Friday"})));
        assert_eq!(
            Expiry::from_events(&kept, 10).kept.as_deref(),
            Some("demo on Friday")
        );
        kept.push(ev("build_released", 17, json!({})));
        assert_eq!(Expiry::from_events(&kept, 10).kept, None);
        // An extension without a time keeps the expiry it had; each counts.
        let mut more = events.to_vec();
        more.push(ev("expiry_extended", 18, json!({})));
        let e = Expiry::from_events(&more, 10);
        assert_eq!((e.expires_us, e.extensions), (Some(200), 2));
        // No TTL at all.
        assert_eq!(Expiry::from_events(&[], 0), Expiry::default());
    }

    #[test]
    fn only_the_events_of_a_deployments_life_are_lifecycle_events() {
        for yes in [
            "deploy_started",
            "deploy_succeeded",
            "torn_down",
            "teardown_started",
        ] {
            assert!(is_lifecycle_event(yes), "{yes}");
        }
        for no in ["expiry_set", "build_kept", "policy_denied", "nonsense"] {
            assert!(!is_lifecycle_event(no), "{no}");
        }
    }

    #[test]
    fn every_kind_reads_back_and_nothing_else_does() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        for other in ["", "deployed", "DEPLOY_STARTED", "torn_down "] {
            assert_eq!(EventKind::parse(other), None, "{other}");
        }
    }
}
