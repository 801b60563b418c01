//! The one read path: every row a command decides from is checked against
//! its chain as it is read.
//!
//! Two ways, one check ([`Checker::verdict`]):
//!
//! - [`read_streams`]: whole streams (a deployment's events, an
//!   environment's reservations, a request's events), selected by their
//!   stream columns and read in chain order. Each chained row's HMAC is
//!   recomputed from its predecessor's, positions run without gaps, and a
//!   stream whose tail was cut shows against the head file. What decides
//!   reads this way.
//! - [`read_rows`]: any selection (the slowest phases, events after a
//!   cursor), each row checked against the HMAC of the row before it in
//!   its stream, looked up beside it. A row that is returned is as written;
//!   a row deleted from the middle of a stream shows on the row after it.
//!
//! A row without an HMAC passes only as one of the rows sealed before
//! chaining existed, and only while the table holds exactly those. What
//! does not check out is a [`Tampered`]: a command that decides refuses
//! (exit 3), a view shows it as tampered. `registry verify` runs the same
//! [`Checker`] over every stream.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use crate::chain::{self, ChainKey, Head, Table};
use crate::db::{Db, DbExt, Row, Value, ValueRef};
use crate::{Registry, RegistryError};

/// A stream, or a row of one, that does not check out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tampered {
    /// The table (`registry.head` for the head file).
    pub table: String,
    /// The stream (`env/deployment`, a request id, ...).
    pub stream: String,
    /// The row, when one is to blame (empty: rows are missing).
    pub id: String,
    /// `chain-broken` (a row inserted, replaced, edited or reordered),
    /// `chain-unsealed` (a row without its HMAC), `chain-truncated` (rows
    /// deleted from a stream's end) or `head-file`: the checks of
    /// `registry verify`.
    pub check: String,
    /// What is wrong.
    pub why: String,
}

impl Tampered {
    /// As the error every deciding command stops with.
    pub fn into_error(self) -> RegistryError {
        RegistryError::Tampered {
            table: self.table,
            id: if self.id.is_empty() {
                self.stream
            } else {
                self.id
            },
            why: self.why,
        }
    }

    /// One line: the table, the row (or stream) and what is wrong.
    pub fn describe(&self) -> String {
        if self.id.is_empty() {
            format!("{} stream {} {}", self.table, self.stream, self.why)
        } else {
            format!("{} row `{}` {}", self.table, self.id, self.why)
        }
    }
}

