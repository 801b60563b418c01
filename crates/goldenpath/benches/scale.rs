//! `validate`, `plan` and `status` of generated specs of 1,000 and 10,000
//! components (each needing up to 3 earlier ones, exec driver), as whole
//! processes of the release binary: the time a user waits. Median of 5.
//! Goal: plan and status of 10,000 components ≤ 250 ms each.
//!
//! `cargo bench -p goldenpath --bench scale`
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");
const RUNS: usize = 5;

fn spec(n: usize) -> String {
    let mut out = String::from(
        "apiVersion: goldenpath.dev/v1alpha1\nkind: Platform\nproject: bench\nprefix: bench\ndomain: example.io\nowner: team\nenvironments:\n  dev:\n    ephemeral: { maxTier: 3 }\n    persistent: { maxTier: 3 }\ncomponents:\n",
    );
    let mut seed: u64 = 7;
    for i in 0..n {
        let mut needs = std::collections::BTreeSet::new();
        for _ in 0..i.min(3) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            needs.insert(seed as usize % i);
        }
        let needs: Vec<String> = needs.iter().map(|j| format!("c{j}")).collect();
        out.push_str(&format!(
            "  - name: c{i}\n    plane: disposable\n    tier: 0\n    driver: exec\n    needs: [{}]\n    settings: {{apply: 'true'}}\n",
            needs.join(", ")
        ));
    }
    out
}

fn time(dir: &Path, args: &[&str]) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    for n in [1000, 10_000] {
        let dir = gp_test::tempdir();
        std::fs::write(dir.path().join("goldenpath.yaml"), spec(n)).unwrap();
        let build = ["--build-id", "23-01-26-01"];
        let validate = time(dir.path(), &["validate"]);
        let plan = time(
            dir.path(),
            &[&["plan", "--env", "dev"][..], &build].concat(),
        );
        let status = time(
            dir.path(),
            &[&["status", "--env", "dev"][..], &build].concat(),
        );
        println!(
            "scale: {n} components: validate {validate:.1} ms, plan {plan:.1} ms, status {status:.1} ms (whole process, median of {RUNS})"
        );
    }
}
