//! The SQLite backend: one file, WAL mode, safe for several processes on
//! one machine. Every write transaction is `BEGIN IMMEDIATE`, so writers
//! are serialised by SQLite itself and wait (busy timeout) instead of
//! failing.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params_from_iter};

use crate::RegistryError;
use crate::db::{Backend, Db, Row, Value};

pub(crate) struct Sqlite {
    conn: Connection,
}

fn err(e: rusqlite::Error) -> RegistryError {
    let retryable = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    let unique = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    );
    RegistryError::Db {
        backend: "sqlite",
        message: e.to_string(),
        retryable: retryable || unique,
        conflict: unique,
    }
}

/// How much of a registry file SQLite reads through a memory mapping.
const MMAP_BYTES: i64 = 256 * 1024 * 1024;

/// The WAL's size, in pages, past which a commit checkpoints it.
const WAL_PAGES: i64 = 100;

impl Sqlite {
    pub(crate) fn open(path: &Path) -> Result<Self, RegistryError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| RegistryError::Db {
                backend: "sqlite",
                message: format!("cannot create {}: {e}", parent.display()),
                retryable: false,
                conflict: false,
            })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        // WAL lets readers run beside the writer; NORMAL sync is durable in
        // WAL mode across process crashes (power loss may lose the last
        // transactions, never corrupt the file).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Statement journals (every insert runs the tables' BEFORE INSERT
        // triggers) stay in memory instead of a temporary file per
        // statement; the WAL is still the durable copy.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err)?;
        // Pages are read from a read-only mapping of the file rather than
        // copied in by a system call each: a teardown reads its
        // deployment's whole journal (thousands of rows) before it takes
        // the lease; 2.7 ms of an 85 ms teardown of 1,000 DNS records
        // (BENCHMARKS.md, issue 40). Writes still go through the WAL.
        // SQLite maps at most this much (the rest is read as before).
        // The cost: a file cut short behind SQLite's back while a command
        // reads it stops that command (SIGBUS) instead of failing a read;
        // the registry only grows, and the next command reports such a
        // file as malformed.
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)
            .map_err(err)?;
        // The WAL is copied into the file (a checkpoint) by the commit
        // that takes it past 100 pages, not by the close after 1,000: a
        // teardown's or a deploy's batches commit while the DNS server
        // works on the last batch, so the copying (and its two fsyncs)
        // happens then, and the close has little left to copy. 40 pages
        // and 250 measured slower than 100 (BENCHMARKS.md, issue 40).
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)
            .map_err(err)?;
        Ok(Self { conn })
    }
}

impl Sqlite {
    /// A second, read-only connection to an existing registry file, to
    /// read its `data_version` without waiting for the registry's own
    /// connection: every commit of that connection is another
    /// connection's to this one, so the value moves with every write.
    pub(crate) fn open_watch(path: &Path) -> Result<Self, RegistryError> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        Ok(Self { conn })
    }

    /// An empty in-memory ledger: what a read-only command sees before
    /// anything was recorded, without creating a file.
    pub(crate) fn memory() -> Result<Self, RegistryError> {
        Ok(Self {
            conn: Connection::open_in_memory().map_err(err)?,
        })
    }
}

/// A row, with its statement's column names read once per query (asking
/// SQLite for them on every lookup was a tenth of a large read).
struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>, &'a [String]);

impl Row for SqliteRow<'_, '_> {
    fn int(&self, i: usize) -> Option<i64> {
        match self.0.get_ref(i).ok()? {
            ValueRef::Integer(v) => Some(v),
            ValueRef::Real(v) => Some(v as i64),
            ValueRef::Text(t) => std::str::from_utf8(t).ok()?.parse().ok(),
            _ => None,
        }
    }
    fn text(&self, i: usize) -> Option<&str> {
        match self.0.get_ref(i).ok()? {
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }
    fn index(&self, name: &str) -> Option<usize> {
        self.1
            .iter()
            .position(|c| c == name)
            .or_else(|| self.1.iter().position(|c| c.eq_ignore_ascii_case(name)))
    }
    fn value_ref(&self, i: usize) -> crate::db::ValueRef<'_> {
        use crate::db::ValueRef as V;
        match self.0.get_ref(i) {
            Ok(ValueRef::Integer(v)) => V::Int(v),
            Ok(ValueRef::Text(t)) => std::str::from_utf8(t).map(V::Text).unwrap_or(V::Null),
            _ => V::Null,
        }
    }
}

