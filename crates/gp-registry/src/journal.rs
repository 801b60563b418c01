//! The action journal: every driver action, before and after it runs. It
//! is what teardown replays, so reading it checks every row against the
//! chain first.

use serde::Serialize;

use crate::chain::JOURNAL;
use crate::db::{DbExt, Named, Value};
use crate::{Heads, Registry, RegistryError, now_us};

/// The stage of a journalled action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Before => "before",
            Stage::After => "after",
            Stage::Failed => "failed",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Stage> {
        match s {
            "before" => Some(Stage::Before),
            "after" => Some(Stage::After),
            "failed" => Some(Stage::Failed),
            _ => None,
        }
    }
}

/// A driver action, journalled before and after it runs.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
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

impl Registry {
    /// Appends a journal entry and returns its sequence number. Retrying
    /// with the same id returns the first write's number.
    pub fn journal_append(&self, e: &JournalEntry) -> Result<i64, RegistryError> {
        let appended = self.append_one(&JOURNAL, journal_values(e))?;
        match appended {
            Some(seq) => Ok(seq),
            // A retry: the first write's number.
            None => Ok(self
                .with(|db| db.scalar("SELECT seq FROM journal WHERE id = ?", &[(&e.id).into()]))?
                .unwrap_or(0)),
        }
    }

    /// Appends several entries: on SQLite in one transaction (a driver that
    /// changes a thousand DNS records journals them as one write), on
    /// PostgreSQL one by one, each chained as [`Self::journal_append`]. An
    /// entry already there (a retry) is skipped.
    pub fn journal_append_many(&self, entries: &[JournalEntry]) -> Result<(), RegistryError> {
        if self.backend() != crate::Backend::Sqlite {
            for e in entries {
                self.journal_append(e)?;
            }
            return Ok(());
        }
        let rows: Vec<Vec<Value>> = entries.iter().map(journal_values).collect();
        self.append_many(&JOURNAL, rows)
    }

    /// A deployment's journal in order. When the registry key is known,
    /// every row is checked against the chain first: a row inserted,
    /// replaced or edited behind goldenpath's back is an error
    /// ([`RegistryError::Tampered`]), never an instruction.
    ///
    /// A read is kept while nothing changed (see `freshness_of`): a run
    /// that checks its deployment's journal before it takes the lease and
    /// then replays it reads and checks it once.
    pub fn journal(&self, env: &str, deployment: &str) -> Result<Vec<JournalRow>, RegistryError> {
        Ok(self.journal_shared(env, deployment)?.as_ref().clone())
    }

    /// [`Self::journal`], shared with the copy kept: nothing is copied.
    pub fn journal_shared(
        &self,
        env: &str,
        deployment: &str,
    ) -> Result<std::sync::Arc<Vec<JournalRow>>, RegistryError> {
        let stream = format!("{env}\u{1f}{deployment}");
        let fresh = self.freshness_of(
            "journal",
            DEPLOYMENT_JOURNAL,
            &[env.into(), deployment.into()],
        )?;
        if let Some((at, rows)) = self.journal_cache().get(&stream)
            && *at == fresh
        {
            return Ok(rows.clone());
        }
        let rows = std::sync::Arc::new(self.journal_read(env, deployment)?);
        let mut cache = self.journal_cache();
        if cache.len() >= JOURNALS_KEPT {
            cache.clear();
        }
        cache.insert(stream, (fresh, rows.clone()));
        Ok(rows)
    }

