//! `registry report`: per phase, how often it ran, how its runs ended, and
//! how long successful runs took. Only known results count in a success
//! rate (a run without an exit code is `unknown`, counted apart); failures
//! are never averaged into durations; imported history is counted, and
//! left out of the percentiles unless asked for.

use std::collections::HashMap;

use serde::Serialize;

use crate::chain::PHASE_EVENTS;
use crate::db::DbExt;
use crate::phases::{Outcomes, PhaseResult};
use crate::{Registry, RegistryError};

/// Statistics of one phase.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseStats {
    /// Phase name.
    pub phase: String,
    /// The kind of deployment it ran in: `build`, `persistent`,
    /// `foundational`, `legacy` (history under an older `YYYYMMDD-NN` id)
    /// or `other` (history under a name that is none of those).
    pub kind: String,
    /// Finished runs.
    pub count: u64,
    /// Runs that exited 0.
    pub succeeded: u64,
    /// Runs that exited non-zero after a while or after changing
    /// something.
    pub failed: u64,
    /// Runs that exited non-zero within seconds and changed nothing.
    pub aborted: u64,
    /// Runs with no exit code recorded: in no success rate.
    pub unknown: u64,
    /// Of the runs, how many were imported from history.
    pub imported: u64,
    /// `succeeded` over the runs with a known result; none when no run has
    /// one.
    pub success_rate: Option<f64>,
    /// Median duration of successful runs, seconds.
    pub p50_seconds: Option<f64>,
    /// 95th percentile duration of successful runs, seconds.
    pub p95_seconds: Option<f64>,
    /// How many successful runs the percentiles were taken over (imported
    /// ones only when asked for).
    pub percentile_runs: u64,
}

/// The kind of deployment a deployment key names.
pub fn kind_of(deployment: &str) -> &'static str {
    match deployment {
        "persistent" => "persistent",
        "foundational" => "foundational",
        d if d
            .parse::<gp_core::BuildId>()
            .is_ok_and(|b| b.to_string() == d) =>
        {
            "build"
        }
        // The older YYYYMMDD-NN form: history of its own kind, never
        // counted as goldenpath's builds.
        d if is_legacy_build_id(d) => "legacy",
        _ => "other",
    }
}

/// A build id in the older `YYYYMMDD-NN` form.
pub fn is_legacy_build_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 11
        && b.len() <= 13
        && b[8] == b'-'
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[9..].iter().all(u8::is_ascii_digit)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    Some(sorted[idx] as f64 / 1000.0)
}

/// What a phase's runs of one kind add up to.
#[derive(Clone, Default)]
struct Tally {
    outcomes: Outcomes,
    imported: u64,
    /// Durations of goldenpath's own successful runs, ms; sorted once
    /// settled.
    own: Vec<i64>,
    /// Durations of imported successful runs, ms; sorted once settled.
    imported_durations: Vec<i64>,
}

/// Merges two sorted lists into one sorted list.
fn merge_sorted(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Two sorted lists as one, without a copy when either is empty.
fn merged(a: Vec<i64>, b: Vec<i64>) -> Vec<i64> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b,
        (_, true) => a,
        _ => merge_sorted(&a, &b),
    }
}

/// Column positions of the rows a report reads.
struct Columns {
    phase: usize,
    exit: usize,
    duration: usize,
    deployment: usize,
    counts: [usize; 3],
    source: usize,
}

impl Columns {
    fn of_phase_events() -> Self {
        let col = |c: &str| PHASE_EVENTS.index(c).unwrap_or(0);
        Self {
            phase: col("phase"),
            exit: col("exit_code"),
            duration: col("duration_ms"),
            deployment: col("deployment"),
            counts: [col("added"), col("changed"), col("destroyed")],
            source: col("source"),
        }
    }
}

/// What a report's rows add up to, folded one row at a time: read whole
/// by `registry report`, or kept by a server between reads with the rows
/// written since folded in ([`report_kept`]).
#[derive(Clone, Default)]
pub(crate) struct ReportTally {
    by_phase: HashMap<String, HashMap<&'static str, Tally>>,
    /// Each deployment's kind, worked out once per deployment.
    kinds_of: HashMap<String, &'static str>,
}

