//! The registry: goldenpath's append-only governance ledger.
//!
//! It records build id reservations, deployments and their phases, the
//! action journal (each driver action before and after it runs), leases,
//! overrides and self-service requests. Rows are never updated or deleted —
//! the database itself rejects it with triggers — and current state (a
//! build's status, who holds a lease) is derived from the events. Every
//! event carries an id chosen by the writer, so a retried write is
//! idempotent.
//!
//! Two backends share one implementation of that logic: an embedded SQLite
//! file (WAL, safe for several processes on one machine) and PostgreSQL for a
//! team (many machines). Migrations are embedded and numbered.
//!
//! ```no_run
//! use gp_registry::{Location, Registry, ReserveRequest};
//! use gp_core::BuildIdArg;
//! let registry = Registry::open(&Location::Sqlite(".goldenpath/registry.db".into()))?;
//! let r = registry.reserve(&ReserveRequest::new("dev", BuildIdArg::Auto, "ci@runner-1"))?;
//! println!("deploying build {}", r.build_id);
//! # Ok::<(), gp_registry::RegistryError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use gp_core::{BuildId, BuildIdArg};
use serde::Serialize;

mod csv_io;
mod db;
mod postgres;
mod report;
mod sqlite;
mod time;
mod verify;

pub use csv_io::{ImportReport, RowProblem, export_csv, import_csv};
pub use db::Backend;
use db::{Db, DbExt};
pub use report::{PhaseStats, report};
pub use time::{format_utc, now_us, parse_utc};
pub use verify::Breach;

/// What went wrong in the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The database failed.
    #[error("registry ({backend}): {message}")]
    Db {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The database's message.
        message: String,
        /// Whether trying again can help.
        retryable: bool,
        /// A uniqueness conflict (another writer got there first).
        conflict: bool,
    },
    /// The registry location is not understood.
    #[error(
        "invalid registry location `{0}`: expected a path to a SQLite file, sqlite://PATH, or postgres://..."
    )]
    Location(String),
    /// The build id was torn down and is retired.
    #[error(
        "build {build_id} in {env} was torn down on {torn_down}; a build id names one deployment forever"
    )]
    BuildIdRetired {
        /// Environment.
        env: String,
        /// The id.
        build_id: BuildId,
        /// When it was torn down (UTC).
        torn_down: String,
    },
    /// `auto` ran out of sequence numbers for today.
    #[error("no free build id left for {date} in {env} (01-99 are taken)")]
    AutoExhausted {
        /// Environment.
        env: String,
        /// `DD-MM-YY`.
        date: String,
    },
    /// Another process holds the deployment's lease.
    #[error(
        "{deployment} of {env} is being changed by {holder} (lease {lease_id}, expires {expires})"
    )]
    LeaseHeld {
        /// Environment.
        env: String,
        /// Deployment key.
        deployment: String,
        /// Who holds it.
        holder: String,
        /// Lease id.
        lease_id: String,
        /// When it expires (UTC).
        expires: String,
    },
    /// Our lease was taken from us (expired and re-acquired, or forced).
    #[error("the lease on {deployment} of {env} is no longer held by us: {why}")]
    LeaseLost {
        /// Environment.
        env: String,
        /// Deployment key.
        deployment: String,
        /// What happened to it.
        why: String,
    },
    /// A required value is missing (e.g. an override without a reason).
    #[error("{0}")]
    Invalid(String),
}

impl RegistryError {
    /// Whether this is a refusal by a guard (exit 3) rather than a failure.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            RegistryError::BuildIdRetired { .. } | RegistryError::LeaseHeld { .. }
        )
    }

    fn retryable(&self) -> bool {
        matches!(
            self,
            RegistryError::Db {
                retryable: true,
                ..
            }
        )
    }
}

/// Where the registry lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Location {
    /// Parses `postgres://...`/`postgresql://...`, `sqlite://PATH` or a
    /// plain path.
    pub fn parse(s: &str) -> Result<Location, RegistryError> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Location::Postgres(s.to_string()))
        } else if let Some(path) = s.strip_prefix("sqlite://") {
            Ok(Location::Sqlite(path.into()))
        } else if s.is_empty() || s.contains("://") {
            Err(RegistryError::Location(redact_url(s)))
        } else {
            Ok(Location::Sqlite(s.into()))
        }
    }

    /// A description safe to print: a URL's password is replaced.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite {}", p.display()),
            Location::Postgres(url) => format!("postgres {}", redact_url(url)),
        }
    }
}

/// Replaces the password in `scheme://user:password@host/...`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A fresh event id: 128 random bits in hex.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // The OS RNG failing is near impossible; fall back to time and pid,
        // which is still unique enough for an event id.
        let t = now_us() as u128;
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The ledger.
pub struct Registry {
    db: Mutex<Box<dyn Db>>,
    location: Location,
}

/// A request to reserve a build id.
#[derive(Clone, Debug)]
pub struct ReserveRequest<'a> {
    /// Environment.
    pub env: &'a str,
    /// A concrete id or `auto`.
    pub build: BuildIdArg,
    /// Who asks.
    pub actor: &'a str,
    /// Reserve a retired id again; the reason is recorded.
    pub override_reason: Option<&'a str>,
    /// Today's date for `auto` (UTC unless given).
    pub today: Option<(u8, u8, u8)>,
}