    fn journal_read(&self, env: &str, deployment: &str) -> Result<Vec<JournalRow>, RegistryError> {
        let stream = format!("{env}\u{1f}{deployment}");
        // As many rows as the head file said the stream had when the
        // registry was opened (bounded: the file is checked, but a hint
        // never decides an allocation's size): read into one allocation,
        // not grown and copied a dozen times.
        let hint = self
            .trust
            .known_heads
            .get(&crate::chain::head_key(JOURNAL.name, &stream))
            .map_or(0, |h| {
                usize::try_from(h.seq).unwrap_or(0).min(JOURNAL_ROWS_HINTED)
            });
        let mut out = Vec::with_capacity(hint);
        let mut problem: Option<RegistryError> = None;
        self.streams_trusted(
            &JOURNAL,
            DEPLOYMENT_JOURNAL,
            &[env.into(), deployment.into()],
            Heads::Stream(&stream),
            &mut |r| {
                let n = Named(r);
                let id = n.string("id");
                let stage = n.string("stage");
                let Some(stage) = Stage::parse(&stage) else {
                    problem.get_or_insert(RegistryError::Tampered {
                        table: "journal".into(),
                        id,
                        why: format!("has an unknown stage `{stage}`"),
                    });
                    return Ok(());
                };
                out.push(JournalRow {
                    seq: n.int("seq").unwrap_or(0),
                    entry: JournalEntry {
                        id,
                        env: n.string("env"),
                        deployment: n.string("deployment"),
                        run_id: n.text("run_id"),
                        action_id: n.string("action_id"),
                        stage,
                        component: n.string("component"),
                        driver: n.string("driver"),
                        action: n.string("action"),
                        resource: n.string("resource"),
                        outputs: n.json("outputs"),
                        detail: n.text("detail"),
                    },
                    at_us: n.int("at_us").unwrap_or(0),
                });
                Ok(())
            },
        )
        .map_err(|e| match e {
            RegistryError::Tampered { table, id, why } => RegistryError::Tampered {
                table,
                id,
                why: format!("(the journal of {deployment} in {env}) {why}"),
            },
            other => other,
        })?;
        if let Some(p) = problem {
            return Err(p);
        }
        // Rows from before chaining come first, in no chain order.
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }
}

/// A journal entry's column values, as the `journal` table takes them.
fn journal_values(e: &JournalEntry) -> Vec<Value> {
    vec![
        (&e.id).into(),
        (&e.env).into(),
        (&e.deployment).into(),
        Value::Int(None), // numbered by the chain
        e.run_id.clone().into(),
        (&e.action_id).into(),
        e.stage.as_str().into(),
        (&e.component).into(),
        (&e.driver).into(),
        (&e.action).into(),
        (&e.resource).into(),
        e.outputs.as_ref().map(|o| o.to_string()).into(),
        e.detail.clone().into(),
        now_us().into(),
    ]
}

/// The rows of one deployment's journal (`env`, `deployment`), as every
/// read of a whole journal selects them.
pub(crate) const DEPLOYMENT_JOURNAL: &str = "env = ? AND deployment = ?";

/// How many deployments' journals a process keeps read (a server reads
/// many; a run, its own and the foundational plane's).
const JOURNALS_KEPT: usize = 8;

/// Each deployment's journal as last read through the chain, and when.
/// The most rows a journal read reserves from the head file's hint.
const JOURNAL_ROWS_HINTED: usize = 16_384;