/// Which streams' heads a read answers for: truncation is checked against
/// the head file for the streams a read covers.
#[derive(Clone, Copy)]
pub(crate) enum Heads<'s> {
    /// One stream.
    Stream(&'s str),
    /// Every stream whose name starts so (`env` + the separator).
    Prefix(&'s str),
    /// Every stream of the table.
    All,
}

/// What the registry knows to check rows against, fixed when it opens.
#[derive(Default)]
pub(crate) struct Trust {
    /// Rows written before chaining existed, sealed per table.
    pub legacy: BTreeMap<String, i64>,
    /// The head file as it was when the registry was opened (when it
    /// checked out against its anchor).
    pub known_heads: BTreeMap<String, Head>,
    /// Why the head file cannot be trusted (deleted, rolled back, edited).
    pub head_problem: Option<String>,
    /// Where the head file is.
    pub head_path: Option<PathBuf>,
    /// Tables whose rows from before chaining were found to match their
    /// seal (checked once per process: the rows are read in full).
    pub sealed_ok: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
}

impl Trust {
    fn head_error(&self) -> Option<RegistryError> {
        self.head_problem.as_ref().map(|p| RegistryError::Tampered {
            table: "registry.head".into(),
            id: self
                .head_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            why: p.clone(),
        })
    }

    /// Whether the rows of `table` without an HMAC are exactly the ones
    /// sealed before chaining: as many (counted through a partial index)
    /// and, once per process, the very rows of the seal's digest — a row
    /// swapped for another, in any stream, does not pass.
    fn legacy_ok(
        &self,
        db: &mut dyn Db,
        key: &ChainKey,
        table: &'static Table,
    ) -> Result<bool, RegistryError> {
        let sealed = self.legacy.get(table.name).copied().unwrap_or(0);
        if sealed == 0 {
            return Ok(false);
        }
        let unchained = db.scalar(
            &format!(
                "SELECT COUNT(*) FROM {} WHERE chain_mac IS NULL",
                table.name
            ),
            &[],
        )?;
        if unchained != Some(sealed) {
            return Ok(false);
        }
        let mut checked = self.sealed_ok.lock().unwrap_or_else(|p| p.into_inner());
        if checked.contains(table.name) {
            return Ok(true);
        }
        let width = table.columns.len();
        let rows = db.rows(
            &format!(
                "SELECT {} FROM {} WHERE chain_mac IS NULL ORDER BY id",
                table.select_list(),
                table.name
            ),
            &[],
            |r| (0..width).map(|i| r.value(i)).collect::<Vec<_>>(),
        )?;
        let digest = db.rows(
            "SELECT digest FROM chain_seals WHERE tbl = ?",
            &[table.name.into()],
            |r| r.string(0),
        )?;
        let ok = digest.first() == Some(&chain::seal_digest(key, table.name, &rows));
        if ok {
            checked.insert(table.name);
        }
        Ok(ok)
    }
}

/// What happens to a row without an HMAC.
pub(crate) enum Unchained<'v> {
    /// It is one of the sealed rows from before chaining.
    Accept,
    /// It was inserted behind goldenpath's back.
    Refuse,
    /// Kept for the caller to compare against the seal (`registry verify`).
    Collect(&'v mut Vec<Vec<Value>>),
}

/// Checks rows read in (stream, position) order.
pub(crate) struct Checker<'k, 'v> {
    key: &'k ChainKey,
    table: &'static Table,
    unchained: Unchained<'v>,
    legacy_per_stream: HashMap<String, i64>,
    stream: Option<String>,
    expected: i64,
    prev: String,
    broken: bool,
    /// The newest (position, HMAC) of every stream read.
    pub tips: BTreeMap<String, (i64, String)>,
    pub tampered: Vec<Tampered>,
}

pub(crate) fn shown(stream: &str) -> String {
    stream.replace('\u{1f}', "/")
}

const UNSEALED: &str = "carries no chain HMAC: it was inserted behind goldenpath's back";

impl<'k, 'v> Checker<'k, 'v> {
    pub fn new(key: &'k ChainKey, table: &'static Table, unchained: Unchained<'v>) -> Self {
        Checker {
            key,
            table,
            unchained,
            legacy_per_stream: HashMap::new(),
            stream: None,
            expected: 1,
            prev: String::new(),
            broken: false,
            tips: BTreeMap::new(),
            tampered: Vec::new(),
        }
    }

    /// Why a chained row (data columns, then `chain_stream`, `chain_seq`,
    /// `chain_mac`) does not check out at `expected` after `prev`; `None`
    /// when it does.
    #[allow(clippy::too_many_arguments)]
    fn verdict(
        key: &ChainKey,
        t: &Table,
        r: &dyn Row,
        stream: &str,
        place: i64,
        mac: &str,
        expected: Option<i64>,
        prev: &str,
    ) -> Option<String> {
        let width = t.columns.len();
        if !t.stream_is(stream, &mut |i| r.value_ref(i)) {
            return Some(format!(
                "is filed under stream `{}`, not its own",
                shown(stream)
            ));
        }
        if let Some(expected) = expected
            && place != expected
        {
            return Some(if place > expected {
                format!(
                    "has chain position {place} where {expected} was expected (rows deleted before it)"
                )
            } else {
                format!("repeats chain position {place}")
            });
        }
        if t.seq_index()
            .is_some_and(|i| r.value_ref(i) != ValueRef::Int(place))
        {
            return Some("its sequence number disagrees with its chain position".into());
        }
        let matches = chain::row_mac_matches(
            key,
            t.name,
            stream,
            place,
            prev,
            (0..width).map(|i| r.value_ref(i)),
            width,
            mac,
        );
        (!matches)
            .then(|| "does not match its HMAC (replaced, edited, reordered or forged)".to_string())
    }

    /// Whether the row checks out.
    pub fn row(&mut self, r: &dyn Row) -> bool {
        let t = self.table;
        let width = t.columns.len();
        let id = r.text(0).unwrap_or_default();
        let (stored, place, mac) = (r.text(width), r.int(width + 1), r.text(width + 2));
        let (Some(stream), Some(place), Some(mac)) = (stored, place, mac) else {
            let values: Vec<Value> = (0..width).map(|i| r.value(i)).collect();
            let stream = t.stream_of(&values);
            let whole = stored.is_none() && mac.is_none();
            match &mut self.unchained {
                Unchained::Accept if whole => {
                    let n = self.legacy_per_stream.entry(stream).or_default();
                    *n = match t.seq_index().and_then(|i| values[i].as_ref().int()) {
                        Some(seq) => (*n).max(seq),
                        None => *n + 1,
                    };
                    return true;
                }
                Unchained::Collect(rows) if whole => {
                    *self.legacy_per_stream.entry(stream).or_default() += 1;
                    rows.push(values);
                    return true;
                }
                _ => {}
            }
            self.tampered.push(Tampered {
                table: t.name.into(),
                stream: shown(&stream),
                id: id.into(),
                check: if whole {
                    "chain-unsealed"
                } else {
                    "chain-broken"
                }
                .into(),
                why: if whole {
                    UNSEALED.into()
                } else {
                    "has half a chain entry".into()
                },
            });
            return false;
        };
        if self.stream.as_deref() != Some(stream) {
            if let Some(done) = self.stream.take()
                && self.expected > 1
            {
                self.tips
                    .insert(done, (self.expected - 1, std::mem::take(&mut self.prev)));
            }
            self.stream = Some(stream.to_string());
            self.expected = match t.seq_column {
                Some(_) => self.legacy_per_stream.get(stream).copied().unwrap_or(0) + 1,
                None => 1,
            };
            self.prev.clear();
            self.broken = false;
        }
        if self.broken {
            // Past a broken row nothing of the stream can be trusted.
            return false;
        }
        if let Some(why) = Self::verdict(
            self.key,
            t,
            r,
            stream,
            place,
            mac,
            Some(self.expected),
            &self.prev,
        ) {
            self.broken = true;
            self.tampered.push(Tampered {
                table: t.name.into(),
                stream: shown(stream),
                id: id.into(),
                check: "chain-broken".into(),
                why: format!("(position {place}) {why}"),
            });
            return false;
        }
        self.expected = place + 1;
        self.prev.clear();
        self.prev.push_str(mac);
        true
    }

    /// Ends the read: each stream the read covers whose head file records
    /// more than was read, or another last row, was cut.
    pub fn finish(mut self, heads: &BTreeMap<String, Head>, scope: Heads<'_>) -> Self {
        if let Some(done) = self.stream.take()
            && self.expected > 1
        {
            self.tips
                .insert(done, (self.expected - 1, std::mem::take(&mut self.prev)));
        }
        let t = self.table;
        let table = format!("{}\u{1e}", t.name);
        // Only the heads the read covers are looked at: one for a stream,
        // a range for a prefix.
        let start = match scope {
            Heads::Stream(s) | Heads::Prefix(s) => format!("{table}{s}"),
            Heads::All => table.clone(),
        };
        for (k, h) in heads.range(start.clone()..) {
            let covered = match scope {
                Heads::Stream(_) => *k == start,
                Heads::Prefix(_) | Heads::All => k.starts_with(&start),
            };
            if !covered {
                break;
            }
            let stream = &k[table.len()..];
            let name = shown(stream);
            if self.tampered.iter().any(|x| x.stream == name) {
                continue;
            }
            let (check, why) = match self.tips.get(stream) {
                None => (
                    "chain-truncated",
                    format!("is gone, but {} rows of it were written", h.seq),
                ),
                Some((tip, _)) if *tip < h.seq => (
                    "chain-truncated",
                    format!(
                        "ends at position {tip}, but position {} was written (rows deleted from its end)",
                        h.seq
                    ),
                ),
                Some((tip, mac)) if *tip == h.seq && *mac != h.mac => (
                    "chain-broken",
                    "ends in a row that is not the one that was written".to_string(),
                ),
                Some(_) => continue,
            };
            self.tampered.push(Tampered {
                table: t.name.into(),
                stream: name,
                id: String::new(),
                check: check.into(),
                why: why.to_string(),
            });
        }
        self
    }
}

trait ValueInt {
    fn int(&self) -> Option<i64>;
}

impl ValueInt for ValueRef<'_> {
    fn int(&self) -> Option<i64> {
        match self {
            ValueRef::Int(i) => Some(*i),
            _ => None,
        }
    }
}

