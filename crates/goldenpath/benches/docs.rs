//! `goldenpath docs check` over the synthetic repository of
//! `gp_docs::fixture` (1,000 documents, 130 folder metadata files, 180
//! ADRs, 200 changelog entries), timed end to end (process start to exit).
//! Median of 11 runs after one warm-up.
//!
//! `cargo bench -p goldenpath --bench docs`
#![allow(clippy::print_stdout, missing_docs)]

use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");
const RUNS: usize = 11;

fn main() {
    let base = std::env::var_os("GP_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let dir = tempfile::Builder::new()
        .prefix("gp-bench-docs-")
        .tempdir_in(base)
        .expect("temp dir");
    println!("{}", gp_docs::fixture::generate(dir.path()));
    let run = || {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(["docs", "check", "--output", "json", "--root"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .output()
            .expect("run goldenpath");
        assert_eq!(out.status.code(), Some(1), "the fixture has findings");
        (t.elapsed().as_secs_f64(), out.stdout.len())
    };
    let (_, bytes) = run();
    let mut samples: Vec<f64> = (0..RUNS).map(|_| run().0).collect();
    samples.sort_by(f64::total_cmp);
    println!(
        "docs check: median {:.1} ms (min {:.1}, max {:.1}) over {RUNS} runs; {bytes} bytes of findings",
        samples[RUNS / 2] * 1000.0,
        samples[0] * 1000.0,
        samples[RUNS - 1] * 1000.0
    );
}
