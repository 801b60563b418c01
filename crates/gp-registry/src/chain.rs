//! Tamper evidence. Every row carries the HMAC of its own content chained to
//! the HMAC of the previous row of its *stream* (a deployment's journal, a
//! deployment's events, an environment's overrides, one request's events,
//! ...), keyed with a registry key that is kept outside the database. A row
//! inserted, replaced, deleted or reordered by anyone without the key breaks
//! the chain, and `registry verify` (or the engine, reading a journal) names
//! it.
//!
//! A truncated tail cannot be seen from inside the database, so a SQLite
//! registry also keeps a *head file* beside it: the last sequence number and
//! HMAC of every stream this machine wrote (phase runs excepted), itself
//! authenticated. On PostgreSQL the runner role cannot delete rows at all.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{KeyInit, Mac};

use crate::RegistryError;
use crate::db::{Db, DbExt, Value, ValueRef};

mod tables;
pub(crate) use tables::*;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The registry's chain key. Never printed.
#[derive(Clone)]
pub struct ChainKey {
    bytes: Vec<u8>,
    /// HMAC keyed once; each row's MAC starts from a copy.
    keyed: HmacSha256,
}

impl PartialEq for ChainKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey(***)")
    }
}

/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;

impl ChainKey {
    /// A key from its text (an environment variable, a CI secret): at least
    /// 32 bytes, used as written.
    pub fn parse(text: &str) -> Result<ChainKey, RegistryError> {
        let t = text.trim();
        if t.len() < MIN_KEY_LEN {
            return Err(RegistryError::Key(format!(
                "the registry key must be at least {MIN_KEY_LEN} characters (it is {})",
                t.len()
            )));
        }
        Ok(ChainKey::new(t.as_bytes().to_vec()))
    }

