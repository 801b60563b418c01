//! deploy, plan, status, teardown and graph through the binary, on a
//! platform of `exec` components that create files (fixtures/exec-platform.yaml):
//! pending foundational dependencies, graph errors, concurrent deploys,
//! retired build ids, and a deploy killed with SIGKILL at several points.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::gp;

const SPEC: &str = include_str!("fixtures/exec-platform.yaml");

pub(crate) struct Platform {
    pub dir: tempfile::TempDir,
    /// Variables every command gets (e.g. a PostgreSQL registry).
    pub env: Vec<(String, String)>,
}

impl Platform {
    pub fn new(spec: &str) -> Self {
        let dir = gp_test::tempdir();
        std::fs::write(dir.path().join("goldenpath.yaml"), spec).unwrap();
        Platform {
            dir,
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = gp();
        c.current_dir(self.path())
            .env("GOLDENPATH_ACTOR", "tester")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> gp_test::Output {
        let mut out = gp_test::run(&mut self.cmd(args));
        out.stdout = gp_test::redact_dir(&out.stdout, self.path());
        out.stderr = gp_test::redact_dir(&out.stderr, self.path());
        out
    }

    pub fn ok(&self, args: &[&str]) -> gp_test::Output {
        let out = self.run(args);
        assert_eq!(out.code, 0, "{args:?}\n{}", out.transcript());
        out
    }

    /// Starts a deploy in its own process group with `SLOW` seconds per
    /// component.
    pub(crate) fn spawn(&self, args: &[&str], slow: &str) -> Child {
        self.cmd(args)
            .env("SLOW", slow)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    pub(crate) fn resources(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join("res"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    pub(crate) fn registry_file(&self) -> PathBuf {
        self.path().join(".goldenpath/registry.db")
    }
}

/// Durations and times vary run to run.
pub(crate) fn stable(text: &str) -> String {
    let text = &timestamps(text);
    let mut out = String::new();
    for word in text.split_inclusive([' ', '\n', '(', ',']) {
        let core = word.trim_end_matches([' ', '\n', '(', ',']);
        let is_duration = core.ends_with('s')
            && core.len() > 1
            && core[..core.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            && core.contains('.');
        if is_duration {
            out.push_str("[t]");
            out.push_str(&word[core.len()..]);
        } else {
            out.push_str(word);
        }
    }
    out
}

/// `2026-11-26T05:31:25Z` -> `[time]`.
pub(crate) fn timestamps(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let is_ts = i + 20 <= b.len()
            && b[i..i + 20].iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        if is_ts {
            out.push_str("[time]");
            i += 20;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

pub(crate) fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether build 23-01-26-01's lease is held right now.
pub(crate) fn lease_held(p: &Platform) -> bool {
    let out = p.run(&["lease", "list", "--output", "json"]);
    if out.code != 0 {
        return false;
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    v["leases"].as_array().is_some_and(|l| {
        l.iter()
            .any(|x| x["deployment"] == "23-01-26-01" && x["state"] == "held")
    })
}

#[test]
fn a_build_waits_for_the_foundational_plane_then_completes() {
    let p = Platform::new(SPEC);
    let plan = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    insta::assert_snapshot!("plan_before_foundational", plan.stdout);

    // Before the foundational plane: what can run runs, the rest waits,
    // naming the command that unblocks it. Not a failure.
    let first = p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    insta::assert_snapshot!("deploy_before_foundational", stable(&first.stdout));
    assert_eq!(p.resources(), ["23-01-26-01-cluster"]);
    let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
    insta::assert_snapshot!("status_pending", status.stdout);

    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let second = p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    insta::assert_snapshot!("deploy_after_foundational", stable(&second.stdout));
    let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
    insta::assert_snapshot!("status_live", status.stdout);
    assert_eq!(
        p.resources(),
        [
            "23-01-26-01-app",
            "23-01-26-01-cluster",
            "23-01-26-01-web",
            "db"
        ]
    );

    // Again: nothing to do.
    let again = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        again
            .stdout
            .lines()
            .skip(2)
            .all(|l| l.contains("unchanged") || l.contains("ready") || l.contains("skip")),
        "{}",
        again.stdout
    );

    // JSON Lines: one object per line, ending with the outcome.
    let json = p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let last: serde_json::Value =
        serde_json::from_str(json.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "outcome");
    assert_eq!(last["outcome"]["buildId"], "23-01-26-01");

    // Teardown removes exactly the build's files; the foundational db stays.
    let down = p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        down.stdout.contains("orphan check: nothing left behind"),
        "{}",
        down.stdout
    );
    assert_eq!(p.resources(), ["db"]);

    // The graph, for humans and for docs.
    let graph = p.ok(&["graph", "--env", "dev", "--build-id", "23-01-26-01"]);
    insta::assert_snapshot!("graph_mermaid", graph.stdout);
}

#[test]
fn a_cycle_and_a_missing_output_are_refused_before_anything_runs() {
    let cycle =
        Platform::new(&SPEC.replace("    needs: [cluster, db]", "    needs: [cluster, db, web]"));
    let out = cycle.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("cycle", out.transcript());

    let missing = Platform::new(&SPEC.replace("DB: \"${db.url}\"", "DB: \"${db.password}\""));
    let out = missing.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("missing_output", out.transcript());
    assert!(!missing.path().join("res").exists(), "nothing ran");
    assert!(!missing.registry_file().exists(), "nothing was recorded");
}

#[test]
fn two_deploys_of_one_build_conflict_and_two_builds_run_side_by_side() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let mut first = p.spawn(
        &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
        "1",
    );
    wait_until("the first deploy's lease", || lease_held(&p));
    let second = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(second.code, 3, "{}", second.transcript());
    assert!(
        second.stderr.contains("tester pid"),
        "the refusal names the holder:\n{}",
        second.stderr
    );
    // Another build of the same environment runs meanwhile.
    let other = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-02"]);
    assert_eq!(other.code, 0, "{}", other.transcript());
    assert!(first.wait().unwrap().success());
    for b in ["23-01-26-01", "23-01-26-02"] {
        for c in ["cluster", "app", "web"] {
            assert!(p.resources().contains(&format!("{b}-{c}")), "{b}-{c}");
        }
    }
}

#[test]
fn a_retired_build_id_is_refused_unless_overridden_with_a_reason() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    let again = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(again.code, 3, "{}", again.transcript());
    insta::assert_snapshot!("retired", timestamps(&again.stderr));
    p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--reuse-retired",
        "re-run of a flaky pipeline",
    ]);
    let show = p.ok(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let overrides = v["overrides"].as_array().unwrap();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0]["actor"], "tester");
    assert_eq!(overrides[0]["reason"], "re-run of a flaky pipeline");
}

/// Kills a deploy with SIGKILL (the whole process group, as CI does) at
/// several points; the next `--resume` finishes it and teardown leaves
/// nothing behind.
#[test]
fn a_deploy_killed_with_sigkill_resumes_and_tears_down_clean() {
    // Kill while the first component runs, after one finished, after two.
    for done_before_kill in 0..3usize {
        let p = Platform::new(SPEC);
        p.ok(&["deploy", "--env", "dev", "--foundational"]);
        let mut child = p.spawn(
            &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
            "1",
        );
        let build_files = |p: &Platform| {
            p.resources()
                .iter()
                .filter(|r| r.starts_with("23-01-26-01"))
                .count()
        };
        if done_before_kill == 0 {
            wait_until("the deploy's lease", || lease_held(&p));
        } else {
            wait_until("components to finish", || {
                build_files(&p) >= done_before_kill
            });
        }
        std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status()
            .unwrap();
        let _ = child.wait();
        assert!(build_files(&p) < 3, "killed before the end");

        let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
        assert!(
            status.stdout.contains("interrupted") || status.stdout.contains("not-deployed"),
            "kill point {done_before_kill}:\n{}",
            status.stdout
        );
        // builds list says what status says: one answer to "still
        // deploying?" (a holder that died on this machine is not).
        let status = p.ok(&[
            "status",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--output",
            "json",
        ]);
        let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        let list = p.ok(&["builds", "list", "--env", "dev", "--output", "json"]);
        let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
        assert_eq!(
            list["builds"][0]["status"], status["status"],
            "kill point {done_before_kill}: {list} / {status}"
        );
        let resumed = p.run(&[
            "deploy",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--resume",
        ]);
        assert_eq!(
            resumed.code,
            0,
            "kill point {done_before_kill}:\n{}",
            resumed.transcript()
        );
        assert_eq!(build_files(&p), 3, "kill point {done_before_kill}");
        let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
        assert!(
            status.stdout.starts_with("dev build 23-01-26-01: live"),
            "{}",
            status.stdout
        );

        let down = p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
        assert!(
            down.stdout.contains("nothing left behind"),
            "{}",
            down.stdout
        );
        assert_eq!(p.resources(), ["db"], "kill point {done_before_kill}");
    }
}

#[test]
fn golden_v1_status_before_anything_is_deployed() {
    let dir = gp_test::tempdir();
    let out = gp_test::run(
        gp().args(["--spec"])
            .arg(gp_test::example("golden-v1/goldenpath.yaml"))
            .arg("--state-dir")
            .arg(dir.path())
            .args(["status", "--env", "dev", "--persistent"]),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!("golden_v1_status", out.stdout);
}