pub(crate) type JournalCache =
    std::collections::HashMap<String, ([i64; 3], std::sync::Arc<Vec<JournalRow>>)>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, new_id};

    fn entry(deployment: &str, action_id: &str) -> JournalEntry {
        JournalEntry {
            id: new_id(),
            env: "dev".into(),
            deployment: deployment.into(),
            run_id: Some("run".into()),
            action_id: action_id.into(),
            stage: Stage::Before,
            component: "web".into(),
            driver: "exec".into(),
            action: "create".into(),
            resource: "exec web".into(),
            outputs: None,
            detail: None,
        }
    }

    /// Another process's connection to the same file: its commits are
    /// what SQLite's `data_version` counts.
    fn elsewhere(dir: &tempfile::TempDir, sql: &str) {
        let conn = rusqlite::Connection::open(dir.path().join("registry.db")).unwrap();
        conn.execute_batch(sql).unwrap();
    }

    #[test]
    fn a_journal_is_kept_while_nothing_changed_and_read_again_after_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        reg.journal_append(&entry("persistent", "a")).unwrap();
        let first = reg.journal_shared("dev", "persistent").unwrap();
        // Nothing changed: the same read, not a copy.
        let again = reg.journal_shared("dev", "persistent").unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        assert_eq!(reg.journal("dev", "persistent").unwrap(), *first);
        // This process wrote (to another deployment): read again, the same rows.
        reg.journal_append(&entry("foundational", "f")).unwrap();
        let after_own = reg.journal_shared("dev", "persistent").unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &after_own));
        assert_eq!(*after_own, *first);
        // This process wrote elsewhere than the journal (an override, as
        // a lease or a phase would): the read stands.
        reg.record_override(&crate::Override {
            id: new_id(),
            env: "dev".into(),
            deployment: Some("persistent".into()),
            kind: "guard".into(),
            subject: "s".into(),
            actor: "a".into(),
            reason: "r".into(),
            at_us: 1,
        })
        .unwrap();
        assert!(std::sync::Arc::ptr_eq(
            &after_own,
            &reg.journal_shared("dev", "persistent").unwrap()
        ));
        // A write of its own deployment is in the next read.
        reg.journal_append(&entry("persistent", "b")).unwrap();
        assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 2);
        // Another process's commit, even to an unrelated table, moves it too.
        let kept = reg.journal_shared("dev", "persistent").unwrap();
        elsewhere(&dir, "CREATE TABLE unrelated (x INTEGER)");
        assert!(!std::sync::Arc::ptr_eq(
            &kept,
            &reg.journal_shared("dev", "persistent").unwrap()
        ));
        // Each deployment is kept apart, beside the others: a run reads its
        // own journal and the foundational plane's in turn.
        assert_eq!(reg.journal("dev", "foundational").unwrap().len(), 1);
        let own = reg.journal_shared("dev", "persistent").unwrap();
        let plane = reg.journal_shared("dev", "foundational").unwrap();
        assert!(std::sync::Arc::ptr_eq(
            &own,
            &reg.journal_shared("dev", "persistent").unwrap()
        ));
        assert!(std::sync::Arc::ptr_eq(
            &plane,
            &reg.journal_shared("dev", "foundational").unwrap()
        ));
        // At most JOURNALS_KEPT deployments are kept.
        for i in 0..3 * JOURNALS_KEPT {
            reg.journal_shared("dev", &format!("d{i}")).unwrap();
            assert!(reg.journal_cache().len() <= JOURNALS_KEPT);
        }
    }

    #[test]
    fn a_batch_goes_in_as_its_rows_would_one_by_one_across_statements_and_streams() {
        use crate::chain::ROWS_PER_INSERT;
        // Sizes on each side of a statement's bound, streams interleaved
        // (a run of one stream, another, the first again).
        for n in [
            1,
            ROWS_PER_INSERT - 1,
            ROWS_PER_INSERT,
            ROWS_PER_INSERT + 1,
            2 * ROWS_PER_INSERT + 3,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
            reg.journal_append(&entry("persistent", "first")).unwrap();
            let mut batch: Vec<JournalEntry> = (0..n)
                .map(|i| entry("persistent", &format!("p{i}")))
                .collect();
            batch.extend((0..3).map(|i| entry("foundational", &format!("f{i}"))));
            batch.extend((0..n).map(|i| entry("persistent", &format!("q{i}"))));
            reg.journal_append_many(&batch).unwrap();
            // Every row read back through the chain, in order, numbered
            // without gaps after the row that was there.
            let rows = reg.journal("dev", "persistent").unwrap();
            let ids: Vec<&str> = rows.iter().map(|r| r.entry.action_id.as_str()).collect();
            let want: Vec<String> = std::iter::once("first".to_string())
                .chain((0..n).map(|i| format!("p{i}")))
                .chain((0..n).map(|i| format!("q{i}")))
                .collect();
            assert_eq!(ids, want, "{n}");
            let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
            assert_eq!(seqs, (1..=(2 * n as i64 + 1)).collect::<Vec<_>>(), "{n}");
            assert_eq!(reg.journal("dev", "foundational").unwrap().len(), 3);
            // The next single append chains to the batch's last row.
            reg.journal_append(&entry("persistent", "last")).unwrap();
            assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 2 * n + 2);
            // The same batch again is a retry: nothing is added.
            reg.journal_append_many(&batch).unwrap();
            assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 2 * n + 2);
        }
    }

    #[test]
    fn a_registry_closed_at_exit_is_closed_as_a_dropped_one_is() {
        let (reg, dir) = crate::checked::tests::sqlite();
        reg.journal_append_many(&[entry("persistent", "a"), entry("persistent", "b")])
            .unwrap();
        // Kept in memory: what closing at exit leaves to the system.
        assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 2);
        reg.close_at_exit();
        // Closed: SQLite's last connection checkpointed and removed its
        // write-ahead log, and the head file names the journal's last row.
        assert!(!dir.path().join("registry.db-wal").exists());
        let text = std::fs::read_to_string(dir.path().join("registry.head")).unwrap();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let key = crate::chain::head_key(JOURNAL.name, "dev\u{1f}persistent");
        assert_eq!(file["heads"][key.as_str()]["seq"], 2, "{file}");
        let reg = crate::checked::tests::reopen(&dir);
        assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 2);
        assert!(reg.verify().unwrap().is_empty());
    }

    #[test]
    fn a_batchs_last_row_is_its_streams_head_so_cutting_it_shows() {
        use crate::chain::ROWS_PER_INSERT;
        let (reg, dir) = crate::checked::tests::sqlite();
        let batch: Vec<JournalEntry> = (0..ROWS_PER_INSERT + 2)
            .map(|i| entry("persistent", &format!("p{i}")))
            .collect();
        reg.journal_append_many(&batch).unwrap();
        drop(reg);
        let reg = crate::checked::tests::reopen(&dir);
        assert_eq!(
            reg.journal("dev", "persistent").unwrap().len(),
            ROWS_PER_INSERT + 2
        );
        crate::checked::tests::sql(
            &reg,
            &format!(
                "DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE chain_seq = {}",
                ROWS_PER_INSERT + 2
            ),
        );
        match reg.journal("dev", "persistent") {
            Err(RegistryError::Tampered { why, .. }) => {
                assert!(why.contains("deleted from its end"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_batch_one_of_whose_rows_collides_is_refused_whole() {
        use crate::chain::ROWS_PER_INSERT;
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        let there = entry("persistent", "there");
        reg.journal_append(&there).unwrap();
        // A fresh first row, then (in the second statement) a row whose id
        // is already there: the schema refuses it and nothing of the batch
        // stays.
        let mut batch: Vec<JournalEntry> = (0..ROWS_PER_INSERT + 5)
            .map(|i| entry("persistent", &format!("p{i}")))
            .collect();
        batch[ROWS_PER_INSERT + 2].id = there.id.clone();
        let e = reg.journal_append_many(&batch).unwrap_err();
        assert!(e.to_string().contains("cannot be replaced"), "{e}");
        assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 1);
    }

    #[test]
    fn a_row_forged_or_edited_by_another_process_after_a_kept_read_fails_the_next_read() {
        for forge in [
            // Inserted without the key.
            "INSERT INTO journal (id, env, deployment, seq, run_id, action_id, stage, component, driver, action, resource, at_us) \
             VALUES ('forged', 'dev', 'persistent', 99, 'run', 'x', 'after', 'web', 'exec', 'create', 'exec web', 1)",
            // Edited, the append-only trigger dropped first.
            "DROP TRIGGER journal_no_update; UPDATE journal SET component = 'db' WHERE action_id = 'a'",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
            reg.journal_append(&entry("persistent", "a")).unwrap();
            assert_eq!(reg.journal("dev", "persistent").unwrap().len(), 1);
            elsewhere(&dir, forge);
            for _ in 0..2 {
                assert!(
                    matches!(
                        reg.journal_shared("dev", "persistent"),
                        Err(RegistryError::Tampered { .. })
                    ),
                    "{forge}"
                );
            }
        }
    }

    #[test]
    fn the_generation_moves_with_every_write_here_or_elsewhere_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&Location::Sqlite(dir.path().join("registry.db"))).unwrap();
        let g0 = reg.generation().unwrap().unwrap();
        reg.journal("dev", "persistent").unwrap();
        assert_eq!(
            reg.generation().unwrap().unwrap(),
            g0,
            "a read moves nothing"
        );
        reg.journal_append(&entry("persistent", "a")).unwrap();
        let g1 = reg.generation().unwrap().unwrap();
        assert_ne!(g1, g0, "a write of this process");
        elsewhere(&dir, "CREATE TABLE unrelated (x INTEGER)");
        let g2 = reg.generation().unwrap().unwrap();
        assert_ne!(g2, g1, "another process's commit");
        assert_eq!(reg.generation().unwrap().unwrap(), g2);
    }
}