impl ReportTally {
    /// Counts one finished phase row.
    fn fold(&mut self, c: &Columns, r: &dyn crate::db::Row) {
        let phase = r.text(c.phase).unwrap_or_default();
        let duration = r.int(c.duration);
        let result = PhaseResult::of(r.int(c.exit), duration, c.counts.map(|i| r.int(i)));
        // An imported row keeps its file's cells in `source`.
        let imported = r.text(c.source).is_some_and(|s| s.starts_with('{'));
        let deployment = r.text(c.deployment).unwrap_or_default();
        let kind = match self.kinds_of.get(deployment) {
            Some(k) => *k,
            None => *self
                .kinds_of
                .entry(deployment.to_string())
                .or_insert_with(|| kind_of(deployment)),
        };
        // By phase, then kind: a row of a phase already seen allocates
        // nothing.
        let kinds = match self.by_phase.get_mut(phase) {
            Some(k) => k,
            None => self.by_phase.entry(phase.to_string()).or_default(),
        };
        let t = kinds.entry(kind).or_default();
        t.outcomes.count(result);
        t.imported += u64::from(imported);
        if let (PhaseResult::Success, Some(d)) = (result, duration) {
            if imported {
                t.imported_durations.push(d);
            } else {
                t.own.push(d);
            }
        }
    }

    /// Sorts what was folded in (percentiles read sorted lists).
    fn settle(&mut self) {
        for t in self.by_phase.values_mut().flat_map(|k| k.values_mut()) {
            t.own.sort_unstable();
            t.imported_durations.sort_unstable();
        }
    }

    /// Adds a settled tally of later rows to this settled one.
    fn absorb(&mut self, later: ReportTally) {
        for (phase, kinds) in later.by_phase {
            let mine = self.by_phase.entry(phase).or_default();
            for (kind, t) in kinds {
                let m = mine.entry(kind).or_default();
                let o = &mut m.outcomes;
                o.runs += t.outcomes.runs;
                o.succeeded += t.outcomes.succeeded;
                o.failed += t.outcomes.failed;
                o.aborted += t.outcomes.aborted;
                o.unknown += t.outcomes.unknown;
                m.imported += t.imported;
                m.own = merged(std::mem::take(&mut m.own), t.own);
                m.imported_durations = merged(
                    std::mem::take(&mut m.imported_durations),
                    t.imported_durations,
                );
            }
        }
        self.kinds_of.extend(later.kinds_of);
    }

    /// The statistics of a settled tally, by phase then kind. Imported
    /// runs count in every figure but the percentiles, which take them
    /// only with `include_imported`.
    fn stats(&self, include_imported: bool) -> Vec<PhaseStats> {
        let n = |v: i64| u64::try_from(v).unwrap_or_default();
        let mut out: Vec<PhaseStats> = self
            .by_phase
            .iter()
            .flat_map(|(phase, kinds)| kinds.iter().map(move |(k, t)| (phase, *k, t)))
            .map(|(phase, kind, t)| {
                let merged;
                let durations: &[i64] = if include_imported && !t.imported_durations.is_empty() {
                    merged = merge_sorted(&t.own, &t.imported_durations);
                    &merged
                } else {
                    &t.own
                };
                let o = t.outcomes;
                PhaseStats {
                    phase: phase.clone(),
                    kind: kind.to_string(),
                    count: n(o.runs),
                    succeeded: n(o.succeeded),
                    failed: n(o.failed),
                    aborted: n(o.aborted),
                    unknown: n(o.unknown),
                    imported: t.imported,
                    success_rate: o.success_rate(),
                    p50_seconds: percentile(durations, 50.0),
                    p95_seconds: percentile(durations, 95.0),
                    percentile_runs: durations.len() as u64,
                }
            })
            .collect();
        out.sort_by(|a, b| a.phase.cmp(&b.phase).then(a.kind.cmp(&b.kind)));
        out
    }
}

