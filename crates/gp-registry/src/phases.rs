//! Phases: timed steps (a component's apply, a Terraform plan, a
//! teardown), recorded as a start and an end event.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::chain::PHASE_EVENTS;
use crate::db::{DbExt, Named, Row, Value};
use crate::{Registry, RegistryError, Tx, now_us};

/// How a set of finished runs ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcomes {
    /// Runs.
    pub runs: i64,
    /// Runs that succeeded.
    pub succeeded: i64,
    /// Runs that failed.
    pub failed: i64,
    /// Runs that were aborted.
    pub aborted: i64,
    /// Runs with no result recorded.
    pub unknown: i64,
}

impl Outcomes {
    /// Counts one run.
    pub fn count(&mut self, r: PhaseResult) {
        self.runs += 1;
        match r {
            PhaseResult::Success => self.succeeded += 1,
            PhaseResult::Failed => self.failed += 1,
            PhaseResult::Aborted => self.aborted += 1,
            PhaseResult::Unknown => self.unknown += 1,
        }
    }

    /// Runs with a known result.
    pub fn known(&self) -> i64 {
        self.runs - self.unknown
    }

    /// Successes over runs with a known result; none without one.
    pub fn success_rate(&self) -> Option<f64> {
        let known = self.known();
        (known > 0).then(|| self.succeeded as f64 / known as f64)
    }
}

/// One phase: a timed step (a component's apply, a Terraform plan, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Default, schemars::JsonSchema)]
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
    /// For a phase read from a `build_timings.csv`: the file and its cells
    /// as written, which export writes back.
    pub imported: Option<ImportedRow>,
}

/// A phase imported from history: where from, and its cells as written.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ImportedRow {
    /// The file it came from, as given to `registry import`.
    pub file: String,
    /// Every cell of its row, by column name, as written (a spreadsheet's
    /// `'` escape taken off).
    pub cells: std::collections::BTreeMap<String, String>,
}

impl ImportedRow {
    /// The `source` column's text.
    pub(crate) fn to_source(&self) -> String {
        serde_json::json!({"import": self.file, "cells": self.cells}).to_string()
    }

    /// Reads the `source` column back.
    pub(crate) fn from_source(source: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(source).ok()?;
        Some(Self {
            file: v.get("import")?.as_str()?.to_string(),
            cells: serde_json::from_value(v.get("cells")?.clone()).ok()?,
        })
    }
}

impl Phase {
    /// Duration in milliseconds, once ended.
    pub fn duration_ms(&self) -> Option<i64> {
        self.ended_us.map(|e| (e - self.started_us) / 1000)
    }

    /// How the run ended (see [`PhaseResult`]).
    pub fn result(&self) -> PhaseResult {
        PhaseResult::of(
            self.exit_code,
            self.duration_ms(),
            [self.added, self.changed, self.destroyed],
        )
    }
}

/// How a finished run ended. Every row has one: a row without an exit code
/// (the oldest history layout) is `unknown`, never counted as a success or
/// a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PhaseResult {
    /// Exit code 0.
    Success,
    /// A non-zero exit that ran for a while or changed something.
    Failed,
    /// A non-zero exit within [`PhaseResult::ABORTED_WITHIN_MS`] that
    /// changed nothing: a precondition that stopped the run.
    Aborted,
    /// No exit code recorded.
    Unknown,
}

impl PhaseResult {
    /// A non-zero exit this quick that changed nothing is an abort.
    pub const ABORTED_WITHIN_MS: i64 = 5_000;

    /// The result of a run from its exit code, its duration and its
    /// resource counts (added, changed, destroyed; unknown counts as none).
    pub fn of(exit_code: Option<i64>, duration_ms: Option<i64>, counts: [Option<i64>; 3]) -> Self {
        match exit_code {
            None => Self::Unknown,
            Some(0) => Self::Success,
            Some(_)
                if duration_ms.is_some_and(|d| d < Self::ABORTED_WITHIN_MS)
                    && counts.iter().all(|c| c.is_none_or(|n| n == 0)) =>
            {
                Self::Aborted
            }
            Some(_) => Self::Failed,
        }
    }

    /// Whether the result is known (anything but [`PhaseResult::Unknown`]).
    pub fn is_known(self) -> bool {
        self != Self::Unknown
    }

    /// The result's name, as JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Unknown => "unknown",
        }
    }
}

