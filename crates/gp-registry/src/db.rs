//! The little SQL layer both backends implement. The ledger's logic is
//! written once over it, so SQLite and PostgreSQL behave the same by
//! construction. SQL uses `?` placeholders; the PostgreSQL backend numbers
//! them.

use crate::RegistryError;

/// A parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer column (possibly NULL).
    Int(Option<i64>),
    /// A text column (possibly NULL).
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

/// A column's value, borrowed from the row (no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// NULL.
    Null,
}

impl Value {
    /// The value, borrowed.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Int(Some(i)) => ValueRef::Int(*i),
            Value::Text(Some(s)) => ValueRef::Text(s),
            Value::Int(None) | Value::Text(None) => ValueRef::Null,
        }
    }
}

/// One result row, read by column index.
pub trait Row {
    /// An integer column.
    fn int(&self, i: usize) -> Option<i64>;
    /// A text column.
    fn text(&self, i: usize) -> Option<&str>;
    /// The index of the column called `name` in this result.
    fn index(&self, name: &str) -> Option<usize>;
    /// A text column as an owned string, empty when NULL.
    fn string(&self, i: usize) -> String {
        self.text(i).unwrap_or_default().to_string()
    }
    /// A column as the value it holds (integer, text or NULL), borrowed.
    fn value_ref(&self, i: usize) -> ValueRef<'_>;
    /// A column as the value it holds, as the chain hashes it.
    fn value(&self, i: usize) -> Value {
        match self.value_ref(i) {
            ValueRef::Int(v) => Value::Int(Some(v)),
            ValueRef::Text(t) => Value::Text(Some(t.to_string())),
            ValueRef::Null => Value::Text(None),
        }
    }
}

/// Reads columns of a row by name.
pub(crate) struct Named<'a>(pub &'a dyn Row);

impl Named<'_> {
    /// An integer column by name.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.0.index(name).and_then(|i| self.0.int(i))
    }
    /// A text column by name.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0
            .index(name)
            .and_then(|i| self.0.text(i))
            .map(str::to_string)
    }
    /// A text column by name, empty when NULL.
    pub fn string(&self, name: &str) -> String {
        self.text(name).unwrap_or_default()
    }
    /// A JSON text column by name.
    pub fn json(&self, name: &str) -> Option<serde_json::Value> {
        self.0
            .index(name)
            .and_then(|i| self.0.text(i))
            .and_then(|t| serde_json::from_str(t).ok())
    }
}

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// A shared PostgreSQL.
    Postgres,
}

/// A connection.
pub trait Db: Send {
    /// Which backend.
    fn backend(&self) -> Backend;
    /// Runs a statement; returns the rows affected.
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, RegistryError>;
    /// [`Db::exec`] with the parameters lent, for a batch built from rows
    /// the caller keeps: SQLite binds them as they are; the default makes
    /// the owned list `exec` takes.
    fn exec_refs(&mut self, sql: &str, params: &[&Value]) -> Result<u64, RegistryError> {
        let owned: Vec<Value> = params.iter().map(|v| (*v).clone()).collect();
        self.exec(sql, &owned)
    }
    /// Runs a query, calling `f` for each row.
    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError>;
    /// Starts a write transaction. With `lock`, writers holding the same key
    /// are serialised (SQLite serialises every writer anyway).
    fn begin(&mut self, lock: Option<&str>) -> Result<(), RegistryError>;
    /// Inside a transaction, serialises with other writers holding `key`
    /// until the transaction ends (an advisory lock on PostgreSQL; nothing
    /// on SQLite, whose writers are serialised already).
    fn lock(&mut self, key: &str) -> Result<(), RegistryError>;
    /// Commits.
    fn commit(&mut self) -> Result<(), RegistryError>;
    /// Rolls back, ignoring errors.
    fn rollback(&mut self);
    /// Runs a script of several statements (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), RegistryError>;
}

/// Helpers on top of [`Db`].
pub trait DbExt: Db {
    /// Collects rows with `map`.
    fn rows<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut map: impl FnMut(&dyn Row) -> T,
    ) -> Result<Vec<T>, RegistryError> {
        let mut out = Vec::new();
        self.query(sql, params, &mut |r| {
            out.push(map(r));
            Ok(())
        })?;
        Ok(out)
    }

    /// The first column of the first row as an integer.
    fn scalar(&mut self, sql: &str, params: &[Value]) -> Result<Option<i64>, RegistryError> {
        let mut v = None;
        self.query(sql, params, &mut |r| {
            if v.is_none() {
                v = r.int(0);
            }
            Ok(())
        })?;
        Ok(v)
    }
}

impl<T: Db + ?Sized> DbExt for T {}

/// Rewrites `?` placeholders as `$1, $2, ...`, leaving quoted text alone.
pub fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            super::number_placeholders("SELECT ? WHERE a = '?' AND b = ?"),
            "SELECT $1 WHERE a = '?' AND b = $2"
        );
    }
}