    /// A fresh random key.
    pub fn generate() -> Result<ChainKey, RegistryError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b)
            .map_err(|e| RegistryError::Key(format!("no randomness for a registry key: {e}")))?;
        Ok(ChainKey::new(hex(&b).into_bytes()))
    }

    /// Reads the key file; `None` when it does not exist.
    pub fn read_file(path: &Path) -> Result<Option<ChainKey>, RegistryError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ChainKey::parse(&text)
                .map(Some)
                .map_err(|e| RegistryError::Key(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RegistryError::Key(format!(
                "cannot read the registry key {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes a new key file, readable by its owner only — or, when another
    /// process made one first, reads that one. The file appears whole (a
    /// temporary file linked into place), so a reader never sees half a key.
    pub fn create_file(path: &Path) -> Result<ChainKey, RegistryError> {
        use std::os::unix::fs::OpenOptionsExt;
        let key = ChainKey::generate()?;
        let tmp = path.with_extension(format!("key.{}.tmp", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&key.bytes).and_then(|_| f.sync_all()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(RegistryError::Key(format!(
                "cannot create the registry key {}: {e}",
                path.display()
            )));
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => ChainKey::read_file(path)?
                .ok_or_else(|| RegistryError::Key(format!("{} vanished", path.display()))),
            Err(e) => Err(RegistryError::Key(format!(
                "cannot create the registry key {}: {e}",
                path.display()
            ))),
        }
    }

    fn new(bytes: Vec<u8>) -> ChainKey {
        // HMAC's own key preparation: a key longer than the block is hashed,
        // a shorter one padded with zeros. Doing it here keeps the call
        // infallible.
        let mut block = [0u8; 64];
        if bytes.len() > block.len() {
            use sha2::Digest;
            block[..32].copy_from_slice(&sha2::Sha256::digest(&bytes));
        } else {
            block[..bytes.len()].copy_from_slice(&bytes);
        }
        let key: hmac::digest::Key<HmacSha256> = block.into();
        ChainKey {
            keyed: <HmacSha256 as KeyInit>::new(&key),
            bytes,
        }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    s
}

fn encode(mac: &mut HmacSha256, v: ValueRef<'_>) {
    match v {
        ValueRef::Int(i) => {
            mac.update(b"i");
            mac.update(&i.to_le_bytes());
        }
        ValueRef::Text(s) => {
            mac.update(b"s");
            mac.update(&(s.len() as u64).to_le_bytes());
            mac.update(s.as_bytes());
        }
        ValueRef::Null => mac.update(b"n"),
    }
}

/// The chain HMAC of one row (128 bits, hex).
pub(crate) fn row_mac(
    key: &ChainKey,
    table: &str,
    stream: &str,
    seq: i64,
    prev: &str,
    values: &[Value],
) -> String {
    row_mac_refs(
        key,
        table,
        stream,
        seq,
        prev,
        values.iter().map(Value::as_ref),
        values.len(),
    )
}

/// [`row_mac`] over borrowed values.
pub(crate) fn row_mac_refs<'a>(
    key: &ChainKey,
    table: &str,
    stream: &str,
    seq: i64,
    prev: &str,
    values: impl Iterator<Item = ValueRef<'a>>,
    width: usize,
) -> String {
    hex(&row_digest(key, table, stream, seq, prev, values, width))
}

/// Whether `mac` (hex) is the row's chain HMAC: compared without
/// allocating, as every read does for every row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn row_mac_matches<'a>(
    key: &ChainKey,
    table: &str,
    stream: &str,
    seq: i64,
    prev: &str,
    values: impl Iterator<Item = ValueRef<'a>>,
    width: usize,
    mac: &str,
) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let d = row_digest(key, table, stream, seq, prev, values, width);
    let mac = mac.as_bytes();
    mac.len() == 32
        && d.iter().enumerate().all(|(i, x)| {
            mac[2 * i] == DIGITS[usize::from(x >> 4)]
                && mac[2 * i + 1] == DIGITS[usize::from(x & 15)]
        })
}

fn row_digest<'a>(
    key: &ChainKey,
    table: &str,
    stream: &str,
    seq: i64,
    prev: &str,
    values: impl Iterator<Item = ValueRef<'a>>,
    width: usize,
) -> [u8; 16] {
    let mut mac = key.mac();
    mac.update(b"goldenpath-registry-chain-v1\0");
    mac.update(table.as_bytes());
    mac.update(b"\0");
    mac.update(&(stream.len() as u64).to_le_bytes());
    mac.update(stream.as_bytes());
    mac.update(&seq.to_le_bytes());
    mac.update(prev.as_bytes());
    mac.update(&(width as u64).to_le_bytes());
    for v in values {
        encode(&mut mac, v);
    }
    let out = mac.finalize().into_bytes();
    let mut d = [0u8; 16];
    d.copy_from_slice(&out[..16]);
    d
}

/// The digest sealing rows written before chaining existed (a registry
/// created by an older goldenpath): every such row of a table, by id.
pub(crate) fn seal_digest(key: &ChainKey, table: &str, rows: &[Vec<Value>]) -> String {
    let mut mac = key.mac();
    mac.update(b"goldenpath-registry-seal-v1\0");
    mac.update(table.as_bytes());
    mac.update(&(rows.len() as u64).to_le_bytes());
    for r in rows {
        mac.update(&(r.len() as u64).to_le_bytes());
        for v in r {
            encode(&mut mac, v.as_ref());
        }
    }
    hex(&mac.finalize().into_bytes()[..16])
}

/// The newest row of a stream as written by this process.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Head {
    pub seq: i64,
    pub mac: String,
}

/// What one transaction appended, applied to the head file after commit.
pub(crate) type PendingHeads = Vec<(String, Head)>;

pub(crate) fn head_key(table: &str, stream: &str) -> String {
    format!("{table}\u{1e}{stream}")
}

/// Whether `key` (of [`PendingHeads`]) is the head of a stream of `table`.
pub(crate) fn is_head_of(key: &str, table: &str) -> bool {
    key.strip_prefix(table)
        .is_some_and(|rest| rest.starts_with('\u{1e}'))
}

