//! The registry through the CLI: builds, leases, export/import/report/verify.

use gp_core::BuildIdArg;
use gp_registry::{DeploymentEvent, Location, Registry, ReserveRequest, new_id, now_us};

use crate::gp;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = gp_test::tempdir();
        let spec = std::fs::read_to_string(gp_test::example("local/goldenpath.yaml")).unwrap();
        std::fs::write(dir.path().join("goldenpath.yaml"), spec).unwrap();
        Fixture { dir }
    }
    fn registry(&self) -> Registry {
        Registry::open(&Location::Sqlite(
            self.dir.path().join(".goldenpath/registry.db"),
        ))
        .unwrap()
    }
    fn run(&self, args: &[&str]) -> gp_test::Output {
        let mut out = gp_test::run(
            gp().current_dir(self.dir.path())
                .env("GOLDENPATH_ACTOR", "tester")
                .args(args),
        );
        out.stderr = gp_test::redact_dir(&out.stderr, self.dir.path());
        out
    }
}

#[test]
fn import_export_report_verify() {
    let f = Fixture::new();
    let fixture =
        gp_test::repo_root().join("crates/gp-registry/tests/it/fixtures/build_timings_mixed.csv");
    let out = f.run(&["registry", "import", fixture.to_str().unwrap()]);
    // Every row that fits a layout goes in; the one of 4 cells and the one
    // whose duration is words fit none, each reported by line with its
    // cells.
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("7 rows, 5 imported, 0 already present, 2 not readable"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(
            "build_timings_mixed.csv:6: row not imported: a row of 4 cells fits no layout"
        ) && out
            .stderr
            .contains("(cells: 2025-01-17T09:00:00Z,2025-01-17T09:04:00Z,terraform-apply,dev)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "build_timings_mixed.csv:7: row not imported: fits no layout of 12 cells: duration_seconds `four minutes` is not a number"
        ),
        "{}",
        out.stderr
    );
    // A legacy id is kept exactly as written: no date is invented.
    assert!(
        out.stderr
            .contains("build_timings_mixed.csv:4: build_id `20250115-06`")
            && !out.stderr.contains("15-01-25-06"),
        "{}",
        out.stderr
    );
    let out = f.run(&["builds", "list", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("20250115-06 ") && l.contains("imported-legacy-id")),
        "{}",
        out.stdout
    );

    let out = f.run(&["registry", "export", "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(out.stdout.lines().count(), 6);
    assert!(
        out.stdout
            .contains(",20250115-06,600,1,,,,,logs/20250115-06/apply.log\n")
    );
    assert!(!out.stdout.contains(",four minutes,"));
    assert!(out.stdout.starts_with("start_time_utc,end_time_utc,phase,env,build_id,duration_seconds,exit_code,flags,resources_added,resources_changed,resources_destroyed,log_path"));

    let out = f.run(&[
        "registry",
        "export",
        "--format",
        "csv",
        "--out",
        "build_timings.csv",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        std::fs::read_to_string(f.dir.path().join("build_timings.csv"))
            .unwrap()
            .lines()
            .count(),
        6
    );

    let out = f.run(&["registry", "report", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!(out.stdout);
    // A phase shows its result, and an imported one says so.
    let out = f.run(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains("RESULT") && out.stdout.contains("success (imported)"),
        "{}",
        out.stdout
    );
    // Imported history counts in the percentiles only when asked.
    let out = f.run(&[
        "registry",
        "report",
        "--env",
        "dev",
        "--include-imported",
        "--output",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let boot = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "bootstrap")
        .unwrap();
    assert_eq!(boot["p50Seconds"], 90.0, "{boot}");
    assert_eq!(boot["imported"], 1, "{boot}");
    let out = f.run(&["registry", "report", "--since", "yesterday-ish"]);
    assert_eq!(out.code, 2);

    let out = f.run(&["registry", "verify"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.starts_with("registry ok"));
}

#[test]
fn leases_expire_and_forced_unlocks_show_in_builds_show() {
    let f = Fixture::new();
    let reg = f.registry();
    let mut req = ReserveRequest::new(
        "dev",
        BuildIdArg::Id("23-01-26-01".parse().unwrap()),
        "ci@runner-1",
    );
    req.today = Some((23, 1, 26));
    reg.reserve(&req).unwrap();
    reg.record_deployment(&DeploymentEvent {
        id: new_id(),
        env: "dev".into(),
        deployment: "23-01-26-01".into(),
        run_id: None,
        event: "deploy_started".into(),
        actor: "ci@runner-1".into(),
        commit_sha: None,
        run_url: None,
        detail: None,
        at_us: now_us(),
    })
    .unwrap();
    // An expired lease shows as expired, and the build as interrupted.
    reg.lease_acquire("dev", "23-01-26-01", "ci@runner-1 pid 4242", 0)
        .unwrap();
    let out = f.run(&["lease", "list", "--env", "dev"]);
    assert!(
        out.stdout.contains("expired") && out.stdout.contains("ci@runner-1 pid 4242"),
        "{}",
        out.stdout
    );
    let out = f.run(&["builds", "list", "--env", "dev"]);
    assert!(
        out.stdout.contains("23-01-26-01  interrupted"),
        "{}",
        out.stdout
    );

    // A held lease: unlocking needs --force and a reason.
    reg.lease_acquire("dev", "23-01-26-01", "ci@runner-2 pid 99", 600)
        .unwrap();
    let out = f.run(&["builds", "list", "--env", "dev"]);
    assert!(
        out.stdout.contains("23-01-26-01  deploying"),
        "{}",
        out.stdout
    );
    let out = f.run(&[
        "lease",
        "unlock",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
    ]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    let out = f.run(&[
        "lease",
        "unlock",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--force",
    ]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    let out = f.run(&[
        "lease",
        "unlock",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--force",
        "--reason",
        "runner-2 was deleted",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("ended by tester (runner-2 was deleted)"),
        "{}",
        out.stdout
    );

    let out = f.run(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("force-unlocked by tester: runner-2 was deleted"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("lease-force-unlock") && out.stdout.contains("runner-2 was deleted"),
        "{}",
        out.stdout
    );

    let out = f.run(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["lease"]["state"], "force_unlocked");
    assert_eq!(v["overrides"][0]["actor"], "tester");

    let out = f.run(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "24-01-26-01",
    ]);
    assert_eq!(out.code, 2);
}

#[test]
fn metrics_are_the_four_keys_of_the_recorded_deploys_with_lead_time_from_git() {
    let f = Fixture::new();
    // The spec's repository, with the commit a deploy names.
    let git = |args: &[&str]| {
        let out = gp_test::run(
            std::process::Command::new("git")
                .current_dir(f.dir.path())
                .args(["-c", "user.name=dev", "-c", "user.email=dev@example.test"])
                .args(args)
                .env("GIT_COMMITTER_DATE", "2026-01-10T10:00:00Z")
                .env("GIT_AUTHOR_DATE", "2026-01-10T10:00:00Z"),
        );
        assert_eq!(out.code, 0, "{}", out.transcript());
        out.stdout
    };
    git(&["init", "-q"]);
    git(&["add", "goldenpath.yaml"]);
    git(&["commit", "-qm", "spec"]);
    let sha = git(&["rev-parse", "HEAD"]).trim().to_string();
    let at = |t: &str| gp_registry::parse_utc(t).unwrap();
    let reg = f.registry();
    let mut n = 0;
    let mut ev = |dep: &str, event: &str, t: &str, commit: Option<&str>| {
        n += 1;
        reg.record_deployment(&DeploymentEvent {
            id: format!("e{n}"),
            env: "dev".into(),
            deployment: dep.into(),
            run_id: None,
            event: event.into(),
            actor: "ci".into(),
            commit_sha: commit.map(str::to_string),
            run_url: None,
            detail: None,
            at_us: at(t),
        })
        .unwrap();
    };
    // Deployed 2 h after the commit; failed, then restored 30 min later.
    ev(
        "persistent",
        "deploy_started",
        "2026-01-10T11:55:00Z",
        Some(&sha),
    );
    ev(
        "persistent",
        "deploy_succeeded",
        "2026-01-10T12:00:00Z",
        None,
    );
    ev("persistent", "deploy_started", "2026-01-11T09:00:00Z", None);
    ev("persistent", "deploy_failed", "2026-01-11T09:10:00Z", None);
    ev("persistent", "deploy_started", "2026-01-11T09:35:00Z", None);
    ev(
        "persistent",
        "deploy_succeeded",
        "2026-01-11T09:40:00Z",
        None,
    );
    drop(reg);
    let out = f.run(&[
        "metrics",
        "--env",
        "dev",
        "--since",
        "2026-01-10",
        "--until",
        "2026-01-12",
        "--output",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let m: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(m["succeeded"], 2, "{m}");
    assert_eq!(m["failed"], 1, "{m}");
    assert_eq!(m["deploymentFrequencyPerDay"], 1.0, "{m}");
    assert_eq!(m["leadTimeP50Seconds"], 7200.0, "{m}");
    assert_eq!(m["leadTimeSamples"], 1, "{m}");
    assert!(
        (m["changeFailureRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
        "{m}"
    );
    assert_eq!(m["timeToRestoreP50Seconds"], 1800.0, "{m}");
    let text = f.run(&[
        "metrics",
        "--env",
        "dev",
        "--since",
        "2026-01-10",
        "--until",
        "2026-01-12",
    ]);
    assert_eq!(text.code, 0, "{}", text.transcript());
    assert!(
        text.stdout.contains("lead time for changes 2.0 h"),
        "{}",
        text.stdout
    );
    // A window that is not one: exit 2, as an unknown environment is.
    for bad in [
        &["metrics", "--env", "dev", "--since", "soon"][..],
        &[
            "metrics",
            "--env",
            "dev",
            "--since",
            "2026-01-12",
            "--until",
            "2026-01-10",
        ],
        &["metrics", "--env", "nope"],
    ] {
        assert_eq!(f.run(bad).code, 2, "{bad:?}");
    }
}
