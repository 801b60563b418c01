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
    pub fn journal(&self, env: &str, deployment: &str) -> Result<Vec<JournalRow>, RegistryError> {
        let stream = format!("{env}\u{1f}{deployment}");
        let mut out = Vec::new();
        let mut problem: Option<RegistryError> = None;
        self.streams_trusted(
            &JOURNAL,
            "env = ? AND deployment = ?",
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
