//! The PostgreSQL backend, for a team sharing one registry from many
//! machines. Transactions that must not interleave (reservations, leases,
//! journal sequence numbers, migrations) take a transaction-scoped advisory
//! lock on their key; plain appends take none.

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use crate::RegistryError;
use crate::db::{Backend, Db, Row, Value, number_placeholders};

pub(crate) struct Postgres {
    client: Client,
}

fn err(e: postgres::Error) -> RegistryError {
    use postgres::error::SqlState;
    let code = e.code().cloned();
    let conflict = code.as_ref() == Some(&SqlState::UNIQUE_VIOLATION);
    let retryable = conflict
        || code.as_ref() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        || code.as_ref() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
        || e.is_closed();
    // Show the server's message (never the connection string).
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    };
    RegistryError::Db {
        backend: "postgres",
        message,
        retryable,
        conflict,
    }
}

impl Postgres {
    pub(crate) fn connect(url: &str) -> Result<Self, RegistryError> {
        let client = Client::connect(url, NoTls).map_err(|e| RegistryError::Db {
            backend: "postgres",
            message: format!("cannot connect to the registry: {}", redact_error(&e)),
            retryable: true,
            conflict: false,
        })?;
        Ok(Self { client })
    }
}

fn redact_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

struct PgRow<'a>(&'a postgres::Row);

impl Row for PgRow<'_> {
    fn int(&self, i: usize) -> Option<i64> {
        if let Ok(v) = self.0.try_get::<_, Option<i64>>(i) {
            return v;
        }
        if let Ok(v) = self.0.try_get::<_, Option<i32>>(i) {
            return v.map(i64::from);
        }
        None
    }
    fn text(&self, i: usize) -> Option<&str> {
        self.0.try_get::<_, Option<&str>>(i).ok().flatten()
    }
    fn index(&self, name: &str) -> Option<usize> {
        self.0.columns().iter().position(|c| c.name() == name)
    }
    fn value_ref(&self, i: usize) -> crate::db::ValueRef<'_> {
        use crate::db::ValueRef as V;
        if let Ok(v) = self.0.try_get::<_, Option<i64>>(i) {
            return v.map(V::Int).unwrap_or(V::Null);
        }
        if let Ok(v) = self.0.try_get::<_, Option<i32>>(i) {
            return v.map(|v| V::Int(i64::from(v))).unwrap_or(V::Null);
        }
        match self.0.try_get::<_, Option<&str>>(i) {
            Ok(Some(t)) => V::Text(t),
            _ => V::Null,
        }
    }
}

fn params(values: &[Value]) -> Vec<Box<dyn ToSql + Sync>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Value::Int(i) => Box::new(*i),
                Value::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

/// A stable 64-bit key for an advisory lock.
fn lock_key(key: &str) -> i64 {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

impl Db for Postgres {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn exec(&mut self, sql: &str, values: &[Value]) -> Result<u64, RegistryError> {
        let sql = number_placeholders(sql);
        let boxed = params(values);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.client.execute(sql.as_str(), &refs).map_err(err)
    }

    fn query(
        &mut self,
        sql: &str,
        values: &[Value],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let sql = number_placeholders(sql);
        let boxed = params(values);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        // Streamed, so a large result (a report over a million phases) is
        // never held in memory at once.
        use postgres::fallible_iterator::FallibleIterator;
        let mut rows = self
            .client
            .query_raw(sql.as_str(), refs.iter().copied())
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            f(&PgRow(&row))?;
        }
        Ok(())
    }

    fn begin(&mut self, lock: Option<&str>) -> Result<(), RegistryError> {
        self.client.batch_execute("BEGIN").map_err(err)?;
        if let Some(key) = lock {
            let k = lock_key(key);
            if let Err(e) = self
                .client
                .execute("SELECT pg_advisory_xact_lock($1)", &[&k])
            {
                self.rollback();
                return Err(err(e));
            }
        }
        Ok(())
    }

    fn lock(&mut self, key: &str) -> Result<(), RegistryError> {
        let k = lock_key(key);
        self.client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&k])
            .map(|_| ())
            .map_err(err)
    }

    fn commit(&mut self) -> Result<(), RegistryError> {
        self.client.batch_execute("COMMIT").map_err(err)
    }

    fn rollback(&mut self) {
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn batch(&mut self, sql: &str) -> Result<(), RegistryError> {
        self.client.batch_execute(sql).map_err(err)
    }
}
