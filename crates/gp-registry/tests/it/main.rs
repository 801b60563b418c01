//! The registry's test story, run against SQLite and against a real
//! PostgreSQL started from its binaries.

mod concurrency;
mod csv_import;
mod story;

use gp_registry::{Location, Registry};

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
    (Registry::open(&loc).unwrap(), pg, loc)
}
