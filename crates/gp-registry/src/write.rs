//! Writing rows: a transaction and what it appended, the size limits of
//! columns, and single-row appends (serialised on SQLite, lock-free with a
//! retry on PostgreSQL).

use super::*;

/// One write transaction: the connection and what it appended.
pub(crate) struct Tx<'a> {
    pub db: &'a mut dyn Db,
    pub(crate) key: Option<&'a ChainKey>,
    pub(crate) trust: &'a Trust,
    pub(crate) pending: chain::PendingHeads,
}

/// Text columns are capped so that one hostile row cannot make a report or a
/// table allocate without bound.
pub(crate) fn column_limit(col: &str) -> usize {
    match col {
        "outputs" | "detail" => 1 << 20,
        "phase" | "component" | "env" | "deployment" | "build_id" | "kind" | "event" | "stage"
        | "driver" | "action" => 256,
        _ => 64 << 10,
    }
}

/// Whether an error is the schema refusing a colliding insert of `what`
/// (`(id)`, `(position)`).
pub(crate) fn refused_as(e: &RegistryError, what: &str) -> bool {
    matches!(e, RegistryError::Db { message, .. } if message.contains("cannot be replaced") && message.contains(what))
}

pub(crate) fn check_limits(table: &chain::Table, values: &[Value]) -> Result<(), RegistryError> {
    for (col, v) in table.columns.iter().zip(values) {
        if let Value::Text(Some(s)) = v
            && s.len() > column_limit(col)
        {
            return Err(RegistryError::Invalid(format!(
                "{}.{col} is {} bytes, more than the {} allowed",
                table.name,
                s.len(),
                column_limit(col)
            )));
        }
    }
    Ok(())
}

impl Tx<'_> {
    /// Inserts a chained row at a known position of its stream.
    pub(crate) fn insert_at(
        &mut self,
        table: &chain::Table,
        values: Vec<Value>,
        stream: &str,
        (seq, prev): (i64, String),
    ) -> Result<(i64, String), RegistryError> {
        let Some(key) = self.key else {
            return Err(RegistryError::Key(
                "this registry was opened without its chain key, so it cannot be written".into(),
            ));
        };
        check_limits(table, &values)?;
        let (_, mac) = chain::insert_chained(
            self.db,
            key,
            table,
            values,
            stream,
            seq,
            &prev,
            false,
            &mut self.pending,
        )?;
        Ok((seq, mac))
    }

    /// [`Self::insert_at`] of consecutive rows of one stream, the first
    /// at `at`. Returns the last row's position and HMAC.
    pub(crate) fn insert_many_at(
        &mut self,
        table: &chain::Table,
        rows: &[Vec<Value>],
        stream: &str,
        at: (i64, String),
    ) -> Result<(i64, String), RegistryError> {
        let Some(key) = self.key else {
            return Err(RegistryError::Key(
                "this registry was opened without its chain key, so it cannot be written".into(),
            ));
        };
        for values in rows {
            check_limits(table, values)?;
        }
        chain::insert_chained_many(self.db, key, table, rows, stream, at, &mut self.pending)
    }

    /// Appends a chained row.
    pub fn append(
        &mut self,
        table: &chain::Table,
        values: Vec<Value>,
    ) -> Result<i64, RegistryError> {
        let Some(key) = self.key else {
            return Err(RegistryError::Key(
                "this registry was opened without its chain key, so it cannot be written".into(),
            ));
        };
        check_limits(table, &values)?;
        chain::append(self.db, key, table, values, &mut self.pending)
    }

    /// Appends unless a row with the same id (the first value) exists: a
    /// retried write. Returns whether it appended.
    pub fn append_once(
        &mut self,
        table: &chain::Table,
        values: Vec<Value>,
    ) -> Result<bool, RegistryError> {
        let id = values.first().cloned().unwrap_or(Value::Text(None));
        let exists = db::DbExt::scalar(
            self.db,
            &format!("SELECT 1 FROM {} WHERE id = ?", table.name),
            &[id],
        )?;
        if exists.is_some() {
            return Ok(false);
        }
        self.append(table, values)?;
        Ok(true)
    }
}
impl Registry {
    /// Appends one row on its own; `Ok(None)` when a row with its id (the
    /// first value) exists already (a retried write). On SQLite that is one
    /// serialised transaction. On PostgreSQL it takes no lock: it reads the
    /// stream's last row and inserts the next, and the unique (stream,
    /// position) index turns a race between two writers into a retry — two
    /// round trips instead of five.
    pub(crate) fn append_one(
        &self,
        table: &chain::Table,
        values: Vec<Value>,
    ) -> Result<Option<i64>, RegistryError> {
        self.append_one_at(table, values, None)
            .map(|r| r.map(|(seq, _)| seq))
    }

