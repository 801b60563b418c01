//! `registry report`: per phase, how often it ran, how often it succeeded,
//! and how long successful runs took. Failures are counted apart and never
//! averaged into durations.

use std::collections::HashMap;

use serde::Serialize;

use crate::chain::PHASE_EVENTS;
use crate::{Registry, RegistryError};

/// Statistics of one phase.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseStats {
    /// Phase name.
    pub phase: String,
    /// The kind of deployment it ran in: `build`, `persistent`,
    /// `foundational`, or `other` (history imported under a name that is
    /// none of those, such as a legacy id).
    pub kind: String,
    /// Finished runs.
    pub count: u64,
    /// Runs that exited 0.
    pub succeeded: u64,
    /// Runs that did not.
    pub failed: u64,
    /// `succeeded / count`.
    pub success_rate: f64,
    /// Median duration of successful runs, seconds.
    pub p50_seconds: Option<f64>,
    /// 95th percentile duration of successful runs, seconds.
    pub p95_seconds: Option<f64>,
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
        // The older YYYYMMDD-NN form: a build, kept under the id it had.
        d if is_legacy_build_id(d) => "build",
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

/// Per-phase statistics over finished phases, optionally of one
/// environment and since a time (µs).
pub fn report(
    registry: &Registry,
    env: Option<&str>,
    since_us: Option<i64>,
) -> Result<Vec<PhaseStats>, RegistryError> {
    // One pass; no row is materialised beyond the per-phase duration
    // lists.
    let mut by_phase: HashMap<String, HashMap<&'static str, (u64, Vec<i64>)>> = HashMap::new();
    let since = since_us.unwrap_or(i64::MIN);
    let mut kinds_of: HashMap<String, &'static str> = HashMap::new();
    let col = |c: &str| PHASE_EVENTS.index(c).unwrap_or(0);
    let (phase_i, exit_i, duration_i, deployment_i) = (
        col("phase"),
        col("exit_code"),
        col("duration_ms"),
        col("deployment"),
    );
    let mut visit = |r: &dyn crate::db::Row| {
        let phase = r.text(phase_i).unwrap_or_default();
        let exit = r.int(exit_i);
        let duration = r.int(duration_i);
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
        let entry = kinds.entry(kind).or_default();
        match (exit, duration) {
            (Some(0), Some(d)) => entry.1.push(d),
            _ => entry.0 += 1,
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
    let mut out: Vec<PhaseStats> = by_phase
        .into_iter()
        .flat_map(|(phase, kinds)| kinds.into_iter().map(move |(k, v)| ((phase.clone(), k), v)))
        .map(|((phase, kind), (failed, mut ok))| {
            ok.sort_unstable();
            let succeeded = ok.len() as u64;
            let count = succeeded + failed;
            PhaseStats {
                phase,
                kind: kind.to_string(),
                count,
                succeeded,
                failed,
                success_rate: if count == 0 {
                    0.0
                } else {
                    succeeded as f64 / count as f64
                },
                p50_seconds: percentile(&ok, 50.0),
                p95_seconds: percentile(&ok, 95.0),
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
}
