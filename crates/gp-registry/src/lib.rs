//! The registry: goldenpath's append-only governance ledger.
//!
//! It records build id reservations, deployments and their phases, the
//! action journal (each driver action before and after it runs), leases,
//! overrides and self-service requests. Rows are never updated or deleted —
//! the database itself rejects it with triggers, and on SQLite also a
//! `REPLACE` or an upsert — and current state (a build's status, who holds a
//! lease) is derived from the events. Every event carries an id chosen by
//! the writer, so a retried write is idempotent.
//!
//! Rows are tamper-evident ([`chain`]): each carries an HMAC chained to the
//! previous row of its stream, keyed with a registry key kept outside the
//! database. [`Registry::verify`] names any row inserted, replaced, deleted
//! or reordered behind goldenpath's back, and reading a deployment's journal
//! refuses a journal that does not check out.
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

pub mod chain;
mod checked;
mod csv_io;
mod db;
mod deployments;
mod governance;
mod id;
mod journal;
mod leases;
mod metrics;
mod migrate;
mod phases;
mod postgres;
mod report;
mod reservations;
mod sqlite;
mod stream;
mod time;
mod verify;

pub use chain::ChainKey;
pub use checked::Tampered;
pub(crate) use checked::{Heads, Trust};
pub use csv_io::{ImportOptions, ImportReport, RowProblem, export_csv, import_csv, layout, place};
pub use db::Backend;
use db::{Db, DbExt, Value};
pub use deployments::{
    BuildSummary, DeploymentEvent, DeploymentStatus, EventKind, Expiry, PullRequestRef, TAMPERED,
    is_lifecycle_event, status_from_event,
};
pub use governance::{Override, RequestEvent};
pub use id::new_id;
pub use journal::{JournalEntry, JournalRow, Stage};
pub use leases::{Lease, LeaseState};
pub use metrics::{DeliveryMetrics, delivery_metrics};
pub use phases::{ImportedRow, Outcomes, Phase, PhaseResult};
pub use report::{PhaseStats, kind_of, report, report_kept};
pub use reservations::{Reservation, ReserveRequest};
pub use stream::{StreamItem, parse_cursor};
pub use time::{format_utc, now_us, parse_utc};
pub use verify::Breach;

mod write;
pub(crate) use write::*;

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
        build_id: gp_core::BuildId,
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
    /// The registry key is missing, unreadable or does not fit.
    #[error("{0}")]
    Key(String),
    /// A row does not check out against the chain: the registry was changed
    /// behind goldenpath's back. Nothing that relies on it runs.
    #[error("the registry was tampered with: {table} row `{id}` {why}")]
    Tampered {
        /// The table.
        table: String,
        /// The row's id.
        id: String,
        /// What is wrong with it.
        why: String,
    },
    /// The registry file is there but holds nothing, or is gone although
    /// this state directory used one.
    #[error("{0}")]
    Missing(String),
    /// A required value is missing or out of bounds (e.g. an override
    /// without a reason, a 10 MB phase name).
    #[error("{0}")]
    Invalid(String),
}

impl RegistryError {
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

    /// The key file of a SQLite registry (`registry.key` beside
    /// `registry.db`).
    pub fn key_file(&self) -> Option<PathBuf> {
        match self {
            Location::Sqlite(p) => Some(p.with_extension("key")),
            Location::Postgres(_) => None,
        }
    }

