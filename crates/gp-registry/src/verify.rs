//! `registry verify`: the ledger checks its own invariants.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::RegistryError;
use crate::db::{Db, DbExt};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Breach {
    /// Which check: `journal-gap`, `journal-orphan`, `phase-without-start`,
    /// `lease-unknown`, `lease-overlap`, `reservation-gap`.
    pub check: String,
    /// What exactly.
    pub detail: String,
}

pub(crate) fn verify(db: &mut dyn Db) -> Result<Vec<Breach>, RegistryError> {
    let mut out = Vec::new();
    let mut breach = |check: &str, detail: String| {
        out.push(Breach {
            check: check.into(),
            detail,
        })
    };

    // Journal: 1..n without gaps per deployment; every after/failed has a
    // before earlier in the same deployment.
    let rows = db.rows(
        "SELECT env, deployment, seq, action_id, stage FROM journal ORDER BY env, deployment, seq",
        &[],
        |r| {
            (
                r.string(0),
                r.string(1),
                r.int(2).unwrap_or(0),
                r.string(3),
                r.string(4),
            )
        },
    )?;
    let mut expected: HashMap<(String, String), i64> = HashMap::new();
    let mut befores: HashSet<(String, String, String)> = HashSet::new();
    for (env, dep, seq, action, stage) in rows {
        let next = expected.entry((env.clone(), dep.clone())).or_insert(1);
        if seq != *next {
            breach(
                "journal-gap",
                format!(
                    "journal of {dep} in {env} jumps from {} to {seq}",
                    *next - 1
                ),
            );
        }
        *next = seq + 1;
        if stage == "before" {
            befores.insert((env, dep, action));
        } else if !befores.contains(&(env.clone(), dep.clone(), action.clone())) {
            breach(
                "journal-orphan",
                format!(
                    "journal of {dep} in {env}: entry {seq} ({stage}) of action {action} has no `before`"
                ),
            );
        }
    }

    // Phases: every end has a start.
    let orphans = db.rows(
        "SELECT e.env, e.deployment, e.phase, e.phase_run FROM phase_events e WHERE e.kind = 'end' AND NOT EXISTS (SELECT 1 FROM phase_events s WHERE s.kind = 'start' AND s.phase_run = e.phase_run) ORDER BY e.started_us",
        &[],
        |r| (r.string(0), r.string(1), r.string(2), r.string(3)),
    )?;
    for (env, dep, phase, run) in orphans {
        breach(
            "phase-without-start",
            format!("phase {phase} of {dep} in {env} (run {run}) ended without a recorded start"),
        );
    }

    // Leases: renew/release/expire/force_unlock name an acquired lease, and
    // no lease is acquired while another is held and unexpired.
    let events = db.rows(
        "SELECT env, deployment, lease_id, kind, holder, expires_us, at_us FROM lease_events ORDER BY env, deployment, at_us, id",
        &[],
        |r| (r.string(0), r.string(1), r.string(2), r.string(3), r.string(4), r.int(5), r.int(6).unwrap_or(0)),
    )?;
    // (env, deployment) -> the lease held: (lease id, holder, expiry)
    type Held = Option<(String, String, i64)>;
    let mut current: BTreeMap<(String, String), Held> = BTreeMap::new();
    let mut acquired: HashSet<String> = HashSet::new();
    for (env, dep, lease, kind, holder, expires, at) in events {
        let slot = current.entry((env.clone(), dep.clone())).or_default();
        match kind.as_str() {
            "acquire" => {
                if let Some((other, other_holder, until)) = slot.as_ref()
                    && *until > at
                {
                    breach(
                        "lease-overlap",
                        format!(
                            "lease {lease} on {dep} in {env} was acquired by {holder} while {other} of {other_holder} was held"
                        ),
                    );
                }
                acquired.insert(lease.clone());
                *slot = Some((lease, holder, expires.unwrap_or(at)));
            }
            "renew" => {
                if !acquired.contains(&lease) {
                    breach(
                        "lease-unknown",
                        format!("renewal of unknown lease {lease} on {dep} in {env}"),
                    );
                }
                if let Some(s) = slot.as_mut().filter(|s| s.0 == lease) {
                    s.2 = expires.unwrap_or(s.2);
                }
            }
            _ => {
                if !acquired.contains(&lease) {
                    breach(
                        "lease-unknown",
                        format!("{kind} of unknown lease {lease} on {dep} in {env}"),
                    );
                }
                if slot.as_ref().is_some_and(|s| s.0 == lease) {
                    *slot = None;
                }
            }
        }
    }

    // Reservations: generations 1..n per build; re-use carries a reason.
    let reservations = db.rows(
        "SELECT env, build_id, generation, reason FROM reservations ORDER BY env, build_id, generation",
        &[],
        |r| (r.string(0), r.string(1), r.int(2).unwrap_or(0), r.text(3).map(str::to_string)),
    )?;
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for (env, build, generation, reason) in reservations {
        let prev = last
            .insert((env.clone(), build.clone()), generation)
            .unwrap_or(0);
        if generation != prev + 1 {
            breach(
                "reservation-gap",
                format!(
                    "build {build} in {env}: reservation generation {generation} follows {prev}"
                ),
            );
        }
        if generation > 1 && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            breach(
                "reservation-gap",
                format!(
                    "build {build} in {env}: generation {generation} re-used the id without a recorded reason"
                ),
            );
        }
    }
    Ok(out)
}
