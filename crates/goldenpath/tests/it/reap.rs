//! Builds that expire on time, on the local example for real: builds with
//! a 2-second TTL reaped (Terraform state, databases, records and GitOps
//! folder gone, checked in the systems themselves), a kept build and one
//! whose lease a live deploy holds left alone, an extension recorded, and
//! the notice command run once per lead time.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::e2e::Local;
use crate::requests::Servers;

const A: &str = "23-01-26-01";
const KEPT: &str = "23-01-26-02";
const HELD: &str = "23-01-26-03";
const LONG: &str = "23-01-26-04";

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn builds(l: &Local) -> serde_json::Value {
    let out =
        l.p.ok(&["builds", "list", "--env", "dev", "--output", "json"]);
    serde_json::from_str(&out.stdout).unwrap()
}

fn build<'a>(all: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    all["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["buildId"] == id)
        .unwrap_or_else(|| panic!("{id} in {all}"))
}

/// The outcome line ending a reap's JSON Lines.
fn outcome(stdout: &str) -> serde_json::Value {
    crate::proofs::outcome(stdout)
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

#[test]
fn expired_builds_are_reaped_for_real_and_kept_held_and_extended_ones_are_not() {
    let l = Local::new();
    let _servers = Servers(l.root().to_path_buf());
    // A component a deploy can be held in (SLOW seconds), and notices an
    // hour and two seconds before an expiry, written by the notice command.
    let spec_path = l.root().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    let spec = spec.replacen(
        "components:\n",
        "reaper:\n  notices: [1h, 2s]\n  command: [./notify.sh]\ncomponents:\n  - name: slow\n    plane: disposable\n    tier: 1\n    driver: exec\n    settings:\n      apply: sleep \"$${SLOW:-0}\"\n      destroy: \"true\"\n      inheritEnv: [SLOW]\n",
        1,
    );
    std::fs::write(&spec_path, spec).unwrap();
    std::fs::write(
        l.root().join("notify.sh"),
        "#!/bin/sh\necho \"$GOLDENPATH_NOTICE_ENV $GOLDENPATH_NOTICE_BUILD $GOLDENPATH_NOTICE_LEAD_S\" >> notices.log\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        l.root().join("notify.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    l.deploy(&["--foundational"]);
    l.deploy(&["--build-id", A, "--ttl", "2s"]);
    l.deploy(&["--build-id", KEPT, "--ttl", "2s"]);
    l.p.ok(&[
        "builds",
        "keep",
        "--env",
        "dev",
        "--build-id",
        KEPT,
        "--reason",
        "the demo for the customer call",
    ]);
    l.deploy(&["--build-id", LONG, "--ttl", "30m"]);
    // A --ttl beyond the environment's maximum is refused, nothing reserved.
    let too_long = l.p.run(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-09",
        "--ttl",
        "30d",
    ]);
    assert_eq!(too_long.code, 2, "{}", too_long.transcript());
    // An extension, recorded with who and why.
    let before = build(&builds(&l), LONG)["expiresUs"].as_i64().unwrap();
    l.p.ok(&[
        "builds",
        "extend",
        "--env",
        "dev",
        "--build-id",
        LONG,
        "--by",
        "20m",
        "--reason",
        "pairing on the migration",
    ]);
    // Hostile sizes: an extension past any maximum is a refusal, not an
    // overflow; a ttl beyond a year is invalid input at its line.
    let huge = l.p.run(&[
        "builds",
        "extend",
        "--env",
        "dev",
        "--build-id",
        LONG,
        "--by",
        "100000000000d",
        "--reason",
        "x",
    ]);
    assert_eq!(huge.code, 3, "{}", huge.transcript());
    let spec_now = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        spec_now.replace("ttl: 24h", "ttl: 99999999999d"),
    )
    .unwrap();
    let bad = l.p.run(&["validate"]);
    assert_eq!(bad.code, 2, "{}", bad.transcript());
    assert!(bad.stderr.contains("more than a year"), "{}", bad.stderr);
    std::fs::write(&spec_path, spec_now).unwrap();
    let after = build(&builds(&l), LONG)["expiresUs"].as_i64().unwrap();
    assert_eq!(after - before, 20 * 60 * 1_000_000);
    let shown =
        l.p.ok(&["builds", "show", "--env", "dev", "--build-id", LONG])
            .stdout;
    assert!(shown.contains("expiry_extended"), "{shown}");
    assert!(
        l.p.ok(&["builds", "list", "--env", "dev"])
            .stdout
            .contains("kept"),
        "time left shown"
    );
    let status =
        l.p.ok(&["status", "--env", "dev", "--build-id", LONG])
            .stdout;
    // 50 minutes from the deploy, less the seconds since.
    assert!(
        status.contains("expiry: in 49m") || status.contains("expiry: in 48m"),
        "{status}"
    );
    // A deploy holding its lease (the slow component sleeps a minute).
    let mut held =
        l.p.cmd(&["deploy", "--env", "dev", "--build-id", HELD, "--ttl", "2s"])
            .env("SLOW", "60")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
    wait_until("the held deploy's lease", || l.lease_held(HELD));
    let footprint_kept = l.gitops_build(KEPT);
    // Every 2-second build has expired.
    wait_until("the expiries", || {
        let all = builds(&l);
        [A, KEPT, HELD]
            .iter()
            .all(|b| build(&all, b)["expiresUs"].as_i64().unwrap() < now_us())
    });
    // A dry run says what it would do and does nothing.
    let dry =
        l.p.ok(&["reap", "--env", "dev", "--dry-run", "--output", "json"]);
    let v = outcome(&dry.stdout);
    let action = |v: &serde_json::Value, id: &str| {
        v["builds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["buildId"] == id)
            .map(|b| b["action"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(action(&v, A), "would-reap", "{v}");
    assert!(l.gitops_build(A).exists(), "nothing removed by a dry run");
    assert!(
        !l.root().join("notices.log").exists(),
        "no notice in a dry run"
    );
    // The reap itself.
    let reaped = l.p.ok(&[
        "reap",
        "--env",
        "dev",
        "--parallel",
        "2",
        "--output",
        "json",
    ]);
    let v = outcome(&reaped.stdout);
    assert_eq!(action(&v, A), "reaped", "{v}");
    assert_eq!(action(&v, KEPT), "kept", "{v}");
    assert_eq!(action(&v, HELD), "held", "{v}");
    assert_eq!(action(&v, LONG), "noticed", "{v}");
    l.assert_build_gone(A);
    assert!(footprint_kept.exists(), "the kept build is untouched");
    assert!(
        l.tf_resources(KEPT)
            .is_some_and(|w| w.iter().any(|(_, n)| *n > 0))
    );
    let all = builds(&l);
    assert_eq!(build(&all, A)["status"], "torn-down");
    assert_eq!(build(&all, KEPT)["status"], "live");
    // Recorded as the reaper's teardown.
    let shown =
        l.p.ok(&[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            A,
            "--output",
            "json",
        ])
        .stdout;
    let show: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert!(
        show["events"].as_array().unwrap().iter().any(
            |e| e["event"] == "torn_down" && e["actor"].as_str().unwrap().starts_with("reaper")
        ),
        "{show}"
    );
    // The notice for the hour ahead was given once, and never again.
    l.p.ok(&["reap", "--env", "dev"]);
    let log = std::fs::read_to_string(l.root().join("notices.log")).unwrap();
    assert_eq!(log, format!("dev {LONG} 3600\n"), "{log}");
    // The held build goes once its deploy is gone.
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", held.id())])
        .status()
        .unwrap();
    let _ = held.wait();
    let again = l.p.ok(&["reap", "--env", "dev", "--output", "json"]);
    let v = outcome(&again.stdout);
    assert_eq!(action(&v, HELD), "reaped", "{v}");
    l.assert_build_gone(HELD);
    // A kept build released expires again; the rest is torn down by hand.
    l.p.ok(&[
        "builds",
        "keep",
        "--env",
        "dev",
        "--build-id",
        KEPT,
        "--release",
        "--reason",
        "demo done",
    ]);
    let last = l.p.ok(&["reap", "--env", "dev", "--output", "json"]);
    let v = outcome(&last.stdout);
    assert_eq!(action(&v, KEPT), "reaped", "{v}");
    l.assert_build_gone(KEPT);
    l.p.ok(&["teardown", "--env", "dev", "--build-id", LONG]);
}