pub(crate) fn phase_row(r: &dyn Row) -> Phase {
    let r = Named(r);
    Phase {
        run: r.string("phase_run"),
        env: r.string("env"),
        deployment: r.string("deployment"),
        build_id: r.string("build_id"),
        phase: r.string("phase"),
        component: r.text("component"),
        started_us: r.int("started_us").unwrap_or_default(),
        ended_us: r.int("ended_us"),
        exit_code: r.int("exit_code"),
        added: r.int("added"),
        changed: r.int("changed"),
        destroyed: r.int("destroyed"),
        flags: r.text("flags"),
        log_path: r.text("log_path"),
        run_url: r.text("run_url"),
        actor: r.text("actor"),
        commit_sha: r.text("commit_sha"),
        imported: r
            .text("source")
            .filter(|s| s.starts_with('{'))
            .and_then(|s| ImportedRow::from_source(&s)),
    }
}

/// The row of the start or end event of a phase.
fn phase_values(p: &Phase, kind: &str, source: &str) -> Vec<Value> {
    let end = kind == "end";
    let only_end = |v: Option<i64>| -> Value { if end { v.into() } else { Value::Int(None) } };
    vec![
        format!("{}:{kind}", p.run).into(),
        (&p.run).into(),
        kind.into(),
        (&p.env).into(),
        (&p.deployment).into(),
        (&p.build_id).into(),
        (&p.phase).into(),
        p.component.clone().into(),
        p.started_us.into(),
        only_end(p.ended_us),
        only_end(p.duration_ms()),
        only_end(p.exit_code),
        only_end(p.added),
        only_end(p.changed),
        only_end(p.destroyed),
        p.flags.clone().into(),
        p.log_path.clone().into(),
        p.run_url.clone().into(),
        p.actor.clone().into(),
        p.commit_sha.clone().into(),
        source.into(),
        now_us().into(),
    ]
}

/// Appends the start or end event of a phase (idempotent per phase run).
pub(crate) fn insert_phase(
    tx: &mut Tx<'_>,
    p: &Phase,
    kind: &str,
    source: &str,
) -> Result<bool, RegistryError> {
    tx.append_once(&PHASE_EVENTS, phase_values(p, kind, source))
}

impl Registry {
    /// Records the start of a phase. Idempotent per phase run.
    pub fn phase_start(&self, p: &Phase) -> Result<(), RegistryError> {
        // A start is the first row of its phase run's stream.
        let taken = self.append_one_at(
            &PHASE_EVENTS,
            phase_values(p, "start", "goldenpath"),
            Some((1, String::new())),
        )?;
        if let Some((_, mac)) = taken {
            self.phase_starts().insert(p.run.clone(), mac);
        }
        Ok(())
    }

    /// Records the end of a phase (with its start fields repeated, so that
    /// reports read one row). Idempotent per phase run.
    pub fn phase_end(&self, p: &Phase) -> Result<(), RegistryError> {
        let start = self.phase_starts().remove(&p.run);
        self.append_one_at(
            &PHASE_EVENTS,
            phase_values(p, "end", "goldenpath"),
            start.map(|mac| (2, mac)),
        )?;
        Ok(())
    }

    /// Finished phases of a deployment (or of every deployment of `env`),
    /// oldest first. Each row is checked: one that does not check out is
    /// an error.
    pub fn phases(&self, env: &str, deployment: Option<&str>) -> Result<Vec<Phase>, RegistryError> {
        let mut out = Vec::new();
        let mut keep = |r: &dyn Row| {
            out.push(phase_row(r));
            Ok(())
        };
        match deployment {
            Some(d) => self.rows_trusted(
                &PHASE_EVENTS,
                "t.kind = 'end' AND t.env = ? AND t.deployment = ?",
                "ORDER BY t.started_us, t.phase_run",
                &[env.into(), d.into()],
                &mut keep,
            )?,
            None => self.rows_trusted(
                &PHASE_EVENTS,
                "t.kind = 'end' AND t.env = ?",
                "ORDER BY t.started_us, t.phase_run",
                &[env.into()],
                &mut keep,
            )?,
        }
        Ok(out)
    }

    /// The newest `limit` finished runs of `phase` over builds of `env`
    /// (not the persistent deployment or the foundational plane), oldest
    /// first: what the dashboard's history charts draw without reading
    /// every phase the registry holds.
    pub fn recent_build_phases(
        &self,
        env: &str,
        phase: &str,
        limit: usize,
    ) -> Result<Vec<Phase>, RegistryError> {
        self.newest_ends(
            "t.kind = 'end' AND t.env = ? AND t.phase = ? AND t.build_id <> ''",
            [env, phase],
            limit,
        )
    }

    /// The newest `limit` finished runs of one deployment, every phase,
    /// oldest first (read by a range over the deployment's index).
    pub fn recent_deployment_phases(
        &self,
        env: &str,
        deployment: &str,
        limit: usize,
    ) -> Result<Vec<Phase>, RegistryError> {
        self.newest_ends(
            "t.env = ? AND t.deployment = ? AND t.kind = 'end'",
            [env, deployment],
            limit,
        )
    }

