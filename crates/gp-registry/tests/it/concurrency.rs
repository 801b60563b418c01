//! Many OS processes against one registry: nothing lost, nothing doubled.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use gp_registry::{Location, Registry, now_us};

const LOAD: &str = env!("CARGO_BIN_EXE_gp-registry-load");

fn location_arg(loc: &Location) -> String {
    match loc {
        Location::Sqlite(p) => p.display().to_string(),
        Location::Postgres(url) => url.clone(),
    }
}

/// Runs `n` workers with `args` each, started at the same instant, and
/// returns every JSON line they printed.
fn workers(loc: &Location, n: usize, args: &[&str]) -> Vec<serde_json::Value> {
    let start = now_us() + 1_500_000;
    let children: Vec<_> = (0..n)
        .map(|i| {
            Command::new(LOAD)
                .env(
                    "GOLDENPATH_REGISTRY_KEY",
                    "test-registry-key-0123456789abcdef",
                )
                .arg("--registry")
                .arg(location_arg(loc))
                .args(args)
                .args([
                    "--start-at-us",
                    &start.to_string(),
                    "--worker",
                    &i.to_string(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut lines = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            lines.push(serde_json::from_str(line).unwrap());
        }
    }
    lines
}

fn eight_writers(reg: &Registry, loc: &Location) {
    let lines = workers(
        loc,
        8,
        &["--env", "load", "--phases", "2000", "--auto", "5"],
    );
    assert_eq!(
        reg.count_phase_events().unwrap(),
        16_000,
        "every event arrives exactly once"
    );
    let ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["build_id"].as_str())
        .collect();
    let distinct: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(
        distinct.len(),
        40,
        "auto never hands out the same id twice: {ids:?}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.get("new").is_some())
            .all(|l| l["new"] == true)
    );
    // Sequence numbers are dense: 01..40 of today.
    let mut seqs: Vec<u32> = distinct.iter().map(|id| id[9..].parse().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    assert_eq!(reg.verify().unwrap(), vec![]);
}

fn same_id_race(reg: &Registry, loc: &Location) {
    // Two processes reserve the same 50 explicit ids at the same instant.
    let lines = workers(loc, 2, &["--env", "race", "--race", "01-01-27:50"]);
    let mut winners: BTreeMap<String, u32> = BTreeMap::new();
    for l in &lines {
        if let Some(id) = l["build_id"].as_str() {
            *winners.entry(id.into()).or_default() += u32::from(l["new"] == true);
        }
    }
    assert_eq!(winners.len(), 50);
    for (id, wins) in &winners {
        assert_eq!(*wins, 1, "build {id} was won {wins} times");
    }
    assert_eq!(reg.builds("race").unwrap().len(), 50);
}

#[test]
fn eight_processes_on_sqlite() {
    let (reg, _dir, loc) = crate::sqlite();
    eight_writers(&reg, &loc);
}

#[test]
fn eight_processes_on_postgres() {
    let (reg, _pg, loc) = crate::postgres();
    eight_writers(&reg, &loc);
}

#[test]
fn same_explicit_id_race_on_sqlite() {
    let (reg, _dir, loc) = crate::sqlite();
    same_id_race(&reg, &loc);
}

#[test]
fn same_explicit_id_race_on_postgres() {
    let (reg, _pg, loc) = crate::postgres();
    same_id_race(&reg, &loc);
}