    /// The head file of a SQLite registry (`registry.head`).
    pub fn head_file(&self) -> Option<PathBuf> {
        match self {
            Location::Sqlite(p) => Some(p.with_extension("head")),
            Location::Postgres(_) => None,
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

/// How to open the registry.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// The chain key. For SQLite it defaults to the key file beside the
    /// database (created with a new registry); PostgreSQL needs it given.
    pub key: Option<ChainKey>,
    /// Only read: a registry that does not exist yet reads as empty and
    /// is not created, and no key is required.
    pub read_only: bool,
}

/// The ledger.
pub struct Registry {
    db: Mutex<Box<dyn Db>>,
    location: Location,
    key: Option<ChainKey>,
    heads: Option<chain::HeadFile>,
    /// What rows are checked against: the seal of rows from before
    /// chaining, the head file as it was when the registry was opened.
    trust: Trust,
    /// HMACs of phase starts this process wrote, by phase run: the end
    /// chains to its start without reading it back.
    phase_starts: Mutex<std::collections::HashMap<String, String>>,
    /// Commits this process made (a cached read is fresh only while this
    /// and the database's own change counter stay put).
    writes: std::sync::atomic::AtomicI64,
    /// This process's writes that may have added journal rows: a kept
    /// journal read stands through the others (a lease, a phase).
    journal_writes: std::sync::atomic::AtomicI64,
    /// Each environment's reservations as last read through the chain.
    reservation_cache: Mutex<reservations::ReservationCache>,
    /// Deployments' journals as last read through the chain.
    journal_cache: Mutex<journal::JournalCache>,
    /// A second connection to a SQLite file, for [`Self::generation`].
    watch: Mutex<Option<sqlite::Sqlite>>,
    /// Each environment's whole report as last read (a server's).
    report_cache: Mutex<report::ReportCache>,
    warnings: Vec<String>,
}

impl Registry {
    /// Opens (creating and migrating if needed) the registry, with the
    /// default key (see [`OpenOptions::key`]).
    pub fn open(location: &Location) -> Result<Registry, RegistryError> {
        Self::open_with(location, &OpenOptions::default())
    }

    /// Opens the registry.
    pub fn open_with(location: &Location, opts: &OpenOptions) -> Result<Registry, RegistryError> {
        let mut key = opts.key.clone();
        let mut heads = None;
        let mut fresh = false;
        let mut creating: Option<std::fs::File> = None;
        let mut db: Box<dyn Db> = match location {
            Location::Sqlite(path) => {
                let head_path = location.head_file().unwrap_or_default();
                // Opening is serialised with other processes opening the
                // same file: a registry being created is a zero-length file
                // for a moment, which must not read as an emptied one.
                let empty = std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
                if !opts.read_only || empty {
                    creating = Some(open_lock(path)?);
                }
                match std::fs::metadata(path) {
                    Ok(m) if m.len() == 0 => {
                        return Err(RegistryError::Missing(format!(
                            "the registry {} is an empty file: it was truncated or replaced (a new registry is never an empty file); restore it from a backup, or remove it to start a new ledger",
                            path.display()
                        )));
                    }
                    Ok(_) => {}
                    Err(_) if head_path.exists() => {
                        return Err(RegistryError::Missing(format!(
                            "the registry {} is gone, but {} shows this state directory wrote one: restore it, or remove the head file to start a new ledger",
                            path.display(),
                            head_path.display()
                        )));
                    }
                    Err(_) if opts.read_only => {
                        // Nothing recorded yet: read an empty ledger, and
                        // create nothing.
                        let mut db: Box<dyn Db> = Box::new(sqlite::Sqlite::memory()?);
                        migrate::migrate(db.as_mut(), None)?;
                        return Ok(Registry {
                            db: Mutex::new(db),
                            location: location.clone(),
                            key: None,
                            heads: None,
                            trust: Trust::default(),
                            phase_starts: Mutex::default(),
                            writes: Default::default(),
                            journal_writes: Default::default(),
                            reservation_cache: Mutex::default(),
                            journal_cache: Mutex::default(),
                            watch: Mutex::default(),
                            report_cache: Mutex::default(),
                            warnings: Vec::new(),
                        });
                    }
                    Err(_) => fresh = true,
                }
                if let Some(kf) = location.key_file()
                    && let Some(on_disk) = ChainKey::read_file(&kf)?
                {
                    if key.as_ref().is_some_and(|k| *k != on_disk) {
                        return Err(RegistryError::Key(format!(
                            "the registry key given does not match {}, the key this registry was written with",
                            kf.display()
                        )));
                    }
                    key = Some(on_disk);
                }
                heads = Some(chain::HeadFile::new(head_path));
                Box::new(sqlite::Sqlite::open(path)?)
            }
            Location::Postgres(url) => {
                if key.is_none() && !opts.read_only {
                    return Err(RegistryError::Key(
                        "a shared PostgreSQL registry needs its chain key, the same on every runner"
                            .into(),
                    ));
                }
                Box::new(postgres::Postgres::connect(url)?)
            }
        };
        if key.is_none()
            && !opts.read_only
            && let (Location::Sqlite(_), Some(kf)) = (location, location.key_file())
        {
            if fresh || migrate::is_empty(db.as_mut())? {
                key = Some(ChainKey::create_file(&kf)?);
            } else {
                return Err(RegistryError::Key(format!(
                    "the registry key {} is missing, but the registry holds rows: without it nothing can be appended or verified; restore the key file",
                    kf.display()
                )));
            }
        }
        migrate::migrate(db.as_mut(), key.as_ref())?;
        drop(creating);
        let legacy = migrate::legacy_counts(db.as_mut())?;
        let warnings = migrate::warnings(db.as_mut())?;
        // The head file must be there, and be the generation the registry
        // last anchored: a deleted or older one is tampering.
        let (known_heads, head_problem) = match (&heads, &key) {
            (Some(h), Some(k)) => {
                if fresh {
                    h.create(k).map_err(RegistryError::Invalid)?;
                }
                checked::judge_heads(db.as_mut(), k, h)?
            }
            _ => (BTreeMap::new(), None),
        };
        Ok(Registry {
            db: Mutex::new(db),
            location: location.clone(),
            key,
            trust: Trust {
                legacy,
                known_heads,
                head_problem,
                head_path: heads.as_ref().map(|h| h.path().to_path_buf()),
                sealed_ok: Default::default(),
            },
            heads,
            phase_starts: Mutex::default(),
            writes: Default::default(),
            journal_writes: Default::default(),
            reservation_cache: Mutex::default(),
            journal_cache: Mutex::default(),
            watch: Mutex::default(),
            report_cache: Mutex::default(),
            warnings,
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

    /// Things the person running goldenpath should know (e.g. connected to
    /// a shared registry as the owner of its tables).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether rows can be checked (the chain key is known).
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    pub(crate) fn reservation_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, reservations::ReservationCache> {
        self.reservation_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn journal_cache(&self) -> std::sync::MutexGuard<'_, journal::JournalCache> {
        self.journal_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn report_cache(&self) -> std::sync::MutexGuard<'_, report::ReportCache> {
        self.report_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What any change to the registry moves, for a reader that keeps
    /// what it derived from it (a server's pages): on SQLite the
    /// database's `data_version` (any other connection's commit, a row
    /// forged behind goldenpath's back too) and this process's own
    /// writes. `None` on PostgreSQL, where nothing this cheap tells every
    /// change: nothing derived is kept there.
    pub fn generation(&self) -> Result<Option<[i64; 2]>, RegistryError> {
        // Told by the location, not by asking the registry's connection:
        // a reader asking never waits behind a long read of it.
        let Location::Sqlite(path) = &self.location else {
            return Ok(None);
        };
        let own = self.own_writes();
        // Read on a connection of its own when the file exists.
        if path.exists() {
            let mut watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
            if watch.is_none() {
                *watch = Some(sqlite::Sqlite::open_watch(path)?);
            }
            if let Some(db) = watch.as_mut() {
                let version = db.scalar("PRAGMA data_version", &[])?;
                return Ok(Some([version.unwrap_or(0), own]));
            }
        }
        let version = self.with(|db| db.scalar("PRAGMA data_version", &[]))?;
        Ok(Some([version.unwrap_or(0), own]))
    }

    pub(crate) fn own_writes(&self) -> i64 {
        self.writes.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn wrote(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.journal_writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// A committed write whose appended rows are `pending`: counted as a
    /// journal write only when it appended to the journal.
    pub(crate) fn wrote_rows(&self, pending: &chain::PendingHeads) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if pending
            .iter()
            .any(|(k, _)| chain::is_head_of(k, chain::JOURNAL.name))
        {
            self.journal_writes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub(crate) fn own_journal_writes(&self) -> i64 {
        self.journal_writes
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn phase_starts(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.phase_starts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut guard = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(guard.as_mut())
    }

    /// The connection itself, for what may write outside [`Self::tx`]:
    /// counted as a write, so nothing read before is taken as fresh.
    pub(crate) fn with_db<R>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let r = self.with(f);
        self.wrote();
        r
    }

    /// Runs `f` in a write transaction, retrying when another writer got in
    /// the way (busy, or a uniqueness race on a derived value). With
    /// `lock`, writers holding the same key are serialised.
    pub(crate) fn tx<R>(
        &self,
        lock: Option<&str>,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let key = self.key.as_ref();
            let result = self.with(|db| {
                db.begin(lock)?;
                let mut tx = Tx {
                    db,
                    key,
                    trust: &self.trust,
                    pending: Vec::new(),
                };
                match f(&mut tx) {
                    Ok(v) => {
                        let pending = std::mem::take(&mut tx.pending);
                        match tx.db.commit() {
                            Ok(()) => Ok((v, pending)),
                            Err(e) => {
                                tx.db.rollback();
                                Err(e)
                            }
                        }
                    }
                    Err(e) => {
                        tx.db.rollback();
                        Err(e)
                    }
                }
            });
            match result {
                Ok((v, pending)) => {
                    self.wrote_rows(&pending);
                    if let Some(h) = &self.heads {
                        h.note(pending);
                    }
                    return Ok(v);
                }
                Err(e) if e.retryable() && attempt < 50 => {
                    tracing::debug!("registry transaction retried ({attempt}): {e}");
                    std::thread::yield_now();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks the ledger: the chain of every row, the head file and its
    /// anchor, and the ledger's own invariants.
    pub fn verify(&self) -> Result<Vec<Breach>, RegistryError> {
        let Some(key) = self.key.as_ref() else {
            return Err(RegistryError::Key(
                "verifying the registry needs its chain key".into(),
            ));
        };
        self.with(|db| {
            // Judged again: the file as it is now.
            let heads = match &self.heads {
                Some(h) => Some(checked::judge_heads(db, key, h)?),
                None => None,
            };
            verify::verify(db, key, &self.trust.legacy, heads)
        })
    }

    /// Writes the head file now (it is also written when the registry is
    /// dropped), and anchors it in the registry.
    pub fn flush(&self) -> Result<(), RegistryError> {
        self.flush_heads().map_err(RegistryError::Invalid)
    }

    fn flush_heads(&self) -> Result<(), String> {
        let (Some(h), Some(k)) = (&self.heads, &self.key) else {
            return Ok(());
        };
        h.flush(k, &|generation, mac| {
            self.with(|db| {
                if generation < 0 {
                    return Ok(db
                        .scalar("SELECT MAX(generation) FROM head_anchors", &[])?
                        .unwrap_or(0));
                }
                db.exec(
                    "INSERT INTO head_anchors (generation, mac, at_us) VALUES (?, ?, ?)",
                    &[
                        generation.into(),
                        chain::anchor_mac(k, generation, mac).into(),
                        now_us().into(),
                    ],
                )?;
                Ok(generation)
            })
            .map_err(|e| e.to_string())
        })
    }

    /// PostgreSQL: grants a runner role what goldenpath needs and nothing
    /// more (`SELECT` and `INSERT` on the ledger's tables). Run as the owner.
    pub fn grant_runner(&self, role: &str) -> Result<(), RegistryError> {
        migrate::grant_runner(self, role)
    }
}

/// Takes the lock that serialises opening (and so creating and migrating) a
/// SQLite registry: `registry.lock` beside it.
fn open_lock(path: &std::path::Path) -> Result<std::fs::File, RegistryError> {
    let lock_path = path.with_extension("lock");
    if let Some(parent) = lock_path.parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| RegistryError::Db {
            backend: "sqlite",
            message: format!("cannot open {}: {e}", lock_path.display()),
            retryable: false,
            conflict: false,
        })?;
    f.lock().map_err(|e| RegistryError::Db {
        backend: "sqlite",
        message: format!("cannot lock {}: {e}", lock_path.display()),
        retryable: true,
        conflict: false,
    })?;
    Ok(f)
}

impl Registry {
    /// Closes the registry of a process that exits next, as dropping it
    /// closes it (the head file written and anchored, the connection
    /// closed, SQLite's last checkpoint taken), but the reads it kept (a
    /// deployment's whole journal, thousands of rows) are not freed value
    /// by value: the system takes the process's memory back whole at
    /// exit. A teardown of 1,000 DNS records spent about a millisecond
    /// freeing them, and after a driver's child process was forked every
    /// page written again first faulted (BENCHMARKS.md, issue 40).
    pub fn close_at_exit(self) {
        std::mem::forget(std::mem::take(&mut *self.journal_cache()));
        std::mem::forget(std::mem::take(&mut *self.reservation_cache()));
        std::mem::forget(std::mem::take(&mut *self.report_cache()));
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Err(e) = self.flush_heads() {
            tracing::warn!("registry head file: {e}");
        }
    }
}
