//! `registry verify` over a ledger of 1,000,000 chained rows: every row's
//! HMAC recomputed and its place in its stream checked, the head file read,
//! and the ledger's invariants. Goal: under 2 s.
//!
//! The registry is filled through the real append path (8 `gp-registry-load`
//! processes, one SQLite file), then verified three times.
//!
//! `cargo bench -p gp-registry --bench verify`
#![allow(clippy::print_stdout, missing_docs)]

use std::process::{Command, Stdio};
use std::time::Instant;

use gp_registry::{Location, Registry};

const LOAD: &str = env!("CARGO_BIN_EXE_gp-registry-load");
const WRITERS: usize = 8;
/// Rows per writer (`--phases N` appends N phase events).
const PHASES_PER_WRITER: u64 = 125_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = gp_test::tempdir();
    let db = dir.path().join("registry.db");
    let loc = Location::Sqlite(db.clone());
    drop(Registry::open(&loc).expect("open"));
    let fill = Instant::now();
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            Command::new(LOAD)
                .args(["--registry", &db.display().to_string(), "--env", "bench"])
                .args([
                    "--phases",
                    &PHASES_PER_WRITER.to_string(),
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
    let reg = Registry::open(&loc).expect("open");
    let rows = reg.count_phase_events().expect("count");
    println!(
        "verify: filled {rows} rows in {:.1}s through the append path",
        fill.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let breaches = reg.verify().expect("verify");
        times.push(t.elapsed().as_secs_f64());
        assert!(breaches.is_empty(), "{breaches:?}");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "verify: {rows} rows, median {:.3}s over 3 runs (runs: {})",
        times[1],
        times
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
