//! `goldenpath docs check` over the synthetic repository of
//! `gp_docs::fixture` (1,000 documents, 130 folder metadata files, 180
//! ADRs, 200 changelog entries), timed end to end (process start to exit).
//! Median of 11 runs after one warm-up, alternating with the same checks
//! in Python (`docs_validator.py`: PyYAML, one process), the shape of the
//! validator a platform writes before it has goldenpath.
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
    // The baseline: the same checks in Python with PyYAML, one process
    // (docs_validator.py beside this file), with the test environment's
    // interpreter (GP_TEST_VENV, or .venv at the repository's root).
    let venv = std::env::var_os("GP_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let python = venv.join("bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/docs_validator.py");
    let baseline = || {
        let t = Instant::now();
        let out = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "run {} (bash scripts/prereqs.sh makes it): {e}",
                    python.display()
                )
            });
        assert_eq!(
            out.status.code(),
            Some(1),
            "the baseline finds findings: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .expect("the baseline's JSON")
            .as_array()
            .map_or(0, Vec::len);
        (t.elapsed().as_secs_f64(), n)
    };
    let (_, bytes) = run();
    let (_, found) = baseline();
    let ours: usize = {
        let out = Command::new(BIN)
            .args(["docs", "check", "--output", "json", "--root"])
            .arg(dir.path())
            .output()
            .expect("run goldenpath");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")["findings"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // Alternating, so that both see the same machine.
    let (mut samples, mut python_samples) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        samples.push(run().0);
        python_samples.push(baseline().0);
    }
    samples.sort_by(f64::total_cmp);
    python_samples.sort_by(f64::total_cmp);
    let (ms, py) = (
        samples[RUNS / 2] * 1000.0,
        python_samples[RUNS / 2] * 1000.0,
    );
    println!(
        "docs check: median {ms:.1} ms (min {:.1}, max {:.1}) over {RUNS} runs; {ours} findings, {bytes} bytes",
        samples[0] * 1000.0,
        samples[RUNS - 1] * 1000.0
    );
    println!(
        "Python baseline (PyYAML safe_load, one process): median {py:.1} ms (min {:.1}, max {:.1}); {found} findings",
        python_samples[0] * 1000.0,
        python_samples[RUNS - 1] * 1000.0
    );
    println!(
        "ratio: {:.1}x (goal >= 50x: {})",
        py / ms,
        if py / ms >= 50.0 { "met" } else { "not met" }
    );
}
