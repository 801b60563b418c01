//! `registry verify`: every row against the chain, the head file against
//! the streams, and the ledger's own invariants.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::RegistryError;
use crate::chain::{self, ChainKey, Head, TABLES};
use crate::checked::{Checker, Heads as HeadScope, Unchained};
use crate::db::{Db, DbExt};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Breach {
    /// Which check: `chain-broken` (a row inserted, replaced, edited or
    /// reordered), `chain-unsealed` (a row without its HMAC), `chain-seal`
    /// (rows from before chaining changed), `chain-truncated` (rows deleted
    /// from a stream's end), `head-file`, `journal-gap`, `journal-orphan`,
    /// `phase-without-start`, `lease-unknown`, `lease-overlap`,
    /// `reservation-gap`.
    pub check: String,
    /// What exactly.
    pub detail: String,
}

/// The head file as judged against its anchor: its heads, and why it
/// cannot be trusted. `None`: the registry keeps no head file.
type Heads = Option<(BTreeMap<String, Head>, Option<String>)>;

/// Checks every chained table with the reads' own [`Checker`], then the
/// rows from before chaining against their seal, then the head file.
fn verify_chain(
    db: &mut dyn Db,
    key: &ChainKey,
    legacy: &BTreeMap<String, i64>,
    heads: Heads,
    out: &mut Vec<Breach>,
) -> Result<(), RegistryError> {
    let (known, head_problem) = heads.unwrap_or_default();
    if let Some(problem) = head_problem {
        out.push(Breach {
            check: "head-file".into(),
            detail: problem,
        });
    }
    for t in TABLES {
        let width = t.columns.len();
        let sql = format!(
            "SELECT {}, chain_stream, chain_seq, chain_mac FROM {} ORDER BY chain_stream NULLS FIRST, chain_seq",
            t.select_list(),
            t.name
        );
        let mut unchained: Vec<Vec<crate::db::Value>> = Vec::new();
        let checker = {
            let mut checker = Checker::new(key, t, Unchained::Collect(&mut unchained));
            // Checked from the borrowed row: a million rows are verified
            // without a million allocations.
            db.query(&sql, &[], &mut |r| {
                checker.row(r);
                Ok(())
            })?;
            checker.finish(&known, HeadScope::All)
        };
        for x in checker.tampered {
            out.push(Breach {
                check: x.check.clone(),
                detail: if x.id.is_empty() {
                    format!("{} stream {} {}", x.table, x.stream, x.why)
                } else {
                    format!("{} row `{}` (stream {}) {}", x.table, x.id, x.stream, x.why)
                },
            });
        }
        let sealed = legacy.get(t.name).copied();
        match sealed {
            Some(n) if n == unchained.len() as i64 => {
                if n > 0 {
                    let digest = db.rows(
                        "SELECT digest FROM chain_seals WHERE tbl = ?",
                        &[t.name.into()],
                        |r| r.string(0),
                    )?;
                    let ordered = db.rows(
                        &format!(
                            "SELECT {} FROM {} WHERE chain_mac IS NULL ORDER BY id",
                            t.select_list(),
                            t.name
                        ),
                        &[],
                        |r| (0..width).map(|i| r.value(i)).collect::<Vec<_>>(),
                    )?;
                    if digest.first() != Some(&chain::seal_digest(key, t.name, &ordered)) {
                        out.push(Breach {
                            check: "chain-seal".into(),
                            detail: format!(
                                "{}: the {n} rows written before chaining no longer match their seal (one was edited, replaced or swapped)",
                                t.name
                            ),
                        });
                    }
                }
            }
            _ => {
                let allowed = sealed.unwrap_or(0);
                for v in unchained
                    .iter()
                    .skip(usize::try_from(allowed.max(0)).unwrap_or(0))
                {
                    let id = match v.first() {
                        Some(crate::db::Value::Text(Some(s))) => s.clone(),
                        _ => String::new(),
                    };
                    out.push(Breach {
                        check: "chain-unsealed".into(),
                        detail: format!(
                            "{} row `{id}` carries no chain HMAC: it was inserted behind goldenpath's back",
                            t.name
                        ),
                    });
                }
                if (unchained.len() as i64) < allowed {
                    out.push(Breach {
                        check: "chain-seal".into(),
                        detail: format!(
                            "{}: {allowed} rows were sealed before chaining, {} remain (rows deleted)",
                            t.name,
                            unchained.len()
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn verify(
    db: &mut dyn Db,
    key: &ChainKey,
    legacy: &BTreeMap<String, i64>,
    heads: Heads,
) -> Result<Vec<Breach>, RegistryError> {
    let mut out = Vec::new();
    verify_chain(db, key, legacy, heads, &mut out)?;
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

    // Phases: every end has a start. One pass over the (phase_run, kind)
    // index, where the rows of one run are adjacent.
    let mut run_seen: Option<(String, bool, bool)> = None; // (run, start, end)
    let mut orphans = Vec::new();
    let flush = |seen: Option<(String, bool, bool)>, orphans: &mut Vec<String>| {
        if let Some((run, false, true)) = seen {
            orphans.push(run);
        }
    };
    db.query(
        "SELECT phase_run, kind FROM phase_events ORDER BY phase_run, kind",
        &[],
        &mut |r| {
            let run = r.text(0).unwrap_or_default();
            if run_seen
                .as_ref()
                .is_none_or(|(current, _, _)| current != run)
            {
                flush(run_seen.take(), &mut orphans);
                run_seen = Some((run.to_string(), false, false));
            }
            if let Some((_, start, end)) = run_seen.as_mut() {
                match r.text(1) {
                    Some("start") => *start = true,
                    Some("end") => *end = true,
                    _ => {}
                }
            }
            Ok(())
        },
    )?;
    flush(run_seen.take(), &mut orphans);
    for run in orphans {
        let rows = db.rows(
            "SELECT env, deployment, phase FROM phase_events WHERE phase_run = ? AND kind = 'end'",
            &[run.clone().into()],
            |r| (r.string(0), r.string(1), r.string(2)),
        )?;
        for (env, dep, phase) in rows {
            breach(
                "phase-without-start",
                format!(
                    "phase {phase} of {dep} in {env} (run {run}) ended without a recorded start"
                ),
            );
        }
    }

    // Leases: renew/release/expire/force_unlock name an acquired lease, and
    // no lease is acquired while another is held and unexpired.
    let events = db.rows(
        "SELECT env, deployment, lease_id, kind, holder, expires_us, at_us FROM lease_events ORDER BY env, deployment, chain_seq NULLS FIRST, at_us, id",
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

#[cfg(test)]
mod tests {
    use crate::checked::tests::{legacy_registry, sql, sqlite};
    use crate::{Breach, Registry};

    fn breaches(reg: &Registry, check: &str) -> Vec<String> {
        reg.verify()
            .unwrap()
            .into_iter()
            .filter(|b: &Breach| b.check == check)
            .map(|b| b.detail)
            .collect()
    }

    #[test]
    fn rows_from_before_chaining_are_held_to_their_seal() {
        // Intact: nothing to report.
        let (reg, _d) = legacy_registry();
        assert_eq!(reg.verify().unwrap(), Vec::new());
        // One of the sealed rows edited: the seal no longer matches.
        let (reg, _d) = legacy_registry();
        sql(
            &reg,
            "DROP TRIGGER deployment_events_no_update; UPDATE deployment_events SET actor = 'mallory' WHERE id = 'old1'",
        );
        let b = breaches(&reg, "chain-seal");
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            b[0].contains("the 2 rows written before chaining no longer match"),
            "{b:?}"
        );
        // One more row without a chain: that row, and only that row.
        let (reg, _d) = legacy_registry();
        sql(
            &reg,
            "INSERT INTO deployment_events (id, env, deployment, event, actor, at_us) VALUES ('zz-new', 'dev', 'x', 'torn_down', 'a', 3)",
        );
        let b = breaches(&reg, "chain-unsealed");
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(b[0].contains("`zz-new`"), "{b:?}");
        assert!(breaches(&reg, "chain-seal").is_empty());
        // A sealed row deleted: fewer remain than were sealed.
        let (reg, _d) = legacy_registry();
        sql(
            &reg,
            "DROP TRIGGER deployment_events_no_delete; DELETE FROM deployment_events WHERE id = 'old2'",
        );
        let b = breaches(&reg, "chain-seal");
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            b[0].contains("2 rows were sealed before chaining, 1 remain"),
            "{b:?}"
        );
        assert!(breaches(&reg, "chain-unsealed").is_empty());
    }

    #[test]
    fn a_registry_chained_from_its_start_takes_no_row_without_a_chain() {
        let (reg, _d) = sqlite();
        assert_eq!(reg.verify().unwrap(), Vec::new());
        sql(
            &reg,
            "INSERT INTO deployment_events (id, env, deployment, event, actor, at_us) VALUES ('e1', 'dev', 'x', 'torn_down', 'a', 3)",
        );
        let b = breaches(&reg, "chain-unsealed");
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(breaches(&reg, "chain-seal").is_empty());
    }

    fn lease_row(reg: &Registry, id: &str, lease: &str, kind: &str, expires: Option<i64>, at: i64) {
        let expires = expires.map_or("NULL".to_string(), |e| e.to_string());
        sql(
            reg,
            &format!(
                "INSERT INTO lease_events (id, env, deployment, lease_id, kind, holder, expires_us, at_us) VALUES ('{id}', 'dev', 'b1', '{lease}', '{kind}', 'h-{lease}', {expires}, {at})"
            ),
        );
    }

    #[test]
    fn a_lease_taken_while_another_is_held_is_an_overlap_and_a_renewal_extends_the_hold() {
        // Taken exactly when the other expires: no overlap; a moment
        // before: an overlap.
        let (reg, _d) = sqlite();
        lease_row(&reg, "1", "A", "acquire", Some(100), 10);
        lease_row(&reg, "2", "B", "acquire", Some(300), 100);
        assert!(breaches(&reg, "lease-overlap").is_empty());
        let (reg, _d) = sqlite();
        lease_row(&reg, "1", "A", "acquire", Some(100), 10);
        lease_row(&reg, "2", "B", "acquire", Some(300), 99);
        assert_eq!(breaches(&reg, "lease-overlap").len(), 1);
        // Renewed past the second acquire: an overlap. A renewal of
        // another lease extends nothing.
        let (reg, _d) = sqlite();
        lease_row(&reg, "1", "A", "acquire", Some(100), 10);
        lease_row(&reg, "2", "A", "renew", Some(500), 50);
        lease_row(&reg, "3", "B", "acquire", Some(900), 200);
        assert_eq!(breaches(&reg, "lease-overlap").len(), 1);
        assert!(breaches(&reg, "lease-unknown").is_empty());
        let (reg, _d) = sqlite();
        lease_row(&reg, "1", "A", "acquire", Some(100), 10);
        lease_row(&reg, "0", "C", "acquire", Some(20), 5);
        lease_row(&reg, "2", "C", "renew", Some(500), 50);
        lease_row(&reg, "3", "B", "acquire", Some(900), 200);
        let overlaps = breaches(&reg, "lease-overlap");
        assert!(
            !overlaps.iter().any(|o| o.contains("lease B")),
            "{overlaps:?}"
        );
        // A renewal or a release of a lease never acquired.
        let (reg, _d) = sqlite();
        lease_row(&reg, "1", "Z", "renew", Some(100), 10);
        lease_row(&reg, "2", "Y", "release", None, 11);
        let unknown = breaches(&reg, "lease-unknown");
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert!(
            unknown[0].starts_with("renewal of unknown lease Z"),
            "{unknown:?}"
        );
        assert!(
            unknown[1].starts_with("release of unknown lease Y"),
            "{unknown:?}"
        );
        // A release ends the hold: the next acquire overlaps nothing.
        let (reg, _d) = sqlite();
        lease_row(&reg, "1", "A", "acquire", Some(100), 10);
        lease_row(&reg, "2", "A", "release", None, 20);
        lease_row(&reg, "3", "B", "acquire", Some(900), 30);
        assert!(breaches(&reg, "lease-overlap").is_empty());
    }

    #[test]
    fn a_reused_build_id_needs_a_reason_and_generations_run_without_gaps() {
        let (reg, _d) = sqlite();
        let row = |id: &str, generation: i64, reason: &str| {
            format!(
                "INSERT INTO reservations (id, env, build_id, date_prefix, seq, generation, actor, reason, at_us) VALUES ('{id}', 'dev', '23-01-26-01', '23-01-26', 1, {generation}, 'a', {reason}, {generation})"
            )
        };
        sql(&reg, &row("r1", 1, "NULL"));
        assert!(breaches(&reg, "reservation-gap").is_empty());
        sql(&reg, &row("r2", 2, "' '"));
        let b = breaches(&reg, "reservation-gap");
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            b[0].contains("generation 2 re-used the id without a recorded reason"),
            "{b:?}"
        );
        sql(&reg, &row("r4", 4, "'the demo'"));
        let b = breaches(&reg, "reservation-gap");
        assert!(
            b.iter().any(|d| d.contains("generation 4 follows 2")),
            "{b:?}"
        );
    }
}
