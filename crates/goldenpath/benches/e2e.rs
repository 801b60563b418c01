//! The V1 flow on the local example, timed per step with the release
//! binary: (1) a build before the foundational plane, (2) the foundational
//! plane, (3) the build again, (4) verify propagation, (5) teardown,
//! (6) registry export. For each step, the wall time of the goldenpath
//! process and the part spent in child processes goldenpath waited for,
//! read from the phases the step recorded (terraform init/plan/show/apply,
//! `initdb`); the rest is goldenpath's own share, which still includes
//! PostgreSQL round trips, `git` commits and file I/O. Median of 3 flows.
//!
//! `cargo bench -p goldenpath --bench e2e`
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");
const FLOWS: usize = 3;

fn gp(dir: &Path, args: &[&str]) -> (f64, String) {
    let t = Instant::now();
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("GOLDENPATH_ACTOR", "bench")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let took = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Phase rows (name, seconds) in the registry.
fn phases(dir: &Path) -> Vec<(String, String, f64)> {
    let (_, csv) = gp(dir, &["registry", "export", "--format", "csv"]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (start, phase, dur) = (col("start_time_utc"), col("phase"), col("duration_seconds"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                format!("{}{}", f[start], f[phase]),
                f[phase].to_string(),
                f[dur].parse().unwrap_or(0.0),
            )
        })
        .collect()
}

fn child_time(before: &[(String, String, f64)], after: &[(String, String, f64)]) -> f64 {
    let mut seen: Vec<&String> = before.iter().map(|(k, _, _)| k).collect();
    let mut total = 0.0;
    for (k, name, d) in after {
        if let Some(i) = seen.iter().position(|s| *s == k) {
            seen.remove(i);
            continue;
        }
        if name.starts_with("terraform-") || name.starts_with("postgres-") {
            total += d;
        }
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let base = std::env::var_os("GP_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let steps = [
        "1 deploy build (before foundational)",
        "2 deploy --foundational",
        "3 deploy build again",
        "4 verify propagation",
        "5 teardown build",
        "6 registry export csv",
    ];
    let mut wall = vec![Vec::new(); steps.len()];
    let mut child = vec![Vec::new(); steps.len()];
    let mut totals = Vec::new();
    for flow in 0..FLOWS {
        let dir = tempfile::Builder::new()
            .prefix("gp-bench-e2e-")
            .tempdir_in(&base)
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        gp(dir.path(), &["init", "--example", "local", "."]);
        let build = format!("26-11-26-{:02}", 10 + flow);
        let args: [Vec<&str>; 6] = [
            vec!["deploy", "--env", "dev", "--build-id", &build],
            vec!["deploy", "--env", "dev", "--foundational"],
            vec!["deploy", "--env", "dev", "--build-id", &build],
            vec![
                "verify",
                "propagation",
                "--env",
                "dev",
                "--build-id",
                &build,
            ],
            vec!["teardown", "--env", "dev", "--build-id", &build],
            vec!["registry", "export", "--format", "csv"],
        ];
        let mut before = Vec::new();
        let mut total = 0.0;
        for (i, a) in args.iter().enumerate() {
            let (t, _) = gp(dir.path(), a);
            let after = if i < 5 {
                phases(dir.path())
            } else {
                before.clone()
            };
            let c = child_time(&before, &after);
            wall[i].push(t);
            child[i].push(c);
            total += t;
            before = after;
        }
        totals.push(total);
        // Stop the managed PostgreSQL.
        gp(
            dir.path(),
            &[
                "teardown",
                "--env",
                "dev",
                "--foundational",
                "--confirm",
                "--break-glass",
                "rds",
                "--reason",
                "bench cleanup",
            ],
        );
        println!("flow {}: {:.2} s", flow + 1, total);
    }
    println!(
        "\n{:<40} {:>8} {:>10} {:>12}",
        "step", "wall s", "children s", "goldenpath s"
    );
    for (i, s) in steps.iter().enumerate() {
        let (w, c) = (median(wall[i].clone()), median(child[i].clone()));
        println!("{s:<40} {w:>8.3} {c:>10.3} {:>12.3}", (w - c).max(0.0));
    }
    println!("whole flow median {:.2} s", median(totals));
}
