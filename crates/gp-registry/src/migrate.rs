//! Embedded, numbered migrations (only ever added, never edited), the seal
//! over rows that predate chaining, and the PostgreSQL role checks.

use std::collections::BTreeMap;

use crate::chain::{self, ChainKey, TABLES};
use crate::db::{Backend, Db, DbExt};
use crate::{Registry, RegistryError, now_us};

const MIGRATIONS_SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("migrations/sqlite/0001_ledger.sql"),
    ),
    (2, "chain", include_str!("migrations/sqlite/0002_chain.sql")),
    (
        3,
        "source-index",
        include_str!("migrations/sqlite/0003_source_index.sql"),
    ),
    (4, "trust", include_str!("migrations/sqlite/0004_trust.sql")),
    (
        5,
        "history-indexes",
        include_str!("migrations/sqlite/0005_history_indexes.sql"),
    ),
    (
        6,
        "journal-indexes",
        include_str!("migrations/sqlite/0006_journal_indexes.sql"),
    ),
];
const MIGRATIONS_POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("migrations/postgres/0001_ledger.sql"),
    ),
    (
        2,
        "chain",
        include_str!("migrations/postgres/0002_chain.sql"),
    ),
    (
        3,
        "source-index",
        include_str!("migrations/postgres/0003_source_index.sql"),
    ),
    (
        4,
        "trust",
        include_str!("migrations/postgres/0004_trust.sql"),
    ),
    (
        5,
        "history-indexes",
        include_str!("migrations/postgres/0005_history_indexes.sql"),
    ),
    (
        6,
        "journal-indexes",
        include_str!("migrations/postgres/0006_journal_indexes.sql"),
    ),
];

fn table_exists(db: &mut dyn Db, name: &str) -> Result<bool, RegistryError> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?"
        }
    };
    Ok(db.scalar(sql, &[name.into()])?.unwrap_or(0) > 0)
}