impl<'a> ReserveRequest<'a> {
    /// A plain request.
    pub fn new(env: &'a str, build: BuildIdArg, actor: &'a str) -> Self {
        Self {
            env,
            build,
            actor,
            override_reason: None,
            today: None,
        }
    }
}

/// A reservation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// Environment.
    pub env: String,
    /// The id.
    pub build_id: BuildId,
    /// 1 for the first reservation; an override of a retired id adds one.
    pub generation: i64,
    /// Whether this call created it (false: it already existed and is live).
    pub new: bool,
    /// Who reserved it.
    pub actor: String,
    /// When (µs since the epoch).
    pub at_us: i64,
    /// The override reason, if it re-used a retired id.
    pub reason: Option<String>,
}

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

/// One phase: a timed step (a component's apply, a Terraform plan, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    /// The phase run id shared by its start and end events.
    pub run: String,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Build id, empty for non-ephemeral deployments.
    pub build_id: String,
    /// Phase name, e.g. `apply:cluster` or `terraform-plan`.
    pub phase: String,
    /// The component, if the phase is about one.
    pub component: Option<String>,
    /// Start.
    pub started_us: i64,
    /// End.
    pub ended_us: Option<i64>,
    /// Exit code (0 success).
    pub exit_code: Option<i64>,
    /// Resources added.
    pub added: Option<i64>,
    /// Resources changed.
    pub changed: Option<i64>,
    /// Resources destroyed.
    pub destroyed: Option<i64>,
    /// Flags the phase ran with.
    pub flags: Option<String>,
    /// Its log file.
    pub log_path: Option<String>,
    /// CI run URL.
    pub run_url: Option<String>,
    /// Who.
    pub actor: Option<String>,
    /// Source commit.
    pub commit_sha: Option<String>,
}

impl Phase {
    /// Duration in milliseconds, once ended.
    pub fn duration_ms(&self) -> Option<i64> {
        self.ended_us.map(|e| (e - self.started_us) / 1000)
    }
}

/// The stage of a journalled action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// About to run.
    Before,
    /// Ran and succeeded.
    After,
    /// Ran and failed.
    Failed,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Before => "before",
            Stage::After => "after",
            Stage::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Stage {
        match s {
            "before" => Stage::Before,
            "after" => Stage::After,
            _ => Stage::Failed,
        }
    }
}

/// A driver action, journalled before and after it runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Event id (retries reuse it).
    pub id: String,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// The run.
    pub run_id: Option<String>,
    /// Shared by the `before` and `after`/`failed` entries of one action.
    pub action_id: String,
    /// Before, after or failed.
    pub stage: Stage,
    /// Component.
    pub component: String,
    /// Driver.
    pub driver: String,
    /// `create`, `adopt`, `update`, `destroy`, ...
    pub action: String,
    /// The resource's identity, e.g. `database backstage on rds`.
    pub resource: String,
    /// Non-secret outputs.
    pub outputs: Option<serde_json::Value>,
    /// Non-secret detail, e.g. an error message.
    pub detail: Option<String>,
}

/// A journal entry as stored, with its sequence number.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalRow {
    /// 1, 2, ... per deployment, without gaps.
    pub seq: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: JournalEntry,
    /// When.
    pub at_us: i64,
}

/// A lease we hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// Lease id.
    pub lease_id: String,
    /// Holder identity.
    pub holder: String,
    /// Expiry.
    pub expires_us: i64,
}

/// The derived state of a deployment's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseState {
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// The latest lease id.
    pub lease_id: String,
    /// Its holder.
    pub holder: String,
    /// When it was acquired.
    pub acquired_us: i64,
    /// When it expires (or expired).
    pub expires_us: i64,
    /// `held`, `expired`, `released`, `force_unlocked`.
    pub state: String,
    /// Who ended it and why, for a forced unlock.
    pub ended_by: Option<String>,
    /// The reason given.
    pub reason: Option<String>,
}

/// A recorded override of a guard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    /// Event id.
    pub id: String,
    /// Environment.
    pub env: String,
    /// Deployment key, if about one.
    pub deployment: Option<String>,
    /// `build-id-reuse`, `break-glass`, `guard`, `lease-force-unlock`,
    /// `terraform-force-unlock`, ...
    pub kind: String,
    /// What was overridden.
    pub subject: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at_us: i64,
}

/// A self-service request event.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEvent {
    /// Event id.
    pub id: String,
    /// Request id, e.g. `RDS-0002`.
    pub request_id: String,
    /// Request kind, e.g. `rds`.
    pub kind: String,
    /// Environment.
    pub env: String,
    /// `validated`, `approved`, `applied`, `refused`, `failed`.
    pub event: String,
    /// Who.
    pub actor: String,
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

const DEPLOYMENT_COLUMNS: &str =
    "id, env, deployment, run_id, event, actor, commit_sha, run_url, detail, at_us";