fn no_key(db: &mut dyn Db, sql: &str, params: &[Value]) -> Result<(), RegistryError> {
    let mut any = false;
    db.query(sql, params, &mut |_| {
        any = true;
        Ok(())
    })?;
    if any {
        return Err(RegistryError::Key(
            "the registry's rows cannot be checked without its chain key (GOLDENPATH_REGISTRY_KEY, or registry.key beside a SQLite registry)".into(),
        ));
    }
    Ok(())
}

/// The query of [`read_streams`]: the rows `filter` selects, in chain
/// order.
pub(crate) fn streams_sql(table: &Table, filter: &str) -> String {
    format!(
        "SELECT {}, chain_stream, chain_seq, chain_mac FROM {}{}{} ORDER BY chain_stream NULLS FIRST, chain_seq",
        table.select_list(),
        table.name,
        if filter.is_empty() { "" } else { " WHERE " },
        filter
    )
}

/// Reads whole streams of `table` — the rows `filter` selects (a `WHERE`
/// clause over its stream columns) — in chain order, each checked before
/// `f` sees it with its verdict. Returns what does not check out.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_streams(
    db: &mut dyn Db,
    key: Option<&ChainKey>,
    trust: &Trust,
    table: &'static Table,
    filter: &str,
    params: &[Value],
    scope: Heads<'_>,
    f: &mut dyn FnMut(&dyn Row, bool) -> Result<(), RegistryError>,
) -> Result<Vec<Tampered>, RegistryError> {
    if let Some(e) = trust.head_error() {
        return Err(e);
    }
    let sql = streams_sql(table, filter);
    let Some(key) = key else {
        no_key(db, &sql, params)?;
        return Ok(Vec::new());
    };
    let unchained = if trust.legacy_ok(db, key, table)? {
        Unchained::Accept
    } else {
        Unchained::Refuse
    };
    let mut checker = Checker::new(key, table, unchained);
    db.query(&sql, params, &mut |r| {
        let ok = checker.row(r);
        f(r, ok)
    })?;
    Ok(checker.finish(&trust.known_heads, scope).tampered)
}