/// Whether the ledger holds no rows at all (a registry file another tool
/// created, or one that was never written).
pub(crate) fn is_empty(db: &mut dyn Db) -> Result<bool, RegistryError> {
    for t in TABLES {
        if table_exists(db, t.name)?
            && db
                .scalar(&format!("SELECT COUNT(*) FROM {}", t.name), &[])?
                .unwrap_or(0)
                > 0
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Applies embedded migrations not yet applied, under a lock so that two
/// processes opening a new registry at once do not both migrate. A role
/// that may not change the schema (a runner on a shared registry) is told
/// to have the owner migrate.
pub(crate) fn migrate(db: &mut dyn Db, key: Option<&ChainKey>) -> Result<(), RegistryError> {
    let migrations = match db.backend() {
        Backend::Sqlite => MIGRATIONS_SQLITE,
        Backend::Postgres => MIGRATIONS_POSTGRES,
    };
    let latest = migrations.iter().map(|m| m.0).max().unwrap_or(0);
    if table_exists(db, "schema_migrations")? {
        let applied = db
            .scalar("SELECT MAX(version) FROM schema_migrations", &[])?
            .unwrap_or(0);
        if applied >= latest {
            return Ok(());
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = (|| {
            db.begin(Some("migrate"))?;
            if !table_exists(db, "schema_migrations")? {
                db.batch("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, at_us BIGINT NOT NULL)")?;
            }
            let applied = db.rows("SELECT version FROM schema_migrations", &[], |r| {
                r.int(0).unwrap_or(0)
            })?;
            for (version, name, sql) in migrations {
                if applied.contains(version) {
                    continue;
                }
                tracing::info!("registry: applying migration {version:04} {name}");
                db.batch(sql)?;
                if *version == 2 {
                    seal_legacy(db, key)?;
                }
                db.exec(
                    "INSERT INTO schema_migrations (version, name, at_us) VALUES (?, ?, ?)",
                    &[(*version).into(), (*name).into(), now_us().into()],
                )?;
            }
            db.commit()
        })();
        match result {
            Ok(()) => return Ok(()),
            Err(e) => {
                db.rollback();
                if let RegistryError::Db { message, .. } = &e
                    && (message.contains("permission denied") || message.contains("must be owner"))
                {
                    return Err(RegistryError::Invalid(format!(
                        "the registry's schema needs migration {latest:04}, and this role may not change it ({message}); run `goldenpath registry migrate` once as the registry's owner role"
                    )));
                }
                if !(e.retryable() && attempt < 20) {
                    return Err(e);
                }
            }
        }
    }
}

/// Seals the rows written before chaining existed: their number and a
/// digest over them, per table. Without the key (a read-only opening) they
/// stay unsealed, which `registry verify` reports.
fn seal_legacy(db: &mut dyn Db, key: Option<&ChainKey>) -> Result<(), RegistryError> {
    let Some(key) = key else { return Ok(()) };
    for t in TABLES {
        let width = t.columns.len();
        let rows = db.rows(
            &format!("SELECT {} FROM {} ORDER BY id", t.select_list(), t.name),
            &[],
            |r| (0..width).map(|i| r.value(i)).collect::<Vec<_>>(),
        )?;
        let digest = chain::seal_digest(key, t.name, &rows);
        db.exec(
            "INSERT INTO chain_seals (tbl, rows, digest, at_us) VALUES (?, ?, ?, ?)",
            &[
                t.name.into(),
                (rows.len() as i64).into(),
                digest.into(),
                now_us().into(),
            ],
        )?;
    }
    Ok(())
}

/// Sealed legacy rows per table.
pub(crate) fn legacy_counts(db: &mut dyn Db) -> Result<BTreeMap<String, i64>, RegistryError> {
    if !table_exists(db, "chain_seals")? {
        return Ok(BTreeMap::new());
    }
    Ok(db
        .rows("SELECT tbl, rows FROM chain_seals", &[], |r| {
            (r.string(0), r.int(1).unwrap_or(0))
        })?
        .into_iter()
        .collect())
}

/// What the person running goldenpath should know about how it connected.
pub(crate) fn warnings(db: &mut dyn Db) -> Result<Vec<String>, RegistryError> {
    if db.backend() != Backend::Postgres {
        return Ok(Vec::new());
    }
    let rows = db.rows(
        "SELECT r.rolsuper::int, (pg_catalog.pg_get_userbyid(c.relowner) = current_user)::int, current_user::text \
         FROM pg_catalog.pg_roles r, pg_catalog.pg_class c \
         WHERE r.rolname = current_user AND c.relname = 'journal' AND c.relkind = 'r'",
        &[],
        |r| (r.int(0).unwrap_or(0), r.int(1).unwrap_or(0), r.string(2)),
    )?;
    let mut out = Vec::new();
    if let Some((superuser, owner, user)) = rows.into_iter().next()
        && (superuser != 0 || owner != 0)
    {
        out.push(format!(
            "connected to the shared registry as `{user}`, {} its tables: this role can alter or disable the append-only triggers. Runners should use a role with INSERT and SELECT only (`goldenpath registry grant-runner ROLE`, run once as the owner)",
            if superuser != 0 { "a superuser over" } else { "the owner of" }
        ));
    }
    Ok(out)
}

/// `GRANT`s for a runner role: `SELECT` and `INSERT` on the ledger's
/// tables, nothing else (no `UPDATE`, `DELETE`, `TRUNCATE`, `TRIGGER` or
/// ownership, so it cannot alter the tables or disable their triggers).
pub(crate) fn grant_runner(registry: &Registry, role: &str) -> Result<(), RegistryError> {
    let valid = !role.is_empty()
        && role.len() <= 63
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && role.as_bytes()[0].is_ascii_lowercase();
    if !valid {
        return Err(RegistryError::Invalid(format!(
            "`{role}` is not a role name goldenpath grants to: use [a-z][a-z0-9_]{{0,62}}"
        )));
    }
    registry.with_db(|db| {
        if db.backend() != Backend::Postgres {
            return Err(RegistryError::Invalid(
                "roles exist only on a PostgreSQL registry".into(),
            ));
        }
        let mut sql = format!("GRANT USAGE ON SCHEMA public TO \"{role}\";\n");
        for t in TABLES
            .iter()
            .map(|t| t.name)
            .chain(["schema_migrations", "chain_seals", "head_anchors"])
        {
            sql.push_str(&format!(
                "REVOKE ALL ON TABLE {t} FROM \"{role}\";\nGRANT SELECT, INSERT ON TABLE {t} TO \"{role}\";\n"
            ));
        }
        db.batch(&sql)
    })
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, DbExt};
    use crate::{Location, Registry};

    /// The indexes of the journal, as SQLite lists them.
    fn journal_indexes(path: &std::path::Path) -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'journal' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_deployments_journal_is_read_in_chain_order_without_a_sort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        drop(Registry::open(&Location::Sqlite(path.clone())).unwrap());
        let sql =
            crate::checked::streams_sql(&crate::chain::JOURNAL, crate::journal::DEPLOYMENT_JOURNAL);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(["dev", "persistent"], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            plan,
            ["SEARCH journal USING INDEX journal_stream_order (env=? AND deployment=?)"],
            "{sql}"
        );
    }

    #[test]
    fn the_journal_keeps_only_the_indexes_its_reads_and_refusals_use() {
        let wanted = [
            "journal_chain",
            "journal_stream_order",
            "journal_unchained",
            "sqlite_autoindex_journal_1",
            "sqlite_autoindex_journal_2",
        ];
        // A new registry: every migration applied in one go.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        drop(Registry::open(&Location::Sqlite(path.clone())).unwrap());
        assert_eq!(journal_indexes(&path), wanted);
        // A registry migrated up to 0005 (it has `journal_action`) loses
        // the index when it is opened next, its rows still there.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        {
            let mut db = crate::sqlite::Sqlite::open(&path).unwrap();
            let (older, _) = super::MIGRATIONS_SQLITE.split_at(5);
            db.batch("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, at_us BIGINT NOT NULL)")
                .unwrap();
            for (version, name, sql) in older {
                db.batch(sql).unwrap();
                db.exec(
                    "INSERT INTO schema_migrations (version, name, at_us) VALUES (?, ?, 0)",
                    &[(*version).into(), (*name).into()],
                )
                .unwrap();
            }
            assert!(journal_indexes(&path).contains(&"journal_action".to_string()));
            assert_eq!(
                db.scalar("SELECT MAX(version) FROM schema_migrations", &[])
                    .unwrap(),
                Some(5)
            );
        }
        drop(Registry::open(&Location::Sqlite(path.clone())).unwrap());
        assert_eq!(journal_indexes(&path), wanted);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let latest: i64 = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(latest, 6);
    }
}