    /// The newest `limit` finished runs `filter` (two parameters) selects,
    /// oldest first, each checked.
    fn newest_ends(
        &self,
        filter: &str,
        params: [&str; 2],
        limit: usize,
    ) -> Result<Vec<Phase>, RegistryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut v = Vec::new();
        self.rows_trusted(
            &PHASE_EVENTS,
            filter,
            "ORDER BY t.started_us DESC, t.phase_run DESC LIMIT ?",
            &[params[0].into(), params[1].into(), limit.into()],
            &mut |r| {
                v.push(phase_row(r));
                Ok(())
            },
        )?;
        v.reverse();
        Ok(v)
    }

    /// How the finished runs of `phase` over builds of `env` ended.
    pub fn build_phase_outcomes(&self, env: &str, phase: &str) -> Result<Outcomes, RegistryError> {
        let mut o = Outcomes::default();
        self.rows_trusted(
            &PHASE_EVENTS,
            "t.kind = 'end' AND t.env = ? AND t.phase = ? AND t.build_id <> ''",
            "",
            &[env.into(), phase.into()],
            &mut |r| {
                o.count(phase_row(r).result());
                Ok(())
            },
        )?;
        Ok(o)
    }

    /// The `limit` longest finished component phases of `env` by their
    /// recorded duration, longest first (read by a range over an index).
    pub fn slowest_phases(&self, env: &str, limit: usize) -> Result<Vec<Phase>, RegistryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut v = Vec::new();
        self.rows_trusted(
            &PHASE_EVENTS,
            "t.kind = 'end' AND t.env = ? AND t.component IS NOT NULL AND t.duration_ms IS NOT NULL",
            "ORDER BY t.duration_ms DESC, t.phase_run LIMIT ?",
            &[env.into(), limit.into()],
            &mut |r| {
                v.push(phase_row(r));
                Ok(())
            },
        )?;
        Ok(v)
    }

    /// Every finished phase of every environment (imported history
    /// included), oldest first.
    pub fn all_phases(&self) -> Result<Vec<Phase>, RegistryError> {
        let mut v = Vec::new();
        self.rows_trusted(
            &PHASE_EVENTS,
            "t.kind = 'end'",
            "ORDER BY t.started_us, t.phase_run",
            &[],
            &mut |r| {
                v.push(phase_row(r));
                Ok(())
            },
        )?;
        Ok(v)
    }

    /// Phases that started and have not ended, of a deployment.
    pub fn open_phases(&self, env: &str, deployment: &str) -> Result<Vec<Phase>, RegistryError> {
        let mut starts: BTreeMap<String, Phase> = BTreeMap::new();
        let mut ended = BTreeSet::new();
        self.rows_trusted(
            &PHASE_EVENTS,
            "t.env = ? AND t.deployment = ?",
            "",
            &[env.into(), deployment.into()],
            &mut |r| {
                let p = phase_row(r);
                if Named(r).text("kind").as_deref() == Some("end") {
                    ended.insert(p.run);
                } else {
                    starts.insert(p.run.clone(), p);
                }
                Ok(())
            },
        )?;
        let mut open: Vec<Phase> = starts
            .into_values()
            .filter(|p| !ended.contains(&p.run))
            .collect();
        open.sort_by_key(|p| p.started_us);
        Ok(open)
    }

    /// Counts phase events (start and end rows), for tests and verify.
    pub fn count_phase_events(&self) -> Result<i64, RegistryError> {
        self.with(|db| {
            Ok(db
                .scalar("SELECT COUNT(*) FROM phase_events", &[])?
                .unwrap_or(0))
        })
    }

    pub(crate) fn insert_imported_phase(&self, p: &Phase) -> Result<bool, RegistryError> {
        // The same phase of the same deployment at the precision CSV
        // carries — the start to the
        // second, the duration to the millisecond (the end is stored as
        // start + duration) — so a registry's own export imported back into
        // it, or a file imported twice, adds nothing.
        let second = |us: i64| us.div_euclid(1_000_000) * 1_000_000;
        let start = second(p.started_us);
        self.tx(Some("import"), |tx| {
            let exists = match p.duration_ms() {
                Some(ms) => tx.db.scalar(
                    "SELECT COUNT(*) FROM phase_events WHERE kind = 'end' AND env = ? AND deployment = ? AND phase = ? AND started_us >= ? AND started_us < ? AND (ended_us - started_us) / 1000 = ?",
                    &[(&p.env).into(), (&p.deployment).into(), (&p.phase).into(), start.into(), (start + 1_000_000).into(), ms.into()],
                )?,
                None => tx.db.scalar(
                    "SELECT COUNT(*) FROM phase_events WHERE kind = 'end' AND env = ? AND deployment = ? AND phase = ? AND started_us >= ? AND started_us < ? AND ended_us IS NULL",
                    &[(&p.env).into(), (&p.deployment).into(), (&p.phase).into(), start.into(), (start + 1_000_000).into()],
                )?,
            };
            if exists.unwrap_or(0) > 0 {
                return Ok(false);
            }
            let source = p
                .imported
                .as_ref()
                .map(ImportedRow::to_source)
                .unwrap_or_else(|| "import".into());
            insert_phase(tx, p, "start", &source)?;
            insert_phase(tx, p, "end", &source)?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Outcomes, Phase, PhaseResult};

    #[test]
    fn the_newest_runs_are_of_their_deployment_or_phase_only_oldest_first_and_at_most_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let reg = crate::Registry::open(&crate::Location::Sqlite(dir.path().join("registry.db")))
            .unwrap();
        for i in 0..12i64 {
            let (deployment, build_id) = match i % 3 {
                0 => ("persistent", ""),
                1 => ("23-01-26-01", "23-01-26-01"),
                _ => ("23-01-26-02", "23-01-26-02"),
            };
            let p = Phase {
                run: format!("r{i:02}"),
                env: if i == 11 { "test" } else { "dev" }.into(),
                deployment: deployment.into(),
                build_id: build_id.into(),
                phase: if i % 2 == 0 { "plan" } else { "deploy" }.into(),
                // Started out of order: the newest are by start, not by write.
                started_us: 1_000_000 * ((i * 7) % 12),
                ended_us: Some(1_000_000 * ((i * 7) % 12) + 500_000),
                exit_code: Some(0),
                ..Default::default()
            };
            reg.phase_start(&p).unwrap();
            if i != 10 {
                reg.phase_end(&p).unwrap();
            }
        }
        let runs = |v: Vec<Phase>| v.into_iter().map(|p| p.run).collect::<Vec<_>>();
        // dev, 23-01-26-01: r01, r04, r07 (r10 unfinished); started at 7, 4, 1.
        assert_eq!(
            runs(
                reg.recent_deployment_phases("dev", "23-01-26-01", 10)
                    .unwrap()
            ),
            ["r07", "r04", "r01"]
        );
        assert_eq!(
            runs(
                reg.recent_deployment_phases("dev", "23-01-26-01", 2)
                    .unwrap()
            ),
            ["r04", "r01"],
            "the newest two, oldest first"
        );
        assert!(
            reg.recent_deployment_phases("prod", "persistent", 10)
                .unwrap()
                .is_empty()
        );
        // Build deploys of dev: r07, r01, r05 by start (1, 7, 11; r11 is
        // test's); persistent's r03 and r09 are no build's.
        assert_eq!(
            runs(reg.recent_build_phases("dev", "deploy", 10).unwrap()),
            ["r07", "r01", "r05"]
        );
        assert_eq!(
            runs(reg.recent_build_phases("dev", "deploy", 1).unwrap()),
            ["r05"]
        );
    }

    #[test]
    fn every_run_has_a_result_and_only_quick_changeless_exits_are_aborts() {
        use PhaseResult::*;
        let none = [None, None, None];
        for (exit, ms, counts, want) in [
            (None, Some(10), none, Unknown),
            (None, None, none, Unknown),
            (Some(0), Some(1), none, Success),
            (Some(0), None, [Some(3), None, None], Success),
            (Some(1), Some(400), none, Aborted),
            (Some(2), Some(4_999), [Some(0), Some(0), Some(0)], Aborted),
            (Some(-1), Some(0), none, Aborted),
            (Some(1), Some(5_000), none, Failed),
            (Some(1), Some(400), [Some(1), None, None], Failed),
            (Some(1), Some(400), [None, Some(1), None], Failed),
            (Some(1), Some(400), [None, None, Some(1)], Failed),
            (Some(1), None, none, Failed),
        ] {
            assert_eq!(
                PhaseResult::of(exit, ms, counts),
                want,
                "{exit:?} {ms:?} {counts:?}"
            );
            assert_eq!(want.is_known(), want != Unknown);
        }
        assert_eq!(
            [Success, Failed, Aborted, Unknown].map(PhaseResult::as_str),
            ["success", "failed", "aborted", "unknown"]
        );
    }

    #[test]
    fn outcomes_rate_only_known_results() {
        let mut o = Outcomes::default();
        assert_eq!(o.success_rate(), None);
        o.count(PhaseResult::Unknown);
        assert_eq!((o.runs, o.known(), o.success_rate()), (1, 0, None));
        for r in [
            PhaseResult::Success,
            PhaseResult::Failed,
            PhaseResult::Aborted,
            PhaseResult::Success,
        ] {
            o.count(r);
        }
        assert_eq!(
            (o.runs, o.succeeded, o.failed, o.aborted, o.unknown),
            (5, 2, 1, 1, 1)
        );
        assert_eq!(o.known(), 4);
        assert_eq!(o.success_rate(), Some(0.5));
    }
}