fn deployment_event(r: &dyn db::Row) -> DeploymentEvent {
    DeploymentEvent {
        id: r.string(0),
        env: r.string(1),
        deployment: r.string(2),
        run_id: r.text(3).map(str::to_string),
        event: r.string(4),
        actor: r.string(5),
        commit_sha: r.text(6).map(str::to_string),
        run_url: r.text(7).map(str::to_string),
        detail: r.text(8).and_then(|t| serde_json::from_str(t).ok()),
        at_us: r.int(9).unwrap_or_default(),
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

pub(crate) const PHASE_COLUMNS: &str = "phase_run, env, deployment, build_id, phase, component, started_us, ended_us, exit_code, added, changed, destroyed, flags, log_path, run_url, actor, commit_sha";

pub(crate) fn phase_row(r: &dyn db::Row) -> Phase {
    Phase {
        run: r.string(0),
        env: r.string(1),
        deployment: r.string(2),
        build_id: r.string(3),
        phase: r.string(4),
        component: r.text(5).map(str::to_string),
        started_us: r.int(6).unwrap_or_default(),
        ended_us: r.int(7),
        exit_code: r.int(8),
        added: r.int(9),
        changed: r.int(10),
        destroyed: r.int(11),
        flags: r.text(12).map(str::to_string),
        log_path: r.text(13).map(str::to_string),
        run_url: r.text(14).map(str::to_string),
        actor: r.text(15).map(str::to_string),
        commit_sha: r.text(16).map(str::to_string),
    }
}

impl Registry {
    /// Opens (creating and migrating if needed) the registry.
    pub fn open(location: &Location) -> Result<Registry, RegistryError> {
        let mut db: Box<dyn Db> = match location {
            Location::Sqlite(path) => Box::new(sqlite::Sqlite::open(path)?),
            Location::Postgres(url) => Box::new(postgres::Postgres::connect(url)?),
        };
        migrate(db.as_mut())?;
        Ok(Registry {
            db: Mutex::new(db),
            location: location.clone(),
        })
    }

    /// Where it lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        self.with(|db| Ok(db.backend())).unwrap_or(Backend::Sqlite)
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut guard = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(guard.as_mut())
    }

    /// Runs `f` in a write transaction, retrying when another writer got in
    /// the way (busy, or a uniqueness race on a derived value).
    fn tx<R>(
        &self,
        lock: Option<&str>,
        mut f: impl FnMut(&mut dyn Db) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.with(|db| {
                db.begin(lock)?;
                match f(db) {
                    Ok(v) => match db.commit() {
                        Ok(()) => Ok(v),
                        Err(e) => {
                            db.rollback();
                            Err(e)
                        }
                    },
                    Err(e) => {
                        db.rollback();
                        Err(e)
                    }
                }
            });
            match result {
                Err(e) if e.retryable() && attempt < 50 => {
                    tracing::debug!("registry transaction retried ({attempt}): {e}");
                    std::thread::yield_now();
                }
                other => return other,
            }
        }
    }

    /// Reserves a build id atomically. `auto` takes today's date and the
    /// next free sequence number. A live id is returned as it is (deploying
    /// it again converges it); a retired (torn-down) id is refused unless an
    /// override reason is given, which is recorded with the actor.
    pub fn reserve(&self, req: &ReserveRequest<'_>) -> Result<Reservation, RegistryError> {
        if let Some(reason) = req.override_reason
            && reason.trim().is_empty()
        {
            return Err(RegistryError::Invalid("an override needs a reason".into()));
        }
        let lock = format!("reserve/{}", req.env);
        self.tx(Some(&lock), |db| {
            let now = now_us();
            let build = match req.build {
                BuildIdArg::Id(b) => b,
                BuildIdArg::Auto => {
                    let (d, m, y) = req.today.unwrap_or_else(time::today_utc);
                    let first = BuildId::new(d, m, y, 1).map_err(|e| RegistryError::Invalid(e.to_string()))?;
                    let prefix = first.date_prefix();
                    let max = db
                        .scalar(
                            "SELECT MAX(seq) FROM reservations WHERE env = ? AND date_prefix = ?",
                            &[req.env.into(), prefix.clone().into()],
                        )?
                        .unwrap_or(0);
                    if max >= 99 {
                        return Err(RegistryError::AutoExhausted {
                            env: req.env.into(),
                            date: prefix,
                        });
                    }
                    let next = first
                        .with_seq(u8::try_from(max + 1).unwrap_or(99))
                        .map_err(|e| RegistryError::Invalid(e.to_string()))?;
                    return insert_reservation(db, req, next, 1, None, now);
                }
            };
            let existing = db.rows(
                "SELECT generation, actor, at_us, reason FROM reservations WHERE env = ? AND build_id = ? ORDER BY generation DESC LIMIT 1",
                &[req.env.into(), build.to_string().into()],
                |r| (r.int(0).unwrap_or(1), r.string(1), r.int(2).unwrap_or(0), r.text(3).map(str::to_string)),
            )?;
            let Some((generation, actor, at_us, reason)) = existing.into_iter().next() else {
                return insert_reservation(db, req, build, 1, None, now);
            };
            let last = db.rows(
                "SELECT event, at_us FROM deployment_events WHERE env = ? AND deployment = ? AND at_us >= ? ORDER BY at_us DESC, id DESC LIMIT 1",
                &[req.env.into(), build.to_string().into(), at_us.into()],
                |r| (r.string(0), r.int(1).unwrap_or(0)),
            )?;
            match last.first() {
                Some((event, torn_at)) if event == "torn_down" => match req.override_reason {
                    Some(why) => {
                        let r = insert_reservation(db, req, build, generation + 1, Some(why), now)?;
                        insert_override(
                            db,
                            &Override {
                                id: new_id(),
                                env: req.env.into(),
                                deployment: Some(build.to_string()),
                                kind: "build-id-reuse".into(),
                                subject: format!("build id {build} (generation {})", generation + 1),
                                actor: req.actor.into(),
                                reason: why.into(),
                                at_us: now,
                            },
                        )?;
                        Ok(r)
                    }
                    None => Err(RegistryError::BuildIdRetired {
                        env: req.env.into(),
                        build_id: build,
                        torn_down: format_utc(*torn_at),
                    }),
                },
                _ => Ok(Reservation {
                    env: req.env.into(),
                    build_id: build,
                    generation,
                    new: false,
                    actor,
                    at_us,
                    reason,
                }),
            }
        })
    }

    /// The latest reservation of a build, if any.
    pub fn reservation(
        &self,
        env: &str,
        build: BuildId,
    ) -> Result<Option<Reservation>, RegistryError> {
        let rows = self.with(|db| {
            db.rows(
                "SELECT generation, actor, at_us, reason FROM reservations WHERE env = ? AND build_id = ? ORDER BY generation DESC LIMIT 1",
                &[env.into(), build.to_string().into()],
                |r| Reservation {
                    env: env.into(),
                    build_id: build,
                    generation: r.int(0).unwrap_or(1),
                    new: false,
                    actor: r.string(1),
                    at_us: r.int(2).unwrap_or(0),
                    reason: r.text(3).map(str::to_string),
                },
            )
        })?;
        Ok(rows.into_iter().next())
    }

    /// Records a deployment lifecycle event.
    pub fn record_deployment(&self, ev: &DeploymentEvent) -> Result<(), RegistryError> {
        let detail = ev.detail.as_ref().map(|d| d.to_string());
        self.with(|db| {
            db.exec(
                &format!("INSERT INTO deployment_events ({DEPLOYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
                &[
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
            )
        })?;
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
                &format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployment_events WHERE env = ? AND deployment = ? ORDER BY at_us, id"),
                &[env.into(), deployment.into()],
                deployment_event,
            )
        })
    }

    /// The latest event of every deployment of `env`, by deployment key.
    pub fn latest_deployment_events(
        &self,
        env: &str,
    ) -> Result<BTreeMap<String, DeploymentEvent>, RegistryError> {
        let all = self.with(|db| {
            db.rows(
                &format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployment_events WHERE env = ? ORDER BY at_us, id"),
                &[env.into()],
                deployment_event,
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
        let mut seen = std::collections::HashSet::new();
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

    /// Records the start of a phase. Idempotent per phase run.
    pub fn phase_start(&self, p: &Phase) -> Result<(), RegistryError> {
        self.with(|db| insert_phase(db, p, "start", "goldenpath"))
    }

    /// Records the end of a phase (with its start fields repeated, so that
    /// reports read one row). Idempotent per phase run.
    pub fn phase_end(&self, p: &Phase) -> Result<(), RegistryError> {
        self.with(|db| insert_phase(db, p, "end", "goldenpath"))
    }

    /// Finished phases of a deployment (or of every deployment of `env`),
    /// oldest first.
    pub fn phases(&self, env: &str, deployment: Option<&str>) -> Result<Vec<Phase>, RegistryError> {
        self.with(|db| match deployment {
            Some(d) => db.rows(
                &format!("SELECT {PHASE_COLUMNS} FROM phase_events WHERE kind = 'end' AND env = ? AND deployment = ? ORDER BY started_us, phase_run"),
                &[env.into(), d.into()],
                phase_row,
            ),
            None => db.rows(
                &format!("SELECT {PHASE_COLUMNS} FROM phase_events WHERE kind = 'end' AND env = ? ORDER BY started_us, phase_run"),
                &[env.into()],
                phase_row,
            ),
        })
    }

    /// Phases that started and have not ended, of a deployment.
    pub fn open_phases(&self, env: &str, deployment: &str) -> Result<Vec<Phase>, RegistryError> {
        self.with(|db| {
            db.rows(
                &format!("SELECT {PHASE_COLUMNS} FROM phase_events s WHERE kind = 'start' AND env = ? AND deployment = ? AND NOT EXISTS (SELECT 1 FROM phase_events e WHERE e.kind = 'end' AND e.phase_run = s.phase_run) ORDER BY started_us"),
                &[env.into(), deployment.into()],
                phase_row,
            )
        })
    }

    /// Counts phase events (start and end rows), for tests and verify.
    pub fn count_phase_events(&self) -> Result<i64, RegistryError> {
        self.with(|db| {
            Ok(db
                .scalar("SELECT COUNT(*) FROM phase_events", &[])?
                .unwrap_or(0))
        })
    }

    /// Appends a journal entry and returns its sequence number. Retrying
    /// with the same id returns the first write's number.
    pub fn journal_append(&self, e: &JournalEntry) -> Result<i64, RegistryError> {
        let lock = format!("journal/{}/{}", e.env, e.deployment);
        let outputs = e.outputs.as_ref().map(|o| o.to_string());
        self.tx(Some(&lock), |db| {
            if let Some(seq) = db.scalar("SELECT seq FROM journal WHERE id = ?", &[(&e.id).into()])? {
                return Ok(seq);
            }
            let seq = db
                .scalar(
                    "SELECT MAX(seq) FROM journal WHERE env = ? AND deployment = ?",
                    &[(&e.env).into(), (&e.deployment).into()],
                )?
                .unwrap_or(0)
                + 1;
            db.exec(
                "INSERT INTO journal (id, env, deployment, seq, run_id, action_id, stage, component, driver, action, resource, outputs, detail, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&e.id).into(),
                    (&e.env).into(),
                    (&e.deployment).into(),
                    seq.into(),
                    e.run_id.clone().into(),
                    (&e.action_id).into(),
                    e.stage.as_str().into(),
                    (&e.component).into(),
                    (&e.driver).into(),
                    (&e.action).into(),
                    (&e.resource).into(),
                    outputs.clone().into(),
                    e.detail.clone().into(),
                    now_us().into(),
                ],
            )?;
            Ok(seq)
        })
    }

    /// A deployment's journal in order.
    pub fn journal(&self, env: &str, deployment: &str) -> Result<Vec<JournalRow>, RegistryError> {
        self.with(|db| {
            db.rows(
                "SELECT seq, id, env, deployment, run_id, action_id, stage, component, driver, action, resource, outputs, detail, at_us FROM journal WHERE env = ? AND deployment = ? ORDER BY seq",
                &[env.into(), deployment.into()],
                |r| JournalRow {
                    seq: r.int(0).unwrap_or(0),
                    entry: JournalEntry {
                        id: r.string(1),
                        env: r.string(2),
                        deployment: r.string(3),
                        run_id: r.text(4).map(str::to_string),
                        action_id: r.string(5),
                        stage: Stage::parse(r.text(6).unwrap_or_default()),
                        component: r.string(7),
                        driver: r.string(8),
                        action: r.string(9),
                        resource: r.string(10),
                        outputs: r.text(11).and_then(|t| serde_json::from_str(t).ok()),
                        detail: r.text(12).map(str::to_string),
                    },
                    at_us: r.int(13).unwrap_or(0),
                },
            )
        })
    }

    /// Takes the lease on a deployment for `ttl_s` seconds. Refused, naming
    /// the holder, while someone else holds it; an expired lease is recorded
    /// as expired and taken over.
    pub fn lease_acquire(
        &self,
        env: &str,
        deployment: &str,
        holder: &str,
        ttl_s: i64,
    ) -> Result<Lease, RegistryError> {
        let lock = format!("lease/{env}/{deployment}");
        self.tx(Some(&lock), |db| {
            let now = now_us();
            if let Some(current) = lease_state(db, env, deployment, now)? {
                if current.state == "held" {
                    return Err(RegistryError::LeaseHeld {
                        env: env.into(),
                        deployment: deployment.into(),
                        holder: current.holder,
                        lease_id: current.lease_id,
                        expires: format_utc(current.expires_us),
                    });
                }
                if current.state == "expired" {
                    insert_lease_event(
                        db,
                        env,
                        deployment,
                        &current.lease_id,
                        "expire",
                        &current.holder,
                        None,
                        None,
                        None,
                        now,
                    )?;
                }
            }
            let lease = Lease {
                env: env.into(),
                deployment: deployment.into(),
                lease_id: new_id(),
                holder: holder.into(),
                expires_us: now + ttl_s * 1_000_000,
            };
            insert_lease_event(
                db,
                env,
                deployment,
                &lease.lease_id,
                "acquire",
                holder,
                Some(lease.expires_us),
                None,
                None,
                now,
            )?;
            Ok(lease)
        })
    }

    /// Takes over a lease whose holder is known to be gone (a process on
    /// this machine that no longer runs): the old lease is recorded as
    /// expired with that reason, then a new one is acquired. Refused if the
    /// lease changed hands meanwhile.
    pub fn lease_take_over_abandoned(
        &self,
        env: &str,
        deployment: &str,
        abandoned_holder: &str,
        holder: &str,
        ttl_s: i64,
    ) -> Result<Lease, RegistryError> {
        let lock = format!("lease/{env}/{deployment}");
        self.tx(Some(&lock), |db| {
            let now = now_us();
            if let Some(current) = lease_state(db, env, deployment, now)?
                && (current.state == "held" || current.state == "expired")
            {
                if current.holder != abandoned_holder {
                    return Err(RegistryError::LeaseHeld {
                        env: env.into(),
                        deployment: deployment.into(),
                        holder: current.holder,
                        lease_id: current.lease_id,
                        expires: format_utc(current.expires_us),
                    });
                }
                insert_lease_event(
                    db,
                    env,
                    deployment,
                    &current.lease_id,
                    "expire",
                    &current.holder,
                    None,
                    Some(holder),
                    Some("the holder process is no longer running on this machine"),
                    now,
                )?;
            }
            let lease = Lease {
                env: env.into(),
                deployment: deployment.into(),
                lease_id: new_id(),
                holder: holder.into(),
                expires_us: now + ttl_s * 1_000_000,
            };
            insert_lease_event(
                db,
                env,
                deployment,
                &lease.lease_id,
                "acquire",
                holder,
                Some(lease.expires_us),
                None,
                None,
                now,
            )?;
            Ok(lease)
        })
    }

    /// The id `auto` would reserve now, without reserving it.
    pub fn next_auto(
        &self,
        env: &str,
        today: Option<(u8, u8, u8)>,
    ) -> Result<BuildId, RegistryError> {
        let (d, m, y) = today.unwrap_or_else(time::today_utc);
        let first = BuildId::new(d, m, y, 1).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let max = self
            .with(|db| {
                db.scalar(
                    "SELECT MAX(seq) FROM reservations WHERE env = ? AND date_prefix = ?",
                    &[env.into(), first.date_prefix().into()],
                )
            })?
            .unwrap_or(0);
        if max >= 99 {
            return Err(RegistryError::AutoExhausted {
                env: env.into(),
                date: first.date_prefix(),
            });
        }
        first
            .with_seq(u8::try_from(max + 1).unwrap_or(99))
            .map_err(|e| RegistryError::Invalid(e.to_string()))
    }

    /// Extends our lease. Fails if it was lost (expired and taken, or
    /// force-unlocked).
    pub fn lease_renew(&self, lease: &Lease, ttl_s: i64) -> Result<Lease, RegistryError> {
        let lock = format!("lease/{}/{}", lease.env, lease.deployment);
        self.tx(Some(&lock), |db| {
            let now = now_us();
            let current = lease_state(db, &lease.env, &lease.deployment, now)?;
            match current {
                Some(c)
                    if c.lease_id == lease.lease_id
                        && (c.state == "held" || c.state == "expired") =>
                {
                    let mut renewed = lease.clone();
                    renewed.expires_us = now + ttl_s * 1_000_000;
                    insert_lease_event(
                        db,
                        &lease.env,
                        &lease.deployment,
                        &lease.lease_id,
                        "renew",
                        &lease.holder,
                        Some(renewed.expires_us),
                        None,
                        None,
                        now,
                    )?;
                    Ok(renewed)
                }
                Some(c) => Err(RegistryError::LeaseLost {
                    env: lease.env.clone(),
                    deployment: lease.deployment.clone(),
                    why: if c.lease_id == lease.lease_id {
                        format!("it was {}", c.state.replace('_', "-"))
                    } else {
                        format!("{} holds it now", c.holder)
                    },
                }),
                None => Err(RegistryError::LeaseLost {
                    env: lease.env.clone(),
                    deployment: lease.deployment.clone(),
                    why: "no lease is recorded".into(),
                }),
            }
        })
    }

    /// Releases our lease (a lease already lost is left alone).
    pub fn lease_release(&self, lease: &Lease) -> Result<(), RegistryError> {
        let lock = format!("lease/{}/{}", lease.env, lease.deployment);
        self.tx(Some(&lock), |db| {
            let now = now_us();
            if let Some(c) = lease_state(db, &lease.env, &lease.deployment, now)?
                && c.lease_id == lease.lease_id
                && (c.state == "held" || c.state == "expired")
            {
                insert_lease_event(
                    db,
                    &lease.env,
                    &lease.deployment,
                    &lease.lease_id,
                    "release",
                    &lease.holder,
                    None,
                    None,
                    None,
                    now,
                )?;
            }
            Ok(())
        })
    }

    /// Forcibly ends whatever lease a deployment has, recording who and why
    /// (as a lease event and an override). Returns the lease that was ended.
    pub fn lease_force_unlock(
        &self,
        env: &str,
        deployment: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Option<LeaseState>, RegistryError> {
        if reason.trim().is_empty() {
            return Err(RegistryError::Invalid(
                "a forced unlock needs a reason".into(),
            ));
        }
        let lock = format!("lease/{env}/{deployment}");
        self.tx(Some(&lock), |db| {
            let now = now_us();
            let Some(current) = lease_state(db, env, deployment, now)? else {
                return Ok(None);
            };
            if current.state != "held" && current.state != "expired" {
                return Ok(None);
            }
            insert_lease_event(
                db,
                env,
                deployment,
                &current.lease_id,
                "force_unlock",
                &current.holder,
                None,
                Some(actor),
                Some(reason),
                now,
            )?;
            insert_override(
                db,
                &Override {
                    id: new_id(),
                    env: env.into(),
                    deployment: Some(deployment.into()),
                    kind: "lease-force-unlock".into(),
                    subject: format!("lease {} held by {}", current.lease_id, current.holder),
                    actor: actor.into(),
                    reason: reason.into(),
                    at_us: now,
                },
            )?;
            Ok(Some(current))
        })
    }

    /// The current lease state of every deployment (of `env`) that ever had
    /// one.
    pub fn leases(&self, env: Option<&str>) -> Result<Vec<LeaseState>, RegistryError> {
        let now = now_us();
        self.with(|db| {
            let keys = match env {
                Some(e) => db.rows(
                    "SELECT DISTINCT env, deployment FROM lease_events WHERE env = ? ORDER BY env, deployment",
                    &[e.into()],
                    |r| (r.string(0), r.string(1)),
                )?,
                None => db.rows(
                    "SELECT DISTINCT env, deployment FROM lease_events ORDER BY env, deployment",
                    &[],
                    |r| (r.string(0), r.string(1)),
                )?,
            };
            let mut out = Vec::new();
            for (e, d) in keys {
                if let Some(s) = lease_state(db, &e, &d, now)? {
                    out.push(s);
                }
            }
            Ok(out)
        })
    }

    /// The lease state of one deployment.
    pub fn lease(&self, env: &str, deployment: &str) -> Result<Option<LeaseState>, RegistryError> {
        self.with(|db| lease_state(db, env, deployment, now_us()))
    }

    /// Records an override.
    pub fn record_override(&self, o: &Override) -> Result<(), RegistryError> {
        if o.reason.trim().is_empty() || o.actor.trim().is_empty() {
            return Err(RegistryError::Invalid(
                "an override needs an actor and a reason".into(),
            ));
        }
        self.with(|db| insert_override(db, o))
    }

    /// Overrides of an environment (and deployment), oldest first.
    pub fn overrides(
        &self,
        env: &str,
        deployment: Option<&str>,
    ) -> Result<Vec<Override>, RegistryError> {
        let map = |r: &dyn db::Row| Override {
            id: r.string(0),
            env: r.string(1),
            deployment: r.text(2).map(str::to_string),
            kind: r.string(3),
            subject: r.string(4),
            actor: r.string(5),
            reason: r.string(6),
            at_us: r.int(7).unwrap_or(0),
        };
        self.with(|db| match deployment {
            Some(d) => db.rows(
                "SELECT id, env, deployment, kind, subject, actor, reason, at_us FROM overrides WHERE env = ? AND deployment = ? ORDER BY at_us, id",
                &[env.into(), d.into()],
                map,
            ),
            None => db.rows(
                "SELECT id, env, deployment, kind, subject, actor, reason, at_us FROM overrides WHERE env = ? ORDER BY at_us, id",
                &[env.into()],
                map,
            ),
        })
    }

    /// Records a request event.
    pub fn record_request(&self, ev: &RequestEvent) -> Result<(), RegistryError> {
        let detail = ev.detail.as_ref().map(|d| d.to_string());
        self.with(|db| {
            db.exec(
                "INSERT INTO request_events (id, request_id, kind, env, event, actor, detail, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                &[
                    (&ev.id).into(),
                    (&ev.request_id).into(),
                    (&ev.kind).into(),
                    (&ev.env).into(),
                    (&ev.event).into(),
                    (&ev.actor).into(),
                    detail.clone().into(),
                    ev.at_us.into(),
                ],
            )
        })?;
        Ok(())
    }

    /// Request events (of one request), oldest first.
    pub fn request_events(
        &self,
        request_id: Option<&str>,
    ) -> Result<Vec<RequestEvent>, RegistryError> {
        let map = |r: &dyn db::Row| RequestEvent {
            id: r.string(0),
            request_id: r.string(1),
            kind: r.string(2),
            env: r.string(3),
            event: r.string(4),
            actor: r.string(5),
            detail: r.text(6).and_then(|t| serde_json::from_str(t).ok()),
            at_us: r.int(7).unwrap_or(0),
        };
        self.with(|db| match request_id {
            Some(id) => db.rows(
                "SELECT id, request_id, kind, env, event, actor, detail, at_us FROM request_events WHERE request_id = ? ORDER BY at_us, id",
                &[id.into()],
                map,
            ),
            None => db.rows(
                "SELECT id, request_id, kind, env, event, actor, detail, at_us FROM request_events ORDER BY at_us, id",
                &[],
                map,
            ),
        })
    }

    /// Checks the ledger's own invariants.
    pub fn verify(&self) -> Result<Vec<Breach>, RegistryError> {
        self.with(verify::verify)
    }

    pub(crate) fn with_db<R>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        self.with(f)
    }

    pub(crate) fn insert_imported_phase(&self, p: &Phase) -> Result<bool, RegistryError> {
        self.tx(Some("import"), |db| {
            let exists = db.scalar(
                "SELECT COUNT(*) FROM phase_events WHERE kind = 'end' AND env = ? AND build_id = ? AND phase = ? AND started_us = ? AND ended_us = ?",
                &[(&p.env).into(), (&p.build_id).into(), (&p.phase).into(), p.started_us.into(), p.ended_us.into()],
            )?;
            if exists.unwrap_or(0) > 0 {
                return Ok(false);
            }
            insert_phase(db, p, "start", "import")?;
            insert_phase(db, p, "end", "import")?;
            Ok(true)
        })
    }
}

fn insert_reservation(
    db: &mut dyn Db,
    req: &ReserveRequest<'_>,
    build: BuildId,
    generation: i64,
    reason: Option<&str>,
    now: i64,
) -> Result<Reservation, RegistryError> {
    db.exec(
        "INSERT INTO reservations (id, env, build_id, date_prefix, seq, generation, actor, reason, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            new_id().into(),
            req.env.into(),
            build.to_string().into(),
            build.date_prefix().into(),
            i64::from(build.seq()).into(),
            generation.into(),
            req.actor.into(),
            reason.into(),
            now.into(),
        ],
    )?;
    Ok(Reservation {
        env: req.env.into(),
        build_id: build,
        generation,
        new: true,
        actor: req.actor.into(),
        at_us: now,
        reason: reason.map(str::to_string),
    })
}

