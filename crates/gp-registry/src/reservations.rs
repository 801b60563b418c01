//! Build id reservations: atomic, unique per environment, retired once torn
//! down.

use gp_core::{BuildId, BuildIdArg};
use serde::Serialize;

use crate::chain::RESERVATIONS;
use crate::db::{Db, DbExt, Named};
use crate::governance::Override;
use crate::{Registry, RegistryError, Tx, new_id, now_us, time};

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

/// The id `auto` takes next for `today` in `env`.
fn next_free(
    db: &mut dyn Db,
    env: &str,
    today: Option<(u8, u8, u8)>,
) -> Result<BuildId, RegistryError> {
    let (d, m, y) = today.unwrap_or_else(time::today_utc);
    let first = BuildId::new(d, m, y, 1).map_err(|e| RegistryError::Invalid(e.to_string()))?;
    let prefix = first.date_prefix();
    let max = db
        .scalar(
            "SELECT MAX(seq) FROM reservations WHERE env = ? AND date_prefix = ?",
            &[env.into(), prefix.clone().into()],
        )?
        .unwrap_or(0);
    if max >= 99 {
        return Err(RegistryError::AutoExhausted {
            env: env.into(),
            date: prefix,
        });
    }
    first
        .with_seq(u8::try_from(max + 1).unwrap_or(99))
        .map_err(|e| RegistryError::Invalid(e.to_string()))
}

fn latest(
    db: &mut dyn Db,
    env: &str,
    build: BuildId,
) -> Result<Option<Reservation>, RegistryError> {
    let rows = db.rows(
        "SELECT generation, actor, at_us, reason FROM reservations WHERE env = ? AND build_id = ? ORDER BY generation DESC LIMIT 1",
        &[env.into(), build.to_string().into()],
        |r| {
            let r = Named(r);
            Reservation {
                env: env.into(),
                build_id: build,
                generation: r.int("generation").unwrap_or(1),
                new: false,
                actor: r.string("actor"),
                at_us: r.int("at_us").unwrap_or(0),
                reason: r.text("reason"),
            }
        },
    )?;
    Ok(rows.into_iter().next())
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
            let build = match req.build {
                BuildIdArg::Id(b) => b,
                BuildIdArg::Auto => {
                    let next = next_free(tx.db, req.env, req.today)?;
                    return insert(tx, req, next, 1, None, now);
                }
            };
            let Some(existing) = latest(tx.db, req.env, build)? else {
                return insert(tx, req, build, 1, None, now);
            };
            let last = tx.db.rows(
                "SELECT event, at_us FROM deployment_events WHERE env = ? AND deployment = ? AND at_us >= ? ORDER BY at_us DESC, id DESC LIMIT 1",
                &[req.env.into(), build.to_string().into(), existing.at_us.into()],
                |r| (r.string(0), r.int(1).unwrap_or(0)),
            )?;
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

    /// The latest reservation of a build, if any.
    pub fn reservation(
        &self,
        env: &str,
        build: BuildId,
    ) -> Result<Option<Reservation>, RegistryError> {
        self.with(|db| latest(db, env, build))
    }

    /// The id `auto` would reserve now, without reserving it.
    pub fn next_auto(
        &self,
        env: &str,
        today: Option<(u8, u8, u8)>,
    ) -> Result<BuildId, RegistryError> {
        self.with(|db| next_free(db, env, today))
    }
}