/// Reads the rows of `table` that `filter` selects (columns qualified as
/// `t.`), ordered and limited by `tail`, each checked against the HMAC of
/// the row before it in its stream before `f` sees it with its verdict.
/// Returns what does not check out.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_rows(
    db: &mut dyn Db,
    key: Option<&ChainKey>,
    trust: &Trust,
    table: &'static Table,
    filter: &str,
    tail: &str,
    params: &[Value],
    f: &mut dyn FnMut(&dyn Row, bool) -> Result<(), RegistryError>,
) -> Result<Vec<Tampered>, RegistryError> {
    if let Some(e) = trust.head_error() {
        return Err(e);
    }
    let cols: Vec<String> = table.columns.iter().map(|c| format!("t.{c}")).collect();
    let sql = format!(
        "SELECT {}, t.chain_stream, t.chain_seq, t.chain_mac, p.chain_mac FROM {n} t LEFT JOIN {n} p ON p.chain_stream = t.chain_stream AND p.chain_seq = t.chain_seq - 1{}{} {tail}",
        cols.join(", "),
        if filter.is_empty() { "" } else { " WHERE " },
        filter,
        n = table.name,
    );
    let Some(key) = key else {
        no_key(db, &sql, params)?;
        return Ok(Vec::new());
    };
    let legacy_ok = trust.legacy_ok(db, key, table)?;
    let width = table.columns.len();
    let mut tampered = Vec::new();
    db.query(&sql, params, &mut |r| {
        let id = r.text(0).unwrap_or_default();
        let (stored, place, mac) = (r.text(width), r.int(width + 1), r.text(width + 2));
        let why = match (stored, place, mac) {
            (Some(stream), Some(place), Some(mac)) => {
                let prev = r.text(width + 3).unwrap_or_default();
                Checker::verdict(key, table, r, stream, place, mac, None, prev).map(|why| {
                    (
                        stream.to_string(),
                        "chain-broken",
                        format!("(position {place}) {why}"),
                    )
                })
            }
            (None, _, None) if legacy_ok => None,
            _ => {
                let values: Vec<Value> = (0..width).map(|i| r.value(i)).collect();
                Some((
                    table.stream_of(&values),
                    "chain-unsealed",
                    UNSEALED.to_string(),
                ))
            }
        };
        let ok = why.is_none();
        if let Some((stream, check, why)) = why {
            tampered.push(Tampered {
                table: table.name.into(),
                stream: shown(&stream),
                id: id.into(),
                check: check.into(),
                why,
            });
        }
        f(r, ok)
    })?;
    Ok(tampered)
}

