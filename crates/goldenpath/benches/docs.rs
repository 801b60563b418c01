//! `goldenpath docs check` over the synthetic repository of
//! `gp_docs::fixture` (1,000 documents, 130 folder metadata files, 180
//! ADRs, 200 changelog entries), timed end to end (process start to exit).
//! Median of 11 runs after one warm-up, alternating with the same checks
//! in Python (`docs_validator.py`: PyYAML, one process), the shape of the
//! validator a platform writes before it has goldenpath. The check does
//! more than the baseline (bare URLs, emoji, numbered names, the ADR
//! index, ...), so it is also run on the same work: a configuration that
//! turns off every rule the baseline does not check, whose findings must
//! name the baseline's files and rules, alternating with both. Then the
//! floor: the same files only read, in this process.
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
    // The same work as the baseline: its rules only (every other rule
    // `off`), from a configuration beside the tree, not in it.
    use gp_docs::rules::{
        BAD_FRONT_MATTER, DUPLICATE_ID, ENUM, NO_FRONT_MATTER, PATTERN, RANGE, REQUIRED, SIDECAR,
        TYPE, UNKNOWN_FIELD, UNRESOLVED,
    };
    const BASELINE_RULES: &[&str] = &[
        NO_FRONT_MATTER,
        BAD_FRONT_MATTER,
        REQUIRED,
        TYPE,
        ENUM,
        PATTERN,
        RANGE,
        UNKNOWN_FIELD,
        DUPLICATE_ID,
        UNRESOLVED,
        SIDECAR,
    ];
    let same_config = {
        let text = std::fs::read_to_string(dir.path().join("goldenpath-docs.yaml"))
            .expect("the fixture's configuration");
        assert!(!text.contains("rules:"), "the fixture sets no rule levels");
        let off: Vec<String> = gp_docs::rules::ALL
            .iter()
            .filter(|r| !BASELINE_RULES.contains(&r.id))
            .map(|r| format!("{}: off", r.id))
            .collect();
        let file = tempfile::Builder::new()
            .prefix("gp-bench-docs-rules-")
            .suffix(".yaml")
            .tempfile_in(dir.path().parent().expect("the temp dir's parent"))
            .expect("a temp file");
        std::fs::write(
            file.path(),
            format!("{text}\nrules: {{ {} }}\n", off.join(", ")),
        )
        .expect("write the configuration");
        file
    };
    let same = || {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(["docs", "check", "--output", "json", "--config"])
            .arg(same_config.path())
            .arg("--root")
            .arg(dir.path())
            .stderr(Stdio::null())
            .output()
            .expect("run goldenpath");
        assert_eq!(out.status.code(), Some(1), "the fixture has findings");
        (t.elapsed().as_secs_f64(), out.stdout)
    };
    let (_, bytes) = run();
    let (_, found) = baseline();
    {
        // The same work: the same files found breaking the same rules.
        let pairs = |v: &serde_json::Value| -> std::collections::BTreeSet<(String, String)> {
            v.as_array()
                .expect("findings")
                .iter()
                .map(|f| {
                    let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                    (text("file"), text("rule"))
                })
                .collect()
        };
        let ours: serde_json::Value = serde_json::from_slice(&same().1).expect("the check's JSON");
        let out = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .output()
            .expect("run the baseline");
        let theirs: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the baseline's JSON");
        let (ours, theirs) = (pairs(&ours["findings"]), pairs(&theirs));
        // goldenpath names both files of a repeated id, the baseline the
        // second only; nothing else may differ.
        let missed: Vec<_> = theirs.difference(&ours).collect();
        let more: Vec<_> = ours
            .difference(&theirs)
            .filter(|(_, rule)| rule != DUPLICATE_ID)
            .collect();
        assert!(
            missed.is_empty() && more.is_empty(),
            "on the baseline's rules, the check and the baseline find the same files breaking the same rules: \
             only the baseline {missed:?}, only the check {more:?}"
        );
    }
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
    let (mut samples, mut same_samples, mut python_samples) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        samples.push(run().0);
        same_samples.push(same().0);
        python_samples.push(baseline().0);
    }
    samples.sort_by(f64::total_cmp);
    same_samples.sort_by(f64::total_cmp);
    python_samples.sort_by(f64::total_cmp);
    let (ms, same_ms, py) = (
        samples[RUNS / 2] * 1000.0,
        same_samples[RUNS / 2] * 1000.0,
        python_samples[RUNS / 2] * 1000.0,
    );
    println!(
        "docs check: median {ms:.1} ms (min {:.1}, max {:.1}) over {RUNS} runs; {ours} findings, {bytes} bytes",
        samples[0] * 1000.0,
        samples[RUNS - 1] * 1000.0
    );
    println!(
        "docs check on the baseline's rules only (the same work): median {same_ms:.1} ms (min {:.1}, max {:.1})",
        same_samples[0] * 1000.0,
        same_samples[RUNS - 1] * 1000.0
    );
    println!(
        "Python baseline (PyYAML safe_load, one process): median {py:.1} ms (min {:.1}, max {:.1}); {found} findings",
        python_samples[0] * 1000.0,
        python_samples[RUNS - 1] * 1000.0
    );
    // The floor under any check of this tree: every file it reads, only
    // read (no parsing), in this process (no process start), on as many
    // threads as the check uses — measured after the runs above, so the
    // files are as cached as they were for each run.
    {
        let mut files = Vec::new();
        let mut dirs = vec![dir.path().to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("read the fixture") {
                let e = e.expect("a fixture entry");
                if e.file_type().expect("a file type").is_dir() {
                    dirs.push(e.path());
                } else {
                    files.push(e.path());
                }
            }
        }
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let chunk = files.len().div_ceil(threads).max(1);
        let mut floors: Vec<f64> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let bytes: usize = std::thread::scope(|s| {
                    let handles: Vec<_> = files
                        .chunks(chunk)
                        .map(|c| {
                            s.spawn(move || {
                                c.iter()
                                    .map(|p| std::fs::read(p).map_or(0, |b| b.len()))
                                    .sum::<usize>()
                            })
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
                });
                assert!(bytes > 0);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        floors.sort_by(f64::total_cmp);
        // And a goldenpath process that does nothing: start to exit.
        let mut starts: Vec<f64> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let out = Command::new(BIN)
                    .arg("--version")
                    .output()
                    .expect("run goldenpath --version");
                assert!(out.status.success());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        starts.sort_by(f64::total_cmp);
        println!(
            "floor: goldenpath --version, process start to exit: median {:.1} ms",
            starts[RUNS / 2]
        );
        println!(
            "floor: reading the tree's {} files, nothing parsed, in this process on {threads} threads: median {:.1} ms; 50x the baseline needs the whole check, process start to exit, in {:.1} ms",
            files.len(),
            floors[RUNS / 2],
            py / 50.0
        );
    }
    println!("ratio, every rule against the baseline's: {:.1}x", py / ms);
    println!(
        "ratio on the same work: {:.1}x (goal >= 50x: {})",
        py / same_ms,
        if py / same_ms >= 50.0 {
            "met"
        } else {
            "not met"
        }
    );
}