/// Appends one row to `table`, chained to its stream. Runs inside the
/// caller's transaction; on PostgreSQL it takes the stream's advisory lock
/// first. `values` are the table's data columns in order; the sequence
/// column, if the table has one, is filled in. Returns the sequence number.
pub(crate) fn append(
    db: &mut dyn Db,
    key: &ChainKey,
    table: &Table,
    values: Vec<Value>,
    pending: &mut PendingHeads,
) -> Result<i64, RegistryError> {
    let stream = table.stream_of(&values);
    db.lock(&format!("chain/{}/{stream}", table.name))?;
    let (seq, prev) = next_position(db, table, &stream, &values)?;
    insert_chained(db, key, table, values, &stream, seq, &prev, false, pending)?;
    Ok(seq)
}

/// The position a new row of `stream` takes, and the HMAC it chains to.
pub(crate) fn next_position(
    db: &mut dyn Db,
    table: &Table,
    stream: &str,
    values: &[Value],
) -> Result<(i64, String), RegistryError> {
    let last = db.rows(
        &format!(
            "SELECT chain_seq, chain_mac FROM {} WHERE chain_stream = ? ORDER BY chain_seq DESC LIMIT 1",
            table.name
        ),
        &[stream.into()],
        |r| (r.int(0).unwrap_or(0), r.string(1)),
    )?;
    if let Some((seq, mac)) = last.into_iter().next() {
        return Ok((seq + 1, mac));
    }
    // The first chained row: after the stream's rows from before chaining,
    // if the table numbers its rows.
    let start = match table.seq_column {
        Some(col) => {
            let mut sql = format!("SELECT MAX({col}) FROM {} WHERE ", table.name);
            let mut params = Vec::new();
            for (i, c) in table.stream.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" AND ");
                }
                sql.push_str(c);
                sql.push_str(" = ?");
                let v = table
                    .index(c)
                    .and_then(|i| values.get(i).cloned())
                    .unwrap_or(Value::Text(None));
                params.push(v);
            }
            db.scalar(&sql, &params)?.unwrap_or(0)
        }
        None => 0,
    };
    Ok((start + 1, String::new()))
}

/// Inserts a row at `seq` of `stream`, chained to `prev`. With `once`, a
/// row whose id exists already is left alone (0 rows). Returns the rows
/// inserted and the row's HMAC.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_chained(
    db: &mut dyn Db,
    key: &ChainKey,
    table: &Table,
    mut values: Vec<Value>,
    stream: &str,
    seq: i64,
    prev: &str,
    once: bool,
    pending: &mut PendingHeads,
) -> Result<(u64, String), RegistryError> {
    if let Some(i) = table.seq_index()
        && let Some(slot) = values.get_mut(i)
    {
        *slot = Value::Int(Some(seq));
    }
    let mac = row_mac(key, table.name, stream, seq, prev, &values);
    let placeholders = vec!["?"; table.columns.len() + 3].join(", ");
    let sql = format!(
        "INSERT INTO {} ({}, chain_stream, chain_seq, chain_mac) VALUES ({placeholders}){}",
        table.name,
        table.select_list(),
        if once {
            " ON CONFLICT (id) DO NOTHING"
        } else {
            ""
        }
    );
    values.push(stream.into());
    values.push(seq.into());
    values.push(mac.clone().into());
    let n = db.exec(&sql, &values)?;
    if n > 0 && keeps_head(table) {
        pending.push((
            head_key(table.name, stream),
            Head {
                seq,
                mac: mac.clone(),
            },
        ));
    }
    Ok((n, mac))
}

/// Whether the head file keeps `table`'s streams' heads: phase runs are
/// too many and too short to keep a head each.
fn keeps_head(table: &Table) -> bool {
    table.name != PHASE_EVENTS.name
}

/// Rows a multi-row `INSERT` of [`insert_chained_many`] carries at most:
/// far under SQLite's 32,766 bound parameters for any table here, and
/// enough that a statement's own rollback journal copies each page it
/// touches once for many rows rather than once per row.
pub(crate) const ROWS_PER_INSERT: usize = 100;