fn first_error(tampered: Vec<Tampered>) -> Result<(), RegistryError> {
    match tampered.into_iter().next() {
        Some(t) => Err(t.into_error()),
        None => Ok(()),
    }
}

impl Registry {
    /// The head file's problem, when it had one at open: every read fails
    /// with it.
    pub(crate) fn trust_problem(&self) -> Result<(), RegistryError> {
        match self.trust.head_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`read_streams`] over the registry: `f` sees every row with its
    /// verdict; what does not check out is returned.
    pub(crate) fn streams(
        &self,
        table: &'static Table,
        filter: &str,
        params: &[Value],
        scope: Heads<'_>,
        f: &mut dyn FnMut(&dyn Row, bool) -> Result<(), RegistryError>,
    ) -> Result<Vec<Tampered>, RegistryError> {
        let key = self.key.clone();
        self.with(|db| {
            read_streams(
                db,
                key.as_ref(),
                &self.trust,
                table,
                filter,
                params,
                scope,
                f,
            )
        })
    }

    /// [`Self::streams`] for a command that decides: `f` sees only rows
    /// that check out, and the first that does not is the error.
    pub(crate) fn streams_trusted(
        &self,
        table: &'static Table,
        filter: &str,
        params: &[Value],
        scope: Heads<'_>,
        f: &mut dyn FnMut(&dyn Row) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        first_error(self.streams(table, filter, params, scope, &mut |r, ok| {
            if ok { f(r) } else { Ok(()) }
        })?)
    }

    /// [`read_rows`] over the registry.
    pub(crate) fn rows_checked(
        &self,
        table: &'static Table,
        filter: &str,
        tail: &str,
        params: &[Value],
        f: &mut dyn FnMut(&dyn Row, bool) -> Result<(), RegistryError>,
    ) -> Result<Vec<Tampered>, RegistryError> {
        let key = self.key.clone();
        self.with(|db| {
            read_rows(
                db,
                key.as_ref(),
                &self.trust,
                table,
                filter,
                tail,
                params,
                f,
            )
        })
    }

    /// [`Self::rows_checked`] for a command that decides.
    pub(crate) fn rows_trusted(
        &self,
        table: &'static Table,
        filter: &str,
        tail: &str,
        params: &[Value],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        first_error(
            self.rows_checked(table, filter, tail, params, &mut |r, ok| {
                if ok { f(r) } else { Ok(()) }
            })?,
        )
    }
}

impl crate::Tx<'_> {
    /// [`Registry::streams_trusted`] inside a write transaction.
    pub(crate) fn streams_trusted(
        &mut self,
        table: &'static Table,
        filter: &str,
        params: &[Value],
        scope: Heads<'_>,
        f: &mut dyn FnMut(&dyn Row) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        first_error(read_streams(
            self.db,
            self.key,
            self.trust,
            table,
            filter,
            params,
            scope,
            &mut |r, ok| if ok { f(r) } else { Ok(()) },
        )?)
    }
}

mod heads;
pub(crate) use heads::judge_heads;

#[cfg(test)]
pub(crate) mod tests;