fn insert_override(db: &mut dyn Db, o: &Override) -> Result<(), RegistryError> {
    db.exec(
        "INSERT INTO overrides (id, env, deployment, kind, subject, actor, reason, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        &[
            (&o.id).into(),
            (&o.env).into(),
            o.deployment.clone().into(),
            (&o.kind).into(),
            (&o.subject).into(),
            (&o.actor).into(),
            (&o.reason).into(),
            o.at_us.into(),
        ],
    )?;
    Ok(())
}

fn insert_phase(db: &mut dyn Db, p: &Phase, kind: &str, source: &str) -> Result<(), RegistryError> {
    let ended = if kind == "end" { p.ended_us } else { None };
    let duration = if kind == "end" { p.duration_ms() } else { None };
    let exit = if kind == "end" { p.exit_code } else { None };
    db.exec(
        "INSERT INTO phase_events (id, phase_run, kind, env, deployment, build_id, phase, component, started_us, ended_us, duration_ms, exit_code, added, changed, destroyed, flags, log_path, run_url, actor, commit_sha, source, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        &[
            format!("{}:{kind}", p.run).into(),
            (&p.run).into(),
            kind.into(),
            (&p.env).into(),
            (&p.deployment).into(),
            (&p.build_id).into(),
            (&p.phase).into(),
            p.component.clone().into(),
            p.started_us.into(),
            ended.into(),
            duration.into(),
            exit.into(),
            if kind == "end" { p.added } else { None }.into(),
            if kind == "end" { p.changed } else { None }.into(),
            if kind == "end" { p.destroyed } else { None }.into(),
            p.flags.clone().into(),
            p.log_path.clone().into(),
            p.run_url.clone().into(),
            p.actor.clone().into(),
            p.commit_sha.clone().into(),
            source.into(),
            now_us().into(),
        ],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_lease_event(
    db: &mut dyn Db,
    env: &str,
    deployment: &str,
    lease_id: &str,
    kind: &str,
    holder: &str,
    expires_us: Option<i64>,
    actor: Option<&str>,
    reason: Option<&str>,
    now: i64,
) -> Result<(), RegistryError> {
    db.exec(
        "INSERT INTO lease_events (id, env, deployment, lease_id, kind, holder, expires_us, actor, reason, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            new_id().into(),
            env.into(),
            deployment.into(),
            lease_id.into(),
            kind.into(),
            holder.into(),
            expires_us.into(),
            actor.into(),
            reason.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// Replays a deployment's lease events into its current state.
fn lease_state(
    db: &mut dyn Db,
    env: &str,
    deployment: &str,
    now: i64,
) -> Result<Option<LeaseState>, RegistryError> {
    let events = db.rows(
        "SELECT lease_id, kind, holder, expires_us, actor, reason, at_us FROM lease_events WHERE env = ? AND deployment = ? ORDER BY at_us, id",
        &[env.into(), deployment.into()],
        |r| (r.string(0), r.string(1), r.string(2), r.int(3), r.text(4).map(str::to_string), r.text(5).map(str::to_string), r.int(6).unwrap_or(0)),
    )?;
    let mut state: Option<LeaseState> = None;
    for (lease_id, kind, holder, expires, actor, reason, at) in events {
        match kind.as_str() {
            "acquire" => {
                state = Some(LeaseState {
                    env: env.into(),
                    deployment: deployment.into(),
                    lease_id,
                    holder,
                    acquired_us: at,
                    expires_us: expires.unwrap_or(at),
                    state: "held".into(),
                    ended_by: None,
                    reason: None,
                });
            }
            other => {
                if let Some(s) = state.as_mut().filter(|s| s.lease_id == lease_id) {
                    match other {
                        "renew" => s.expires_us = expires.unwrap_or(s.expires_us),
                        "release" => s.state = "released".into(),
                        "expire" => s.state = "expired".into(),
                        "force_unlock" => {
                            s.state = "force_unlocked".into();
                            s.ended_by = actor;
                            s.reason = reason;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some(s) = state.as_mut()
        && s.state == "held"
        && s.expires_us <= now
    {
        s.state = "expired".into();
    }
    Ok(state)
}

const MIGRATIONS_SQLITE: &[(i64, &str, &str)] = &[(
    1,
    "ledger",
    include_str!("migrations/sqlite/0001_ledger.sql"),
)];
const MIGRATIONS_POSTGRES: &[(i64, &str, &str)] = &[(
    1,
    "ledger",
    include_str!("migrations/postgres/0001_ledger.sql"),
)];

/// Applies embedded migrations not yet applied, under a lock so that two
/// processes opening a new registry at once do not both migrate.
fn migrate(db: &mut dyn Db) -> Result<(), RegistryError> {
    let migrations = match db.backend() {
        Backend::Sqlite => MIGRATIONS_SQLITE,
        Backend::Postgres => MIGRATIONS_POSTGRES,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = (|| {
            db.begin(Some("migrate"))?;
            db.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, at_us BIGINT NOT NULL)")?;
            let applied = db.rows("SELECT version FROM schema_migrations", &[], |r| {
                r.int(0).unwrap_or(0)
            })?;
            for (version, name, sql) in migrations {
                if applied.contains(version) {
                    continue;
                }
                tracing::info!("registry: applying migration {version:04} {name}");
                db.batch(sql)?;
                db.exec(
                    "INSERT INTO schema_migrations (version, name, at_us) VALUES (?, ?, ?)",
                    &[(*version).into(), (*name).into(), now_us().into()],
                )?;
            }
            db.commit()
        })();
        match result {
            Ok(()) => return Ok(()),
            Err(e) => {
                db.rollback();
                if !(e.retryable() && attempt < 20) {
                    return Err(e);
                }
            }
        }
    }
}

/// The latest applied migration, for diagnostics.
pub fn latest_migration() -> i64 {
    MIGRATIONS_SQLITE.iter().map(|m| m.0).max().unwrap_or(0)
}
