//! The registry's test story, run against SQLite and against a real
//! PostgreSQL started from its binaries.

mod concurrency;
mod csv_import;
mod csv_layouts;
mod story;

use gp_registry::{ChainKey, Location, OpenOptions, Registry};

/// The chain key every test opening a PostgreSQL registry uses.
pub fn pg_options() -> OpenOptions {
    OpenOptions {
        key: Some(ChainKey::parse("test-registry-key-0123456789abcdef").unwrap()),
        read_only: false,
    }
}

/// Opens `loc` as the tests do: the default key for SQLite, the test key for
/// PostgreSQL.
pub fn open(loc: &Location) -> Registry {
    match loc {
        Location::Sqlite(_) => Registry::open(loc).unwrap(),
        Location::Postgres(_) => Registry::open_with(loc, &pg_options()).unwrap(),
    }
}

/// A registry on a fresh SQLite file, and the directory holding it.
pub fn sqlite() -> (Registry, tempfile::TempDir, Location) {
    let dir = gp_test::tempdir();
    let loc = Location::Sqlite(dir.path().join("registry.db"));
    (Registry::open(&loc).unwrap(), dir, loc)
}

/// A registry on a fresh PostgreSQL server.
pub fn postgres() -> (Registry, gp_test::postgres::TestPostgres, Location) {
    let pg = gp_test::postgres::TestPostgres::start();
    let loc = Location::Postgres(pg.url());
    (Registry::open_with(&loc, &pg_options()).unwrap(), pg, loc)
}
