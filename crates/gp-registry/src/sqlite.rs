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

fn to_sql(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Int(Some(i)) => rusqlite::types::Value::Integer(*i),
        Value::Text(Some(s)) => rusqlite::types::Value::Text(s.clone()),
        Value::Int(None) | Value::Text(None) => rusqlite::types::Value::Null,
    }
}

impl Db for Sqlite {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, RegistryError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let n = stmt
            .execute(params_from_iter(params.iter().map(to_sql)))
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
            .query(params_from_iter(params.iter().map(to_sql)))
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
