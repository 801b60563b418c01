//! Append throughput: 8 writer processes (`gp-registry-load`) appending
//! phase events to one registry, on SQLite and on PostgreSQL. Reports the
//! median events/s of several runs and checks that none was lost.
//!
//! `cargo bench -p gp-registry --bench append`
#![allow(clippy::print_stdout, missing_docs)]

use std::process::{Command, Stdio};
use std::time::Instant;

use gp_registry::{Location, Registry, now_us};

const LOAD: &str = env!("CARGO_BIN_EXE_gp-registry-load");
const WRITERS: usize = 8;
const EVENTS_PER_WRITER: u64 = 2000;
const RUNS: usize = 5;

fn run_once(loc: &Location, arg: &str) -> f64 {
    let reg = Registry::open(loc).expect("open");
    let before = reg.count_phase_events().expect("count");
    let start = now_us() + 500_000;
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            Command::new(LOAD)
                .args([
                    "--registry",
                    arg,
                    "--env",
                    "bench",
                    "--phases",
                    &EVENTS_PER_WRITER.to_string(),
                ])
                .args([
                    "--start-at-us",
                    &start.to_string(),
                    "--worker",
                    &i.to_string(),
                ])
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let elapsed = (now_us() - start) as f64 / 1e6;
    let after = reg.count_phase_events().expect("count");
    assert_eq!(
        after - before,
        (WRITERS as u64 * EVENTS_PER_WRITER) as i64,
        "events lost"
    );
    (WRITERS as u64 * EVENTS_PER_WRITER) as f64 / elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let started = Instant::now();
    let dir = gp_test::tempdir();
    let db = dir.path().join("registry.db");
    let loc = Location::Sqlite(db.clone());
    let sqlite: Vec<f64> = (0..RUNS)
        .map(|_| run_once(&loc, db.to_str().unwrap_or_default()))
        .collect();
    println!(
        "append/sqlite: {WRITERS} processes x {EVENTS_PER_WRITER} events, median {:.0} events/s over {RUNS} runs (runs: {})",
        median(sqlite.clone()),
        sqlite
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let pg = gp_test::postgres::TestPostgres::start();
    let url = pg.url();
    let loc = Location::Postgres(url.clone());
    let postgres: Vec<f64> = (0..RUNS).map(|_| run_once(&loc, &url)).collect();
    println!(
        "append/postgres: {WRITERS} processes x {EVENTS_PER_WRITER} events, median {:.0} events/s over {RUNS} runs (runs: {})",
        median(postgres.clone()),
        postgres
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("(bench took {:.1}s)", started.elapsed().as_secs_f64());
}
