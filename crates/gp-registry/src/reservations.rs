//! Build id reservations: atomic, unique per environment, retired once torn
//! down.

use std::collections::HashMap;
use std::sync::Arc;

use gp_core::{BuildId, BuildIdArg};
use serde::Serialize;

use crate::chain::{DEPLOYMENT_EVENTS, RESERVATIONS};
use crate::db::{DbExt, Named, Row as DbRow, Value};
use crate::governance::Override;
use crate::{Heads, Registry, RegistryError, Tx, new_id, now_us, time};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// A reservation row as read.
struct Row {
    build_id: String,
    date_prefix: String,
    seq: i64,
    generation: i64,
    actor: String,
    reason: Option<String>,
    at_us: i64,
}

/// An environment's reservations, every row checked against its chain
/// (one stream per environment): a tampered stream is an error.
pub(crate) struct EnvReservations(Vec<Row>);

impl EnvReservations {
    fn read(
        env: &str,
        reader: impl FnOnce(
            &str,
            &[Value],
            Heads<'_>,
            &mut dyn FnMut(&dyn DbRow) -> Result<(), RegistryError>,
        ) -> Result<(), RegistryError>,
    ) -> Result<Self, RegistryError> {
        let mut rows = Vec::new();
        reader("env = ?", &[env.into()], Heads::Stream(env), &mut |r| {
            let r = Named(r);
            rows.push(Row {
                build_id: r.string("build_id"),
                date_prefix: r.string("date_prefix"),
                seq: r.int("seq").unwrap_or(0),
                generation: r.int("generation").unwrap_or(1),
                actor: r.string("actor"),
                reason: r.text("reason"),
                at_us: r.int("at_us").unwrap_or(0),
            });
            Ok(())
        })?;
        Ok(EnvReservations(rows))
    }

    /// The id `auto` takes next for `today`.
    fn next_free(&self, today: Option<(u8, u8, u8)>) -> Result<BuildId, RegistryError> {
        let (d, m, y) = today.unwrap_or_else(time::today_utc);
        let first = BuildId::new(d, m, y, 1).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let prefix = first.date_prefix();
        let max = self
            .0
            .iter()
            .filter(|r| r.date_prefix == prefix)
            .map(|r| r.seq)
            .max()
            .unwrap_or(0);
        if max >= 99 {
            return Err(RegistryError::AutoExhausted {
                env: String::new(),
                date: prefix,
            });
        }
        first
            .with_seq(u8::try_from(max + 1).unwrap_or(99))
            .map_err(|e| RegistryError::Invalid(e.to_string()))
    }

    /// The latest reservation of `build`.
    fn latest(&self, env: &str, build: BuildId) -> Option<Reservation> {
        let id = build.to_string();
        self.0
            .iter()
            .filter(|r| r.build_id == id)
            .max_by_key(|r| r.generation)
            .map(|r| Reservation {
                env: env.into(),
                build_id: build,
                generation: r.generation,
                new: false,
                actor: r.actor.clone(),
                at_us: r.at_us,
                reason: r.reason.clone(),
            })
    }
}

fn exhausted_in(env: &str, e: RegistryError) -> RegistryError {
    match e {
        RegistryError::AutoExhausted { date, .. } => RegistryError::AutoExhausted {
            env: env.into(),
            date,
        },
        other => other,
    }
}