/// [`insert_chained`] of consecutive rows of one stream, `first` the
/// position and HMAC the first chains to: each row's HMAC is the next
/// link, as one by one, and the rows go in as multi-row `INSERT`s of up
/// to [`ROWS_PER_INSERT`] (the schema's refusals apply to every row).
/// Returns the last row's position and HMAC.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_chained_many(
    db: &mut dyn Db,
    key: &ChainKey,
    table: &Table,
    rows: &[Vec<Value>],
    stream: &str,
    first: (i64, String),
    pending: &mut PendingHeads,
) -> Result<(i64, String), RegistryError> {
    let (mut seq, mut prev) = (first.0 - 1, first.1);
    let width = table.columns.len() + 3;
    let seq_slot = table.seq_index();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        // What each row adds to its values, owned here; the values
        // themselves are lent to the statement, not copied.
        // [the row's own seq column, chain_stream, chain_seq, chain_mac]
        let mut added: Vec<[Value; 4]> = Vec::with_capacity(chunk.len());
        for values in chunk {
            seq += 1;
            let own_seq = Value::Int(Some(seq));
            let mac = row_mac_refs(
                key,
                table.name,
                stream,
                seq,
                &prev,
                values.iter().enumerate().map(|(j, v)| {
                    if Some(j) == seq_slot {
                        own_seq.as_ref()
                    } else {
                        v.as_ref()
                    }
                }),
                values.len(),
            );
            prev.clone_from(&mac);
            added.push([own_seq, stream.into(), seq.into(), mac.into()]);
        }
        let mut params: Vec<&Value> = Vec::with_capacity(width * chunk.len());
        for (values, [own_seq, chain @ ..]) in chunk.iter().zip(&added) {
            params.extend(
                values
                    .iter()
                    .enumerate()
                    .map(|(j, v)| if Some(j) == seq_slot { own_seq } else { v }),
            );
            params.extend(chain.iter());
        }
        let row = format!("({})", vec!["?"; width].join(", "));
        let sql = format!(
            "INSERT INTO {} ({}, chain_stream, chain_seq, chain_mac) VALUES {}",
            table.name,
            table.select_list(),
            vec![row.as_str(); chunk.len()].join(", ")
        );
        db.exec_refs(&sql, &params)?;
    }
    if !rows.is_empty() && keeps_head(table) {
        pending.push((
            head_key(table.name, stream),
            Head {
                seq,
                mac: prev.clone(),
            },
        ));
    }
    Ok((seq, prev))
}