    /// Appends rows in one SQLite transaction, each chained after the one
    /// before it in its stream; a row whose id is there already (a retry)
    /// is skipped.
    pub(crate) fn append_many(
        &self,
        table: &chain::Table,
        rows: Vec<Vec<Value>>,
    ) -> Result<(), RegistryError> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        self.tx(None, |tx| {
            // The batch is one transaction, so a retried batch is all there
            // or not at all: its first id tells.
            let id = first.first().cloned().unwrap_or(Value::Text(None));
            let exists = db::DbExt::scalar(
                tx.db,
                &format!("SELECT 1 FROM {} WHERE id = ?", table.name),
                &[id],
            )?;
            if exists.is_some() {
                // Some rows may be there: each is checked on its own.
                for values in &rows {
                    tx.append_once(table, values.clone())?;
                }
                return Ok(());
            }
            // Each stream's position is read once; the rows after it chain
            // to the one just written. Consecutive rows of one stream go
            // in together ([`chain::insert_chained_many`]).
            let mut heads: std::collections::HashMap<String, (i64, String)> =
                std::collections::HashMap::new();
            // The rows are lent, not copied: a retried transaction
            // starts from them again.
            let mut start = 0;
            while let Some(values) = rows.get(start) {
                let stream = table.stream_of(values);
                let end = start
                    + 1
                    + rows[start + 1..]
                        .iter()
                        .take_while(|next| table.stream_of(next) == stream)
                        .count();
                let run = &rows[start..end];
                let at = match heads.get(&stream) {
                    Some((seq, mac)) => (seq + 1, mac.clone()),
                    None => chain::next_position(tx.db, table, &stream, values)?,
                };
                let written = tx.insert_many_at(table, run, &stream, at)?;
                heads.insert(stream, written);
                start = end;
            }
            Ok(())
        })
    }

    /// [`Self::append_one`], trying `hint` (the position and the HMAC to
    /// chain to, when the caller knows them) before reading the stream.
    /// Returns the position and HMAC taken.
    pub(crate) fn append_one_at(
        &self,
        table: &chain::Table,
        values: Vec<Value>,
        hint: Option<(i64, String)>,
    ) -> Result<Option<(i64, String)>, RegistryError> {
        if self.backend() == Backend::Sqlite {
            // One serialised transaction. The schema's own refusals tell a
            // retried write (the id is there) and a wrong guess of the
            // position apart, so neither needs a read first.
            return self.tx(None, |tx| {
                let stream = table.stream_of(&values);
                let first = match hint.clone() {
                    Some(h) => Ok(h),
                    None => chain::next_position(tx.db, table, &stream, &values),
                }?;
                match tx.insert_at(table, values.clone(), &stream, first) {
                    Err(e) if refused_as(&e, "") => {
                        // Either a retried write (its id is there) or a
                        // wrong guess of the position: tell them apart.
                        let id = values.first().cloned().unwrap_or(Value::Text(None));
                        let exists = db::DbExt::scalar(
                            tx.db,
                            &format!("SELECT 1 FROM {} WHERE id = ?", table.name),
                            &[id],
                        )?;
                        if exists.is_some() {
                            return Ok(None);
                        }
                        let next = chain::next_position(tx.db, table, &stream, &values)?;
                        tx.insert_at(table, values.clone(), &stream, next).map(Some)
                    }
                    other => other.map(Some),
                }
            });
        }
        let Some(key) = self.key.as_ref() else {
            return Err(RegistryError::Key(
                "this registry was opened without its chain key, so it cannot be written".into(),
            ));
        };
        check_limits(table, &values)?;
        let stream = table.stream_of(&values);
        let mut attempt = 0;
        let mut hint = hint;
        loop {
            attempt += 1;
            let mut pending = Vec::new();
            let guess = hint.take();
            let result = self.with(|db| {
                let (seq, prev) = match guess {
                    Some(g) => g,
                    None => chain::next_position(db, table, &stream, &values)?,
                };
                let (n, mac) = chain::insert_chained(
                    db,
                    key,
                    table,
                    values.clone(),
                    &stream,
                    seq,
                    &prev,
                    true,
                    &mut pending,
                )?;
                Ok((n > 0).then_some((seq, mac)))
            });
            self.wrote_rows(&pending);
            match result {
                Err(e) if e.retryable() && attempt < 1000 => std::thread::yield_now(),
                other => return other,
            }
        }
    }
}