fn insert(
    tx: &mut Tx<'_>,
    req: &ReserveRequest<'_>,
    build: BuildId,
    generation: i64,
    reason: Option<&str>,
    now: i64,
) -> Result<Reservation, RegistryError> {
    tx.append(
        &RESERVATIONS,
        vec![
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

impl Registry {
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
        self.tx(Some(&lock), |tx| {
            let now = now_us();
            let reservations = EnvReservations::read(req.env, |filter, params, scope, f| {
                tx.streams_trusted(&RESERVATIONS, filter, params, scope, f)
            })?;
            let build = match req.build {
                BuildIdArg::Id(b) => b,
                BuildIdArg::Auto => {
                    let next = reservations
                        .next_free(req.today)
                        .map_err(|e| exhausted_in(req.env, e))?;
                    return insert(tx, req, next, 1, None, now);
                }
            };
            let Some(existing) = reservations.latest(req.env, build) else {
                return insert(tx, req, build, 1, None, now);
            };
            // The build's last lifecycle event since this reservation,
            // from its checked stream.
            let stream = format!("{}\u{1f}{build}", req.env);
            let mut last: Option<(String, i64, String)> = None;
            tx.streams_trusted(
                &DEPLOYMENT_EVENTS,
                "env = ? AND deployment = ?",
                &[req.env.into(), build.to_string().into()],
                Heads::Stream(&stream),
                &mut |r| {
                    let r = Named(r);
                    let (event, at, id) = (
                        r.string("event"),
                        r.int("at_us").unwrap_or(0),
                        r.string("id"),
                    );
                    if at >= existing.at_us
                        && crate::is_lifecycle_event(&event)
                        && last.as_ref().is_none_or(|(_, a, i)| (*a, i) <= (at, &id))
                    {
                        last = Some((event, at, id));
                    }
                    Ok(())
                },
            )?;
            let last: Vec<(String, i64)> = last.into_iter().map(|(e, a, _)| (e, a)).collect();
            match last.first() {
                Some((event, torn_at)) if event == "torn_down" => match req.override_reason {
                    Some(why) => {
                        let generation = existing.generation + 1;
                        let r = insert(tx, req, build, generation, Some(why), now)?;
                        Override {
                            id: new_id(),
                            env: req.env.into(),
                            deployment: Some(build.to_string()),
                            kind: "build-id-reuse".into(),
                            subject: format!("build id {build} (generation {generation})"),
                            actor: req.actor.into(),
                            reason: why.into(),
                            at_us: now,
                        }
                        .append(tx)?;
                        Ok(r)
                    }
                    None => Err(RegistryError::BuildIdRetired {
                        env: req.env.into(),
                        build_id: build,
                        torn_down: time::format_utc(*torn_at),
                    }),
                },
                _ => Ok(existing),
            }
        })
    }

    /// The latest reservation of a build, if any (the environment's
    /// reservations checked against their chain).
    pub fn reservation(
        &self,
        env: &str,
        build: BuildId,
    ) -> Result<Option<Reservation>, RegistryError> {
        Ok(self.env_reservations(env)?.latest(env, build))
    }

    /// The id `auto` would reserve now, without reserving it.
    pub fn next_auto(
        &self,
        env: &str,
        today: Option<(u8, u8, u8)>,
    ) -> Result<BuildId, RegistryError> {
        self.env_reservations(env)?
            .next_free(today)
            .map_err(|e| exhausted_in(env, e))
    }

    /// An environment's reservations, read through the chain — once while
    /// nothing changed: a view asking for twenty builds' status reads the
    /// stream once, not twenty times. Whether anything changed is what
    /// the database says (SQLite's `data_version` and this process's own
    /// writes; on PostgreSQL, where no role but the owner may change a row,
    /// the stream's row count and last position).
    fn env_reservations(&self, env: &str) -> Result<Arc<EnvReservations>, RegistryError> {
        let fresh = self.freshness(env)?;
        if let Some((at, cached)) = self.reservation_cache().get(env)
            && *at == fresh
        {
            return Ok(cached.clone());
        }
        let read = Arc::new(EnvReservations::read(env, |filter, params, scope, f| {
            self.streams_trusted(&RESERVATIONS, filter, params, scope, f)
        })?);
        let mut cache = self.reservation_cache();
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(env.to_string(), (fresh, read.clone()));
        Ok(read)
    }

    fn freshness(&self, env: &str) -> Result<[i64; 3], RegistryError> {
        self.freshness_of("reservations", "env = ?", &[env.into()])
    }

    /// What a cached read of `table`'s rows matching `filter` is fresh
    /// against: SQLite's `data_version` (any other connection's commit
    /// moves it) and this process's own writes; on PostgreSQL, where no
    /// role but the owner may change a row, the rows' count and last
    /// chain position. `table` and `filter` are this crate's own text.
    pub(crate) fn freshness_of(
        &self,
        table: &str,
        filter: &str,
        params: &[Value],
    ) -> Result<[i64; 3], RegistryError> {
        // A journal read stands through this process's writes elsewhere
        // (its lease, its phases): only its own journal appends move it.
        let own = if table == crate::chain::JOURNAL.name {
            self.own_journal_writes()
        } else {
            self.own_writes()
        };
        self.with(|db| match db.backend() {
            crate::Backend::Sqlite => {
                Ok([db.scalar("PRAGMA data_version", &[])?.unwrap_or(0), own, 0])
            }
            crate::Backend::Postgres => {
                let mut v = [own, 0, 0];
                db.query(
                    &format!(
                        "SELECT COUNT(*), COALESCE(MAX(chain_seq), 0) FROM {table} WHERE {filter}"
                    ),
                    params,
                    &mut |r| {
                        v[1] = r.int(0).unwrap_or(0);
                        v[2] = r.int(1).unwrap_or(0);
                        Ok(())
                    },
                )?;
                Ok(v)
            }
        })
    }
}

/// Each environment's reservations as last read, and when.
pub(crate) type ReservationCache = HashMap<String, ([i64; 3], Arc<EnvReservations>)>;
