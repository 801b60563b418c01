//! Append throughput: 8 writer processes (`gp-registry-load`) appending
//! phase events to one registry, on SQLite and on PostgreSQL. Reports the
//! median events/s of several runs and checks that none was lost.
//!
//! With `GP_BASELINE_LOAD=/path/to/gp-registry-load` (a build of an earlier
//! goldenpath), the baseline and this build run alternately, each on its own
//! registry, and the ratio of their medians is printed.
//!
//! `cargo bench -p gp-registry --bench append`
#![allow(clippy::print_stdout, missing_docs)]

use std::process::{Command, Stdio};
use std::time::Instant;

use gp_registry::{Location, OpenOptions, Registry, now_us};

const LOAD: &str = env!("CARGO_BIN_EXE_gp-registry-load");
const WRITERS: usize = 8;
const EVENTS_PER_WRITER: u64 = 2000;
const RUNS: usize = 5;
const KEY: &str = "bench-registry-key-0123456789abcdef";

fn count(loc: &Location) -> i64 {
    // Read-only: no key needed, and a baseline's registry stays as it is.
    let opts = OpenOptions {
        key: None,
        read_only: true,
    };
    Registry::open_with(loc, &opts)
        .expect("open")
        .count_phase_events()
        .expect("count")
}

fn run_once(bin: &str, loc: &Location, arg: &str) -> f64 {
    let before = count(loc);
    let start = now_us() + 500_000;
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            Command::new(bin)
                .env("GOLDENPATH_REGISTRY_KEY", KEY)
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
    let after = count(loc);
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

fn show(v: &[f64]) -> String {
    v.iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs this build (and the baseline, alternating, when given) `RUNS`
/// times on the registries `make` returns.
fn compare(name: &str, baseline: Option<&str>, make: &mut dyn FnMut(&str) -> (Location, String)) {
    let (loc, arg) = make("current");
    let base = baseline.map(|b| (b, make("baseline")));
    let mut current = Vec::new();
    let mut before = Vec::new();
    for run in 0..RUNS {
        // Alternate which side goes first.
        let mut sides: Vec<bool> = vec![true, false];
        if run % 2 == 1 {
            sides.reverse();
        }
        for is_current in sides {
            match (is_current, &base) {
                (true, _) => current.push(run_once(LOAD, &loc, &arg)),
                (false, Some((bin, (bloc, barg)))) => before.push(run_once(bin, bloc, barg)),
                (false, None) => {}
            }
        }
    }
    println!(
        "append/{name}: {WRITERS} processes x {EVENTS_PER_WRITER} events, median {:.0} events/s over {RUNS} runs (runs: {})",
        median(current.clone()),
        show(&current)
    );
    if !before.is_empty() {
        println!(
            "append/{name} baseline: median {:.0} events/s (runs: {}); this build / baseline = {:.2}x the throughput, {:.2}x the time",
            median(before.clone()),
            show(&before),
            median(current.clone()) / median(before.clone()),
            median(before.clone()) / median(current.clone())
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let started = Instant::now();
    let baseline = std::env::var("GP_BASELINE_LOAD").ok();
    let dir = gp_test::tempdir();
    compare("sqlite", baseline.as_deref(), &mut |side| {
        let db = dir.path().join(side).join("registry.db");
        std::fs::create_dir_all(db.parent().expect("parent")).expect("mkdir");
        let arg = db.display().to_string();
        (Location::Sqlite(db), arg)
    });
    let pg = gp_test::postgres::TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).expect("connect");
    compare("postgres", baseline.as_deref(), &mut |side| {
        let _ = admin.batch_execute(&format!("CREATE DATABASE ledger_{side}"));
        let url = pg.url_for(&format!("ledger_{side}"));
        (Location::Postgres(url.clone()), url)
    });
    println!("(bench took {:.1}s)", started.elapsed().as_secs_f64());
}
