//! The ledger's tables as the chain sees them: data columns in the order
//! they are hashed, the columns naming each row's stream, and a table's own
//! sequence column.

use super::*;

/// A ledger table: its data columns (in the order they are chained), the
/// columns whose values name its stream, and a column that holds the
/// chain's sequence number, if the table numbers rows itself.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub stream: &'static [&'static str],
    pub seq_column: Option<&'static str>,
}

impl Table {
    pub(crate) fn index(&self, col: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == col)
    }

    /// The stream a row belongs to.
    pub fn stream_of(&self, values: &[Value]) -> String {
        self.stream_of_refs(&mut |i| values.get(i).map(Value::as_ref).unwrap_or(ValueRef::Null))
    }

    /// [`Table::stream_of`], reading column `i` through `get`.
    pub fn stream_of_refs<'a>(&self, get: &mut dyn FnMut(usize) -> ValueRef<'a>) -> String {
        let mut s = String::new();
        for (i, col) in self.stream.iter().enumerate() {
            if i > 0 {
                s.push('\u{1f}');
            }
            if let Some(ValueRef::Text(t)) = self.index(col).map(&mut *get) {
                s.push_str(t);
            }
        }
        s
    }

    /// Whether `stored` is the stream of the row whose column `i` `get`
    /// returns, compared without building the name.
    pub fn stream_is<'a>(&self, stored: &str, get: &mut dyn FnMut(usize) -> ValueRef<'a>) -> bool {
        let mut parts = stored.split('\u{1f}');
        for col in self.stream {
            let Some(part) = parts.next() else {
                return false;
            };
            let value = match self.index(col).map(&mut *get) {
                Some(ValueRef::Text(t)) => t,
                _ => "",
            };
            if part != value {
                return false;
            }
        }
        parts.next().is_none()
    }

    /// The index of the table's own sequence column, if it has one.
    pub fn seq_index(&self) -> Option<usize> {
        self.seq_column.and_then(|c| self.index(c))
    }

    /// `SELECT` list of the data columns.
    pub fn select_list(&self) -> String {
        self.columns.join(", ")
    }
}

pub(crate) const RESERVATIONS: Table = Table {
    name: "reservations",
    columns: &[
        "id",
        "env",
        "build_id",
        "date_prefix",
        "seq",
        "generation",
        "actor",
        "reason",
        "at_us",
    ],
    stream: &["env"],
    seq_column: None,
};
pub(crate) const DEPLOYMENT_EVENTS: Table = Table {
    name: "deployment_events",
    columns: &[
        "id",
        "env",
        "deployment",
        "run_id",
        "event",
        "actor",
        "commit_sha",
        "run_url",
        "detail",
        "at_us",
    ],
    stream: &["env", "deployment"],
    seq_column: None,
};
pub(crate) const PHASE_EVENTS: Table = Table {
    name: "phase_events",
    columns: &[
        "id",
        "phase_run",
        "kind",
        "env",
        "deployment",
        "build_id",
        "phase",
        "component",
        "started_us",
        "ended_us",
        "duration_ms",
        "exit_code",
        "added",
        "changed",
        "destroyed",
        "flags",
        "log_path",
        "run_url",
        "actor",
        "commit_sha",
        "source",
        "at_us",
    ],
    // A phase run (its start and its end) is a stream of its own: phases
    // are written by every runner at once, and a stream per deployment would
    // make them wait for each other. Insertions and edits show as for every
    // row; a lone end shows as `phase-without-start`.
    stream: &["phase_run"],
    seq_column: None,
};
pub(crate) const JOURNAL: Table = Table {
    name: "journal",
    columns: &[
        "id",
        "env",
        "deployment",
        "seq",
        "run_id",
        "action_id",
        "stage",
        "component",
        "driver",
        "action",
        "resource",
        "outputs",
        "detail",
        "at_us",
    ],
    stream: &["env", "deployment"],
    seq_column: Some("seq"),
};
pub(crate) const LEASE_EVENTS: Table = Table {
    name: "lease_events",
    columns: &[
        "id",
        "env",
        "deployment",
        "lease_id",
        "kind",
        "holder",
        "expires_us",
        "actor",
        "reason",
        "at_us",
    ],
    stream: &["env", "deployment"],
    seq_column: None,
};
pub(crate) const OVERRIDES: Table = Table {
    name: "overrides",
    columns: &[
        "id",
        "env",
        "deployment",
        "kind",
        "subject",
        "actor",
        "reason",
        "at_us",
    ],
    stream: &["env"],
    seq_column: None,
};
pub(crate) const REQUEST_EVENTS: Table = Table {
    name: "request_events",
    columns: &[
        "id",
        "request_id",
        "kind",
        "env",
        "event",
        "actor",
        "detail",
        "at_us",
    ],
    stream: &["request_id"],
    seq_column: None,
};

/// Every chained table.
pub(crate) const TABLES: [&Table; 7] = [
    &RESERVATIONS,
    &DEPLOYMENT_EVENTS,
    &PHASE_EVENTS,
    &JOURNAL,
    &LEASE_EVENTS,
    &OVERRIDES,
    &REQUEST_EVENTS,
];
