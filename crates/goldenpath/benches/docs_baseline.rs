//! `goldenpath docs check` at the size of a large platform repository:
//! 10,000 Markdown files, about 300 folder `metadata.yaml` and a committed
//! baseline of more than 5,000 entries, timed end to end through the
//! release binary, side by side with the same check ignoring the baseline
//! (`--no-baseline`, which reports every finding). Median of 11 runs each,
//! alternating, after one warm-up.
//!
//! `cargo bench -p goldenpath --bench docs_baseline`
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
        .prefix("gp-bench-docs-baseline-")
        .tempdir_in(base)
        .expect("temp dir");
    println!(
        "{}",
        gp_docs::fixture::generate_sized(dir.path(), 9_619, 37, true)
    );
    let out = Command::new(BIN)
        .args(["docs", "baseline", "--output", "json", "--root"])
        .arg(dir.path())
        .output()
        .expect("run goldenpath");
    assert_eq!(out.status.code(), Some(0), "docs baseline");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    println!(
        "baseline: {} entries accepting {} findings",
        summary["entries"], summary["findings"]
    );
    let run = |extra: &[&str], want: i32| {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(["docs", "check", "--output", "json"])
            .args(extra)
            .arg("--root")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run goldenpath");
        assert_eq!(out.code(), Some(want));
        t.elapsed().as_secs_f64()
    };
    run(&[], 0);
    run(&["--no-baseline"], 1);
    let mut with = Vec::new();
    let mut without = Vec::new();
    for i in 0..RUNS {
        if i % 2 == 0 {
            with.push(run(&[], 0));
            without.push(run(&["--no-baseline"], 1));
        } else {
            without.push(run(&["--no-baseline"], 1));
            with.push(run(&[], 0));
        }
    }
    with.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);
    let (m, n) = (with[RUNS / 2], without[RUNS / 2]);
    println!(
        "docs check with the baseline: median {:.1} ms (min {:.1}, max {:.1}); --no-baseline: median {:.1} ms (min {:.1}, max {:.1}); ratio {:.2}",
        m * 1000.0,
        with[0] * 1000.0,
        with[RUNS - 1] * 1000.0,
        n * 1000.0,
        without[0] * 1000.0,
        without[RUNS - 1] * 1000.0,
        m / n
    );
}