/// A parameter bound as it is: text is lent to SQLite (which copies it
/// while binding), not copied into a value of rusqlite's first — a
/// journal batch binds some 25,000 parameters.
struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput;
        Ok(match self.0 {
            Value::Int(Some(i)) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
            Value::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Int(None) | Value::Text(None) => {
                ToSqlOutput::Owned(rusqlite::types::Value::Null)
            }
        })
    }
}

impl Db for Sqlite {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, RegistryError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let n = stmt
            .execute(params_from_iter(params.iter().map(Param)))
            .map_err(err)?;
        Ok(n as u64)
    }

    fn exec_refs(&mut self, sql: &str, params: &[&Value]) -> Result<u64, RegistryError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let n = stmt
            .execute(params_from_iter(params.iter().map(|v| Param(v))))
            .map_err(err)?;
        Ok(n as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut rows = stmt
            .query(params_from_iter(params.iter().map(Param)))
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            f(&SqliteRow(row, &names))?;
        }
        Ok(())
    }

    fn begin(&mut self, _lock: Option<&str>) -> Result<(), RegistryError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)
    }

    fn lock(&mut self, _key: &str) -> Result<(), RegistryError> {
        Ok(())
    }

    fn commit(&mut self) -> Result<(), RegistryError> {
        self.conn.execute_batch("COMMIT").map_err(err)
    }

    fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    fn batch(&mut self, sql: &str) -> Result<(), RegistryError> {
        self.conn.execute_batch(sql).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_parameter_is_bound_as_it_is() {
        let mut db = Sqlite::memory().unwrap();
        db.batch("CREATE TABLE t (n INTEGER, s TEXT)").unwrap();
        let cases = [
            (Value::Int(Some(-7)), Value::Text(Some("plain".into()))),
            (Value::Int(None), Value::Text(None)),
            (Value::Int(Some(i64::MAX)), Value::Text(Some(String::new()))),
            (
                Value::Int(Some(0)),
                Value::Text(Some("ünï\u{1f}code; DROP TABLE t; --'\"".into())),
            ),
        ];
        // Each case twice: owned (`exec`) and lent (`exec_refs`).
        for (n, s) in &cases {
            db.exec(
                "INSERT INTO t (n, s) VALUES (?, ?)",
                &[n.clone(), s.clone()],
            )
            .unwrap();
            db.exec_refs("INSERT INTO t (n, s) VALUES (?, ?)", &[n, s])
                .unwrap();
        }
        // Read back by an independent path: SQLite's own typeof() and
        // the values, not goldenpath's row reader.
        let rows: Vec<(String, Option<i64>, String, Option<String>)> = {
            let mut stmt = db
                .conn
                .prepare("SELECT typeof(n), n, typeof(s), s FROM t ORDER BY rowid")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let want: Vec<(String, Option<i64>, String, Option<String>)> = cases
            .iter()
            .flat_map(|c| [c, c])
            .map(|(n, s)| {
                let (Value::Int(n), Value::Text(s)) = (n, s) else {
                    unreachable!()
                };
                (
                    if n.is_some() { "integer" } else { "null" }.to_string(),
                    *n,
                    if s.is_some() { "text" } else { "null" }.to_string(),
                    s.clone(),
                )
            })
            .collect();
        assert_eq!(rows, want);
        // A parameter used in a query selects as it would in a write.
        let mut n = 0;
        db.query(
            "SELECT n FROM t WHERE s = ?",
            &[Value::Text(Some("plain".into()))],
            &mut |r| {
                n = r.int(0).unwrap_or_default();
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, -7);
    }

    #[test]
    fn a_registry_file_is_read_through_a_mapping_and_written_through_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let mut db = Sqlite::open(&path).unwrap();
        let pragma = |name: &str| -> String {
            db.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("mmap_size"), format!("Integer({MMAP_BYTES})"));
        assert_eq!(
            pragma("wal_autocheckpoint"),
            format!("Integer({WAL_PAGES})")
        );
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        // NORMAL
        assert_eq!(pragma("synchronous"), "Integer(1)");
        // A row written and read back through the mapping, by a second
        // connection that maps nothing.
        db.batch("CREATE TABLE t (s TEXT); INSERT INTO t VALUES ('kept')")
            .unwrap();
        drop(db);
        let plain = rusqlite::Connection::open(&path).unwrap();
        let s: String = plain
            .query_row("SELECT s FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(s, "kept");
    }
}