/// Per-phase statistics over finished phases, optionally of one
/// environment and since a time (µs). Imported runs count in every figure
/// but the percentiles, which take them only with `include_imported`.
pub fn report(
    registry: &Registry,
    env: Option<&str>,
    since_us: Option<i64>,
    include_imported: bool,
) -> Result<Vec<PhaseStats>, RegistryError> {
    // One pass; no row is materialised beyond the per-phase duration
    // lists.
    let c = Columns::of_phase_events();
    let mut tally = ReportTally::default();
    let since = since_us.unwrap_or(i64::MIN);
    let mut visit = |r: &dyn crate::db::Row| {
        tally.fold(&c, r);
        Ok(())
    };
    // Every row is checked against its chain before it counts.
    match env {
        Some(e) => registry.rows_trusted(
            &PHASE_EVENTS,
            "t.kind = 'end' AND t.env = ? AND t.started_us >= ?",
            "",
            &[e.into(), since.into()],
            &mut visit,
        )?,
        None => registry.rows_trusted(
            &PHASE_EVENTS,
            // On SQLite in row order (the unary `+` keeps it off the
            // indexes): a scan of the table reads its pages once, where an
            // index's order would jump between them.
            match registry.backend() {
                crate::Backend::Sqlite => "+t.kind = 'end' AND t.started_us >= ?",
                crate::Backend::Postgres => "t.kind = 'end' AND t.started_us >= ?",
            },
            "",
            &[since.into()],
            &mut visit,
        )?,
    }
    tally.settle();
    Ok(tally.stats(include_imported))
}

/// Each environment's whole report as last read: the SQLite row id it was
/// read through, and its settled tally.
pub(crate) type ReportCache = HashMap<String, (i64, ReportTally)>;

