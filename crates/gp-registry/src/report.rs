//! `registry report`: per phase, how often it ran, how its runs ended, and
//! how long successful runs took. Only known results count in a success
//! rate (a run without an exit code is `unknown`, counted apart); failures
//! are never averaged into durations; imported history is counted, and
//! left out of the percentiles unless asked for.

use std::collections::HashMap;

use serde::Serialize;

use crate::chain::PHASE_EVENTS;
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

/// What a phase's runs add up to while the report reads them.
#[derive(Default)]
struct Tally {
    outcomes: Outcomes,
    imported: u64,
    durations: Vec<i64>,
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
    let mut by_phase: HashMap<String, HashMap<&'static str, Tally>> = HashMap::new();
    let since = since_us.unwrap_or(i64::MIN);
    let mut kinds_of: HashMap<String, &'static str> = HashMap::new();
    let col = |c: &str| PHASE_EVENTS.index(c).unwrap_or(0);
    let [
        phase_i,
        exit_i,
        duration_i,
        deployment_i,
        added_i,
        changed_i,
        destroyed_i,
        source_i,
    ] = [
        "phase",
        "exit_code",
        "duration_ms",
        "deployment",
        "added",
        "changed",
        "destroyed",
        "source",
    ]
    .map(col);
    let mut visit = |r: &dyn crate::db::Row| {
        let phase = r.text(phase_i).unwrap_or_default();
        let duration = r.int(duration_i);
        let result = PhaseResult::of(
            r.int(exit_i),
            duration,
            [r.int(added_i), r.int(changed_i), r.int(destroyed_i)],
        );
        // An imported row keeps its file's cells in `source`.
        let imported = r.text(source_i).is_some_and(|s| s.starts_with('{'));
        // A deployment's kind once per deployment, not once per row.
        let deployment = r.text(deployment_i).unwrap_or_default();
        let kind = match kinds_of.get(deployment) {
            Some(k) => *k,
            None => *kinds_of
                .entry(deployment.to_string())
                .or_insert_with(|| kind_of(deployment)),
        };
        // By phase, then kind: a row of a phase already seen allocates
        // nothing.
        let kinds = match by_phase.get_mut(phase) {
            Some(k) => k,
            None => by_phase.entry(phase.to_string()).or_default(),
        };
        let t = kinds.entry(kind).or_default();
        t.outcomes.count(result);
        t.imported += u64::from(imported);
        if let (PhaseResult::Success, Some(d)) = (result, duration)
            && (include_imported || !imported)
        {
            t.durations.push(d);
        }
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
            "t.kind = 'end' AND t.started_us >= ?",
            "",
            &[since.into()],
            &mut visit,
        )?,
    }
    let n = |v: i64| u64::try_from(v).unwrap_or_default();
    let mut out: Vec<PhaseStats> = by_phase
        .into_iter()
        .flat_map(|(phase, kinds)| kinds.into_iter().map(move |(k, v)| ((phase.clone(), k), v)))
        .map(|((phase, kind), mut t)| {
            t.durations.sort_unstable();
            let o = t.outcomes;
            PhaseStats {
                phase,
                kind: kind.to_string(),
                count: n(o.runs),
                succeeded: n(o.succeeded),
                failed: n(o.failed),
                aborted: n(o.aborted),
                unknown: n(o.unknown),
                imported: t.imported,
                success_rate: o.success_rate(),
                p50_seconds: percentile(&t.durations, 50.0),
                p95_seconds: percentile(&t.durations, 95.0),
                percentile_runs: t.durations.len() as u64,
            }
        })
        .collect();
    out.sort_by(|a, b| a.phase.cmp(&b.phase).then(a.kind.cmp(&b.kind)));
    Ok(out)
}

#[cfg(test)]
mod tests {
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