/// The head file of a SQLite registry.
pub(crate) struct HeadFile {
    path: PathBuf,
    written: Mutex<BTreeMap<String, Head>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadFileContent {
    version: u32,
    /// Each write of the file is one more; the registry anchors each
    /// (`head_anchors`). Version 1 files have none (generation 0).
    #[serde(default)]
    generation: i64,
    heads: BTreeMap<String, Head>,
    mac: String,
}

fn heads_mac(
    key: &ChainKey,
    version: u32,
    generation: i64,
    heads: &BTreeMap<String, Head>,
) -> String {
    let mut mac = key.mac();
    if version >= 2 {
        mac.update(b"goldenpath-registry-heads-v2\0");
        mac.update(&generation.to_le_bytes());
    } else {
        mac.update(b"goldenpath-registry-heads-v1\0");
    }
    for (k, h) in heads {
        mac.update(&(k.len() as u64).to_le_bytes());
        mac.update(k.as_bytes());
        mac.update(&h.seq.to_le_bytes());
        mac.update(h.mac.as_bytes());
    }
    hex(&mac.finalize().into_bytes()[..16])
}

/// The HMAC of a head anchor: a generation of the head file and its own
/// HMAC.
pub(crate) fn anchor_mac(key: &ChainKey, generation: i64, heads_mac: &str) -> String {
    let mut mac = key.mac();
    mac.update(b"goldenpath-registry-head-anchor-v1\0");
    mac.update(&generation.to_le_bytes());
    mac.update(heads_mac.as_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

/// A head file as read: its generation, the heads, and its own HMAC.
pub(crate) struct HeadsRead {
    pub generation: i64,
    pub heads: BTreeMap<String, Head>,
    pub mac: String,
}

impl HeadFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            written: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` holding the head file's lock (`registry.head.lock`), which
    /// serialises writing the file and its anchor with reading both. Where
    /// the lock cannot be made (a read-only state directory) `f` runs
    /// without it: nothing there writes the file either.
    pub fn locked<R>(&self, f: impl FnOnce() -> R) -> Result<R, String> {
        let lock_path = self.path.with_extension("head.lock");
        let lock = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(f()),
            Err(e) if e.raw_os_error() == Some(30) => return Ok(f()), // EROFS
            Err(e) => return Err(format!("cannot open {}: {e}", lock_path.display())),
        };
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        let r = f();
        let _ = lock.unlock();
        Ok(r)
    }

    /// Remembers what a committed transaction appended.
    pub fn note(&self, pending: PendingHeads) {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        for (k, h) in pending {
            match w.get(&k) {
                Some(old) if old.seq >= h.seq => {}
                _ => {
                    w.insert(k, h);
                }
            }
        }
    }

    /// Reads the file with its generation; `Ok(None)` when there is none.
    pub fn read_full(&self, key: &ChainKey) -> Result<Option<HeadsRead>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        let content: HeadFileContent = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a registry head file: {e}", self.path.display()))?;
        let generation = if content.version >= 2 {
            content.generation
        } else {
            0
        };
        if heads_mac(key, content.version, generation, &content.heads) != content.mac {
            return Err(format!(
                "{} does not match its HMAC (edited, or written with another key)",
                self.path.display()
            ));
        }
        Ok(Some(HeadsRead {
            generation,
            heads: content.heads,
            mac: content.mac,
        }))
    }

    /// Writes the file of a new registry: no heads yet, generation 0. A
    /// registry holding rows with no head file beside it is tampering.
    pub fn create(&self, key: &ChainKey) -> Result<(), String> {
        if self.path.exists() {
            return Ok(());
        }
        self.write(key, 0, &BTreeMap::new()).map(|_| ())
    }

    fn write(
        &self,
        key: &ChainKey,
        generation: i64,
        heads: &BTreeMap<String, Head>,
    ) -> Result<String, String> {
        let mac = heads_mac(key, 2, generation, heads);
        let content = HeadFileContent {
            version: 2,
            generation,
            mac: mac.clone(),
            heads: heads.clone(),
        };
        let tmp = self.path.with_extension("head.tmp");
        let text = serde_json::to_vec(&content).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &self.path))
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        Ok(mac)
    }

    /// Merges what this process wrote into the file, under an exclusive
    /// lock so that concurrent processes only ever raise a head; then
    /// `anchor` records the new generation in the registry. The file is
    /// written first: a crash between leaves it one generation ahead of
    /// its anchor, which reads as that crash, never as tampering.
    pub fn flush(
        &self,
        key: &ChainKey,
        anchor: &dyn Fn(i64, &str) -> Result<i64, String>,
    ) -> Result<(), String> {
        let written = {
            let w = self.written.lock().unwrap_or_else(|p| p.into_inner());
            if w.is_empty() {
                return Ok(());
            }
            w.clone()
        };
        self.locked(|| {
            let anchored = anchor(-1, "")?;
            let (generation, mut heads) = match self.read_full(key) {
                Ok(Some(h)) => (h.generation, h.heads),
                // Deleted while this process ran: writing a new one would
                // forget every other stream's head.
                Ok(None) if anchored > 0 => {
                    return Err(format!(
                        "{} is missing, but the registry anchored generation {anchored} of it: it was deleted",
                        self.path.display()
                    ));
                }
                Ok(None) => (0, BTreeMap::new()),
                // A damaged head file is reported by verify; do not
                // overwrite the evidence.
                Err(e) => return Err(e),
            };
            for (k, h) in written {
                match heads.get(&k) {
                    Some(old) if old.seq >= h.seq => {}
                    _ => {
                        heads.insert(k, h);
                    }
                }
            }
            // One past both the file's and the registry's latest.
            let next = generation.max(anchored) + 1;
            let mac = self.write(key, next, &heads)?;
            anchor(next, &mac)?;
            Ok(())
        })??;
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_depend_on_every_part() {
        let k = ChainKey::parse(&"k".repeat(32)).unwrap();
        let v = vec![Value::from("a"), Value::Int(Some(1)), Value::Text(None)];
        let m = row_mac(&k, "journal", "s", 1, "", &v);
        assert_eq!(m.len(), 32);
        assert_ne!(m, row_mac(&k, "journal", "s", 2, "", &v));
        assert_ne!(m, row_mac(&k, "journal", "t", 1, "", &v));
        assert_ne!(m, row_mac(&k, "journal", "s", 1, "x", &v));
        assert_ne!(m, row_mac(&k, "overrides", "s", 1, "", &v));
        let w = vec![Value::from("a"), Value::Int(Some(1)), Value::from("")];
        assert_ne!(m, row_mac(&k, "journal", "s", 1, "", &w));
        let other = ChainKey::parse(&"j".repeat(32)).unwrap();
        assert_ne!(m, row_mac(&other, "journal", "s", 1, "", &v));
    }

    #[test]
    fn a_batch_notes_its_streams_head_only_when_it_wrote_rows_of_a_table_that_keeps_heads() {
        let k = ChainKey::parse(&"k".repeat(32)).unwrap();
        let mut db = crate::sqlite::Sqlite::memory().unwrap();
        crate::migrate::migrate(&mut db, Some(&k)).unwrap();
        let row = |id: &str| -> Vec<Value> {
            // The journal's columns, in order: a `before` of one action.
            vec![
                id.into(),
                "dev".into(),
                "persistent".into(),
                Value::Int(Some(0)),
                Value::Text(None),
                "a".into(),
                "before".into(),
                "web".into(),
                "exec".into(),
                "create".into(),
                "exec web".into(),
                Value::Text(None),
                Value::Text(None),
                Value::Int(Some(1)),
            ]
        };
        let stream = "dev\u{1f}persistent";
        // Nothing to write: nothing written, no head noted, the position
        // handed back as it was.
        let mut pending = PendingHeads::new();
        let at = insert_chained_many(
            &mut db,
            &k,
            &JOURNAL,
            &[],
            stream,
            (4, "m".into()),
            &mut pending,
        )
        .unwrap();
        assert_eq!(at, (3, "m".to_string()));
        assert!(pending.is_empty());
        // Rows of the journal (a table that keeps heads): the last row's
        // position and HMAC noted, each row's seq its chain position.
        let rows = [row("r1"), row("r2")];
        let at = insert_chained_many(
            &mut db,
            &k,
            &JOURNAL,
            &rows,
            stream,
            (1, String::new()),
            &mut pending,
        )
        .unwrap();
        assert_eq!(at.0, 2);
        assert_eq!(
            pending,
            [(
                head_key(JOURNAL.name, stream),
                Head {
                    seq: 2,
                    mac: at.1.clone()
                }
            )]
        );
        let seqs = db
            .rows(
                "SELECT seq, chain_seq FROM journal ORDER BY chain_seq",
                &[],
                |r| (r.int(0), r.int(1)),
            )
            .unwrap();
        assert_eq!(seqs, [(Some(1), Some(1)), (Some(2), Some(2))]);
        // The second row chains to the first: its HMAC is over its values
        // with its seq, after the first's HMAC.
        let first = row_mac(&k, JOURNAL.name, stream, 1, "", &{
            let mut v = row("r1");
            v[3] = Value::Int(Some(1));
            v
        });
        let second = row_mac(&k, JOURNAL.name, stream, 2, &first, &{
            let mut v = row("r2");
            v[3] = Value::Int(Some(2));
            v
        });
        assert_eq!(at.1, second);
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert!(ChainKey::parse("short").is_err());
        let k = ChainKey::parse(&"s".repeat(40)).unwrap();
        assert_eq!(format!("{k:?}"), "ChainKey(***)");
    }
}

#[cfg(test)]
mod heads_tests {
    use std::cell::Cell;

    use super::*;

    fn key() -> ChainKey {
        ChainKey::parse(&"k".repeat(32)).unwrap()
    }

    fn heads(entries: &[(&str, i64, &str)]) -> BTreeMap<String, Head> {
        entries
            .iter()
            .map(|(k, seq, mac)| {
                (
                    k.to_string(),
                    Head {
                        seq: *seq,
                        mac: mac.to_string(),
                    },
                )
            })
            .collect()
    }

    /// The head file's and the anchor's HMACs are a format: files written
    /// by earlier versions must keep reading, so each is pinned.
    #[test]
    fn the_head_file_and_anchor_macs_are_pinned_per_version() {
        let h = heads(&[("journal\u{1e}dev", 3, "ab")]);
        assert_eq!(
            heads_mac(&key(), 1, 0, &h),
            "f816fb02eda07d9b3af31cc7215b73e2"
        );
        // Version 1 has no generation.
        assert_eq!(
            heads_mac(&key(), 1, 9, &h),
            "f816fb02eda07d9b3af31cc7215b73e2"
        );
        assert_eq!(
            heads_mac(&key(), 2, 7, &h),
            "64688fdde06506d41a04c2275737f9d6"
        );
        assert_eq!(
            heads_mac(&key(), 3, 7, &h),
            "64688fdde06506d41a04c2275737f9d6"
        );
        assert_ne!(heads_mac(&key(), 2, 8, &h), heads_mac(&key(), 2, 7, &h));
        assert_eq!(
            anchor_mac(&key(), 7, "ab"),
            "a77bb404fd68a94daa0911d60d7a0186"
        );
        assert_ne!(anchor_mac(&key(), 8, "ab"), anchor_mac(&key(), 7, "ab"));
        assert_ne!(anchor_mac(&key(), 7, "ac"), anchor_mac(&key(), 7, "ab"));
    }

    #[test]
    fn a_version_1_head_file_reads_with_generation_0() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.head");
        let h = heads(&[("journal\u{1e}dev", 3, "ab")]);
        let content = serde_json::json!({
            "version": 1,
            "generation": 5,
            "heads": {"journal\u{1e}dev": {"seq": 3, "mac": "ab"}},
            "mac": heads_mac(&key(), 1, 0, &h),
        });
        std::fs::write(&path, content.to_string()).unwrap();
        let read = HeadFile::new(path).read_full(&key()).unwrap().unwrap();
        assert_eq!(read.generation, 0);
        assert_eq!(read.heads, h);
    }

    #[test]
    fn only_a_missing_head_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            HeadFile::new(dir.path().join("none"))
                .read_full(&key())
                .unwrap()
                .is_none()
        );
        // A directory where the file should be is an error, not "none".
        let err = HeadFile::new(dir.path().to_path_buf()).read_full(&key());
        assert!(err.is_err());
        // Another key's file does not check out.
        let f = HeadFile::new(dir.path().join("registry.head"));
        f.create(&key()).unwrap();
        assert!(f.read_full(&key()).unwrap().is_some());
        let other = ChainKey::parse(&"j".repeat(32)).unwrap();
        assert!(matches!(f.read_full(&other), Err(e) if e.contains("does not match its HMAC")));
    }

    #[test]
    fn a_flush_only_raises_a_head_and_anchors_each_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.head");
        let anchored = Cell::new(0i64);
        let anchor = |g: i64, _mac: &str| -> Result<i64, String> {
            if g >= 0 {
                anchored.set(g);
            }
            Ok(anchored.get())
        };
        let head = |seq: i64| Head {
            seq,
            mac: format!("m{seq}"),
        };
        let seq_in_file = |k: &str| {
            HeadFile::new(path.clone())
                .read_full(&key())
                .unwrap()
                .unwrap()
                .heads[k]
                .seq
        };
        // One process raises k to 5.
        let a = HeadFile::new(path.clone());
        a.create(&key()).unwrap();
        a.note(vec![("k".into(), head(5))]);
        a.flush(&key(), &anchor).unwrap();
        assert_eq!(seq_in_file("k"), 5);
        assert_eq!(anchored.get(), 1);
        // Another that saw only 3 does not lower it; one that wrote 7
        // raises it.
        let b = HeadFile::new(path.clone());
        b.note(vec![("k".into(), head(3)), ("j".into(), head(1))]);
        b.flush(&key(), &anchor).unwrap();
        assert_eq!((seq_in_file("k"), seq_in_file("j")), (5, 1));
        b.note(vec![("k".into(), head(7))]);
        b.flush(&key(), &anchor).unwrap();
        assert_eq!(seq_in_file("k"), 7);
        assert_eq!(anchored.get(), 3);
        // Within one process too, a later note never lowers a head.
        b.note(vec![("k".into(), head(9)), ("k".into(), head(8))]);
        b.flush(&key(), &anchor).unwrap();
        assert_eq!(seq_in_file("k"), 9);
        // The file deleted after generations were anchored: refused, not
        // written afresh.
        std::fs::remove_file(&path).unwrap();
        b.note(vec![("k".into(), head(10))]);
        assert!(
            b.flush(&key(), &anchor)
                .unwrap_err()
                .contains("was deleted")
        );
        assert!(!path.exists());
    }

    #[test]
    fn a_row_mac_matches_only_in_lowercase_hex_of_every_nibble() {
        let v = vec![Value::from("a"), Value::Int(Some(1))];
        let mac = row_mac(&key(), "journal", "s", 1, "", &v);
        let matches = |m: &str| {
            row_mac_matches(
                &key(),
                "journal",
                "s",
                1,
                "",
                v.iter().map(Value::as_ref),
                v.len(),
                m,
            )
        };
        assert!(matches(&mac));
        let flip = |i: usize| {
            let mut b = mac.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            String::from_utf8(b).unwrap()
        };
        // Each nibble of a byte, first and last byte.
        for i in [0, 1, 30, 31] {
            assert!(!matches(&flip(i)), "{i}");
        }
        assert!(!matches(&mac.to_uppercase()) || mac.bytes().all(|b| b.is_ascii_digit()));
        assert!(!matches(&mac[..31]));
        assert!(!matches(&format!("{mac}0")));
        assert!(!matches(""));
    }

    #[test]
    fn a_head_is_kept_for_each_stream_written_but_not_for_phase_runs_or_a_row_already_there() {
        let (reg, dir) = crate::checked::tests::sqlite();
        let ev = crate::DeploymentEvent {
            id: "e1".into(),
            env: "dev".into(),
            deployment: "23-01-26-01".into(),
            run_id: None,
            event: "deploy_started".into(),
            actor: "a".into(),
            commit_sha: None,
            run_url: None,
            detail: None,
            at_us: 1,
        };
        reg.record_deployment(&ev).unwrap();
        // The same event again is nothing new: no head moves past it.
        reg.record_deployment(&ev).unwrap();
        let p = crate::Phase {
            run: "run-1".into(),
            env: "dev".into(),
            deployment: "23-01-26-01".into(),
            phase: "deploy".into(),
            started_us: 1,
            ended_us: Some(2),
            exit_code: Some(0),
            ..Default::default()
        };
        reg.phase_start(&p).unwrap();
        reg.phase_end(&p).unwrap();
        // The file is written when the registry is closed.
        drop(reg);
        let reg = crate::checked::tests::reopen(&dir);
        let text = std::fs::read_to_string(dir.path().join("registry.head")).unwrap();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = file["heads"].as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .any(|k| k.starts_with("deployment_events\u{1e}")),
            "{keys:?}"
        );
        assert!(
            !keys.iter().any(|k| k.starts_with("phase_events")),
            "{keys:?}"
        );
        let head = &file["heads"]["deployment_events\u{1e}dev\u{1f}23-01-26-01"];
        assert_eq!(head["seq"], 1, "{file}");
        assert_eq!(
            reg.deployment_events("dev", "23-01-26-01").unwrap().len(),
            1
        );
        assert_eq!(reg.verify().unwrap(), Vec::new());
    }
}