/// [`report`] of one environment over all its history, kept between calls
/// of the same registry (a server's history page and report endpoint): a
/// call checks and folds in only the rows written since the last one
/// (SQLite assigns rows increasing ids in the order they commit, and no
/// row of this append-only table is ever changed or removed by
/// goldenpath). A row written since that does not check out fails the
/// call as [`report`] does, and nothing of it is kept. What was folded in
/// once was checked then: a row changed behind goldenpath's back after
/// that is found by `goldenpath verify` or the next server, not by this
/// call. On PostgreSQL, whose row order is not commit order, every call
/// reads the whole report.
pub fn report_kept(
    registry: &Registry,
    env: &str,
    include_imported: bool,
) -> Result<Vec<PhaseStats>, RegistryError> {
    if registry.backend() != crate::Backend::Sqlite {
        return report(registry, Some(env), None, include_imported);
    }
    // Held while reading: two requests at once read the new rows once.
    let mut cache = registry.report_cache();
    let top = registry
        .with(|db| db.scalar("SELECT COALESCE(MAX(rowid), 0) FROM phase_events", &[]))?
        .unwrap_or(0);
    if let Some((through, t)) = cache.get(env)
        && *through == top
    {
        // Nothing was written; the head file is still judged.
        registry.trust_problem()?;
        return Ok(t.stats(include_imported));
    }
    // Taken out while the new rows are read: a row that does not check
    // out leaves nothing kept.
    let (through, mut tally) = match cache.remove(env) {
        Some((through, t)) if through < top => (through, t),
        // First read, or fewer rows than before (rows were removed behind
        // goldenpath's back): read it whole.
        _ => (0, ReportTally::default()),
    };
    let c = Columns::of_phase_events();
    let mut later = ReportTally::default();
    // By row id first: the unary `+` keeps SQLite from reading the
    // environment's whole index to find a few new rows.
    registry.rows_trusted(
        &PHASE_EVENTS,
        "t.rowid > ? AND t.rowid <= ? AND +t.kind = 'end' AND +t.env = ?",
        "",
        &[through.into(), top.into(), env.into()],
        &mut |r| {
            later.fold(&c, r);
            Ok(())
        },
    )?;
    later.settle();
    tally.absorb(later);
    let stats = tally.stats(include_imported);
    if cache.len() >= 64 && !cache.contains_key(env) {
        cache.clear();
    }
    cache.insert(env.to_string(), (top, tally));
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use crate::{Location, Phase, Registry};

    fn sqlite() -> (Registry, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        (reg, dir)
    }

    /// Writes `n` finished phases numbered from `from`: every result, two
    /// environments, builds and the persistent deployment.
    fn write(reg: &Registry, from: u64, n: u64) {
        for i in from..from + n {
            let env = if i % 5 == 0 { "test" } else { "dev" };
            let deployment = if i % 4 == 0 {
                "persistent".to_string()
            } else {
                format!("{:02}-01-26-01", 1 + i % 28)
            };
            let start = 1_700_000_000_000_000 + i as i64 * 1_000_000;
            let p = Phase {
                run: format!("r{i}"),
                env: env.into(),
                build_id: if deployment == "persistent" {
                    String::new()
                } else {
                    deployment.clone()
                },
                deployment,
                phase: ["plan", "apply:db", "dns"][(i % 3) as usize].into(),
                started_us: start,
                // Lengths out of order, so that merging is exercised.
                ended_us: Some(start + ((i * 7919) % 600 + 1) as i64 * 100_000),
                exit_code: match i % 9 {
                    0 => None,
                    1 => Some(1),
                    _ => Some(0),
                },
                ..Default::default()
            };
            reg.phase_start(&p).unwrap();
            reg.phase_end(&p).unwrap();
        }
    }

    fn import(reg: &Registry, day: u8) {
        let csv = format!(
            "start_time_utc,end_time_utc,phase,env,build_id,duration_seconds,exit_code,flags,log_path\n\
             2024-11-{day:02}T08:00:00Z,2024-11-{day:02}T08:03:00Z,plan,dev,20241102-01,{},0,,logs/a.log\n",
            100 + u32::from(day)
        );
        crate::import_csv(
            reg,
            &mut csv.as_bytes(),
            &crate::ImportOptions {
                source: "history.csv",
                components: &[],
                envs: &["dev".to_string(), "test".to_string()],
            },
        )
        .unwrap();
    }

    #[test]
    fn a_kept_report_is_the_whole_report_after_every_write() {
        let (reg, _dir) = sqlite();
        // Nothing written: both empty.
        assert!(super::report_kept(&reg, "dev", false).unwrap().is_empty());
        let mut from = 0;
        for (step, n) in [1u64, 40, 0, 3, 250, 1].into_iter().enumerate() {
            write(&reg, from, n);
            from += n;
            if step % 2 == 1 {
                import(&reg, step as u8 + 1);
            }
            for env in ["dev", "test", "prod"] {
                for imported in [false, true] {
                    assert_eq!(
                        super::report_kept(&reg, env, imported).unwrap(),
                        super::report(&reg, Some(env), None, imported).unwrap(),
                        "step {step}, {env}, include_imported {imported}"
                    );
                }
            }
        }
        // Imported runs are in the counts, and in the percentiles only
        // when asked for.
        let plan = |imported| {
            super::report_kept(&reg, "dev", imported)
                .unwrap()
                .into_iter()
                .find(|s| s.phase == "plan" && s.kind == "legacy")
                .unwrap()
        };
        assert_eq!(plan(false).imported, 3);
        assert_eq!(plan(false).percentile_runs, 0);
        assert_eq!(plan(true).percentile_runs, 3);
    }

    #[test]
    fn a_forged_row_written_after_a_kept_read_fails_every_later_read() {
        let (reg, _dir) = sqlite();
        write(&reg, 0, 30);
        let before = super::report_kept(&reg, "dev", false).unwrap();
        assert!(!before.is_empty());
        // A row inserted behind goldenpath's back, without the key.
        reg.with_db(|db| {
            db.exec(
                "INSERT INTO phase_events (id, phase_run, kind, env, deployment, build_id, phase, started_us, ended_us, duration_ms, exit_code, source, at_us) \
                 VALUES ('forged:end', 'forged', 'end', 'dev', 'persistent', '', 'plan', 1, 2, 1, 0, 'goldenpath', 3)",
                &[],
            )
        })
        .unwrap();
        for _ in 0..2 {
            assert!(matches!(
                super::report_kept(&reg, "dev", false),
                Err(crate::RegistryError::Tampered { .. })
            ));
        }
        // Another environment's report does not read the row.
        assert_eq!(
            super::report_kept(&reg, "test", false).unwrap(),
            super::report(&reg, Some("test"), None, false).unwrap()
        );
    }

    /// Runs SQL on the registry's database with the append-only triggers
    /// dropped, as someone with the file would.
    fn behind_its_back(reg: &Registry, sql: &str) {
        reg.with_db(|db| {
            for t in ["phase_events_no_update", "phase_events_no_delete"] {
                db.exec(&format!("DROP TRIGGER IF EXISTS {t}"), &[])?;
            }
            db.exec(sql, &[])
        })
        .unwrap();
    }

    #[test]
    fn a_kept_report_reads_each_row_once_per_environment_and_whole_again_when_rows_went_away() {
        let (reg, _dir) = sqlite();
        write(&reg, 0, 60);
        let dev = super::report_kept(&reg, "dev", false).unwrap();
        // Another environment kept beside it does not drop dev's.
        super::report_kept(&reg, "test", false).unwrap();
        // A row already folded in, changed behind goldenpath's back: the
        // kept report does not read it again (`registry verify` finds it),
        // and never counts the change; the whole report refuses.
        behind_its_back(
            &reg,
            "UPDATE phase_events SET exit_code = 1 WHERE phase_run = 'r2' AND kind = 'end'",
        );
        assert_eq!(super::report_kept(&reg, "dev", false).unwrap(), dev);
        assert!(super::report(&reg, Some("dev"), None, false).is_err());
        // Rows written since are read (and only they): r60 of test, r61
        // of dev.
        write(&reg, 60, 2);
        let after = super::report_kept(&reg, "dev", false).unwrap();
        let runs = |r: &[super::PhaseStats]| r.iter().map(|s| s.count).sum::<u64>();
        assert_eq!(runs(&after), runs(&dev) + 1);
        // Put the change back; then the newest runs go away: fewer rows
        // than were kept, so the report is read whole again.
        behind_its_back(
            &reg,
            "UPDATE phase_events SET exit_code = 0 WHERE phase_run = 'r2' AND kind = 'end'",
        );
        behind_its_back(
            &reg,
            "DELETE FROM phase_events WHERE phase_run IN ('r59', 'r60', 'r61')",
        );
        assert_eq!(
            super::report_kept(&reg, "dev", false).unwrap(),
            super::report(&reg, Some("dev"), None, false).unwrap()
        );
        assert_eq!(
            runs(&super::report_kept(&reg, "dev", false).unwrap()),
            runs(&dev) - 1,
            "r59 and r61 were of dev, r60 of test"
        );
    }

    #[test]
    fn sorted_lists_merge_in_order() {
        assert_eq!(super::merged(vec![], vec![2, 5]), vec![2, 5]);
        assert_eq!(super::merged(vec![1, 7], vec![]), vec![1, 7]);
        assert_eq!(super::merged(vec![1, 7], vec![2, 9]), vec![1, 2, 7, 9]);
        assert_eq!(super::merge_sorted(&[], &[]), Vec::<i64>::new());
        assert_eq!(super::merge_sorted(&[1, 4], &[]), vec![1, 4]);
        assert_eq!(super::merge_sorted(&[], &[2]), vec![2]);
        assert_eq!(
            super::merge_sorted(&[1, 3, 3, 9], &[0, 3, 4, 10, 11]),
            vec![0, 1, 3, 3, 3, 4, 9, 10, 11]
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).map(|s| s * 1000).collect();
        assert_eq!(super::percentile(&v, 50.0), Some(50.0));
        assert_eq!(super::percentile(&v, 95.0), Some(95.0));
        assert_eq!(super::percentile(&[7000], 95.0), Some(7.0));
        assert_eq!(super::percentile(&[], 50.0), None);
    }

    #[test]
    fn kinds_keep_history_apart_from_goldenpaths_builds() {
        for (key, kind) in [
            ("persistent", "persistent"),
            ("foundational", "foundational"),
            ("23-01-26-01", "build"),
            ("20250115-067", "legacy"),
            ("20250115-06", "legacy"),
            ("1-01-26-01", "other"),
            ("19-01-25-01 (rerun)", "other"),
            ("rds-old", "other"),
        ] {
            assert_eq!(super::kind_of(key), kind, "{key}");
        }
        // Two to four digits after the date, the date's eight digits.
        assert!(super::is_legacy_build_id("20250115-0678"));
        for not in [
            "20250115-1",
            "20250115-01234",
            "2025011x-067",
            "20250115_067",
            "20250115-06a",
        ] {
            assert!(!super::is_legacy_build_id(not), "{not}");
        }
    }
}
