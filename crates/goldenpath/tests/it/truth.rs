//! What a first-time user saw go wrong, each replayed through the binary:
//! results that lied (verify after teardown, doubled imports, a green
//! deploy of nothing, phases under unreserved ids, overwritten logs, a
//! skipped component reported as not started, an index the next check
//! flags, a hint that reserves a new id), words and exit codes that
//! disagreed, and help, discovery and tables below cargo's level.

use std::path::Path;

use crate::deploy::{Platform, lease_held, wait_until};
use crate::gp;

const SPEC: &str = include_str!("fixtures/exec-platform.yaml");

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The build id the last deploy reserved, from `builds list`.
fn newest_build(p: &Platform) -> String {
    let out = p.ok(&[
        "builds", "list", "--env", "dev", "--limit", "1", "--output", "json",
    ]);
    json(&out.stdout)["builds"][0]["buildId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A platform of one terraform component (a `terraform_data` root).
fn terraform_platform() -> Platform {
    let p = Platform::new(crate::terraform::SPEC);
    std::fs::create_dir_all(p.path().join("root")).unwrap();
    std::fs::write(p.path().join("root/main.tf"), crate::terraform::ROOT).unwrap();
    p
}

// ---- wrong results ----

#[test]
fn registry_verify_passes_after_a_normal_teardown() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    let v = p.run(&["registry", "verify"]);
    assert_eq!(v.code, 0, "{}", v.transcript());
    assert!(v.stdout.starts_with("registry ok"), "{}", v.stdout);
}

#[test]
fn exporting_and_importing_into_the_same_registry_adds_nothing() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let before = p.ok(&["registry", "report", "--output", "json"]).stdout;
    let rows = p.ok(&["registry", "export", "--format", "json"]).stdout;
    let phases = json(&rows)["phases"].as_array().unwrap().len();
    assert!(phases > 3, "{rows}");
    p.ok(&["registry", "export", "--out", "bt.csv"]);
    let import = p.run(&["registry", "import", "bt.csv", "--output", "json"]);
    assert_eq!(import.code, 0, "{}", import.transcript());
    let report = &json(&import.stdout)["files"][0]["report"];
    assert_eq!(report["imported"], 0, "{report}");
    assert_eq!(report["duplicates"], phases as u64, "{report}");
    let after = p.ok(&["registry", "report", "--output", "json"]).stdout;
    assert_eq!(before, after, "the report's counts changed");
}

#[test]
fn a_deploy_where_nothing_can_run_is_refused_before_anything_is_written() {
    // Every disposable component above the build's tier limit.
    let spec = SPEC.replace("ephemeral: { maxTier: 2 }", "ephemeral: { maxTier: 0 }");
    let spec = spec.replace(
        "  - name: cluster\n    plane: disposable\n    tier: 0",
        "  - name: cluster\n    plane: disposable\n    tier: 1",
    );
    let p = Platform::new(&spec);
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "auto"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("nothing to deploy in dev build")
            && out.stderr.contains("nothing was reserved or recorded"),
        "{}",
        out.stderr
    );
    assert!(
        !p.path().join(".goldenpath").exists(),
        "a refused deploy created the state directory"
    );

    // Everything waits for a foundational component nobody deployed: the
    // deploy fails (exit 1), naming what to deploy; no build id is taken.
    let spec = SPEC.replace(
        "  - name: cluster\n    plane: disposable\n    tier: 0\n    driver: exec\n",
        "  - name: cluster\n    plane: disposable\n    tier: 0\n    driver: exec\n    needs: [db]\n",
    );
    let p = Platform::new(&spec);
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "auto"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("nothing to deploy in dev build yet")
            && out
                .stderr
                .contains("goldenpath deploy --env dev --foundational db"),
        "{}",
        out.stderr
    );
    let builds = p.ok(&["builds", "list", "--env", "dev", "--output", "json"]);
    assert_eq!(json(&builds.stdout)["builds"], serde_json::json!([]));
    assert!(p.resources().is_empty());
}

#[test]
fn plan_with_auto_records_nothing() {
    let p = terraform_platform();
    let out = p.ok(&["plan", "--env", "dev", "--build-id", "auto"]);
    assert!(out.stdout.contains("create"), "{}", out.stdout);
    // Nothing under any build id: no phase, no reservation, no registry.
    assert!(!p.registry_file().exists(), "a plan created the registry");
    // Reading a registry that is not there is exit 2 naming where it was
    // looked for, and creates none.
    for args in [
        &["builds", "list", "--env", "dev", "--output", "json"][..],
        &["registry", "export", "--output", "json"],
        &["registry", "verify"],
        &["registry", "report"],
        &["lease", "list"],
        &["reap", "--env", "dev"],
    ] {
        let out = p.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript());
        assert!(
            out.stdout.contains("no registry at") || out.stderr.contains("no registry at"),
            "{args:?}: {}",
            out.transcript()
        );
        assert!(!p.registry_file().exists(), "{args:?} created the registry");
    }
}

#[test]
fn every_run_keeps_its_own_logs_and_init_rows_point_at_init_logs() {
    let p = terraform_platform();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    std::fs::write(
        p.path().join("root/main.tf"),
        crate::terraform::ROOT.replace("v1-", "v2-"),
    )
    .unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    // Unredacted: the paths are read below.
    let phases =
        json(&gp_test::run(&mut p.cmd(&["registry", "export", "--output", "json"])).stdout);
    let logs = |phase: &str| -> Vec<String> {
        phases["phases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["phase"] == phase)
            .map(|r| r["logPath"].as_str().unwrap().to_string())
            .collect()
    };
    let plans = logs("terraform-plan");
    assert_eq!(plans.len(), 2, "{plans:?}");
    assert_ne!(plans[0], plans[1], "two runs share one log file");
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}"));
    let first = read(&plans[0]);
    let second = read(&plans[1]);
    // The first run's plan created, the second's updated: each row keeps
    // pointing at what its own run did.
    assert!(first.contains("\"action\":\"create\""), "{first}");
    assert!(!first.contains("\"action\":\"update\""), "{first}");
    assert!(second.contains("\"action\":\"update\""), "{second}");
    for init in logs("terraform-init") {
        assert!(init.ends_with("cluster-terraform-init.log"), "{init}");
        let text = std::fs::read_to_string(&init).unwrap();
        assert!(text.contains("\"init\""), "{init}: {text}");
    }
}

#[test]
fn after_ctrl_c_a_persistent_only_component_is_skipped_not_not_started() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let child = p
        .cmd(&[
            "deploy",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-01",
            "--output",
            "json",
        ])
        .env("SLOW", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the deploy's lease", || lease_held(&p));
    // Ctrl-C: goldenpath stops starting work; the running action finishes.
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let outcome = stdout
        .lines()
        .map(json)
        .find(|l| l["event"] == "outcome")
        .unwrap_or_else(|| panic!("{stdout}"));
    let result = |c: &str| {
        outcome["outcome"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["component"] == c)
            .unwrap()["result"]
            .clone()
    };
    assert_eq!(outcome["outcome"]["interrupted"], true, "{outcome}");
    assert_eq!(result("admin"), "skipped", "{outcome}");
    assert_eq!(result("web"), "not-started", "{outcome}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn docs_index_without_adrs_writes_nothing_and_a_new_index_passes_check() {
    let dir = gp_test::tempdir();
    let root = dir.path();
    std::fs::write(
        root.join("README.md"),
        "---\nid: readme\ntitle: Readme\nowner: team-a\nlifecycle: active\n---\n\n# Readme\n",
    )
    .unwrap();
    let docs = |args: &[&str]| {
        gp_test::run(
            gp().current_dir(root)
                .arg("docs")
                .args(args)
                .args(["--root", "."]),
        )
    };
    let out = docs(&["index"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        !root.join("docs/adrs/README.md").exists(),
        "an index of no ADRs was written"
    );
    assert_eq!(docs(&["check"]).code, 0);

    // With an ADR, the index it creates carries the fields its type needs.
    std::fs::create_dir_all(root.join("docs/adrs")).unwrap();
    std::fs::write(
        root.join("docs/adrs/ADR-0001-use-goldenpath.md"),
        "---\nid: ADR-0001\ntitle: Use goldenpath\ntype: adr\nowner: team-a\nlifecycle: active\nstatus: accepted\ndate: 2026-01-23\ndomain: platform\n---\n\n# Use goldenpath\n",
    )
    .unwrap();
    let out = docs(&["index"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let index = std::fs::read_to_string(root.join("docs/adrs/README.md")).unwrap();
    assert!(index.contains("owner: team-a"), "{index}");
    let check = docs(&["check"]);
    assert_eq!(check.code, 0, "{}", check.transcript());
}

#[test]
fn a_failed_auto_deploy_names_its_build_id_in_the_hint() {
    let spec = SPEC.replace(
        "apply: sleep \"$${SLOW:-0}\" && touch \"res/$GOLDENPATH_DEPLOYMENT-web\"",
        "apply: exit 7",
    );
    let p = Platform::new(&spec);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "auto"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let build = newest_build(&p);
    let again = format!("goldenpath deploy --env dev --build-id {build} --resume");
    assert!(out.stderr.contains(&again), "{}", out.stderr);
    assert!(!out.stderr.contains("same command again"), "{}", out.stderr);
}

// ---- words and shapes ----

#[test]
fn pending_is_counted_alike_by_deploy_and_status_and_said_once() {
    let p = Platform::new(SPEC);
    let out = p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        out.stderr
            .contains("warning: partial: 2 of 4 component(s) pending: app, web"),
        "{}",
        out.stderr
    );
    let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        status
            .stdout
            .starts_with("dev build 23-01-26-01: partial, 2 pending"),
        "{}",
        status.stdout
    );
    // The reason is in the table, once; the command that unblocks it once.
    let reason = "needs db, a foundational component not deployed in dev";
    assert_eq!(out.stdout.matches(reason).count(), 1, "{}", out.stdout);
    assert!(!out.stderr.contains(reason), "{}", out.stderr);
    assert_eq!(
        out.stdout
            .matches("next: goldenpath deploy --env dev --foundational db")
            .count(),
        1,
        "{}",
        out.stdout
    );
    // plan uses the same words: the dependency is not-deployed, what
    // waits for it pending (never "missing", never "blocked").
    let plan = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    let action = |c: &str| {
        plan.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{c} ")))
            .and_then(|l| l.split_whitespace().nth(3))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(action("db"), "not-deployed", "{}", plan.stdout);
    assert_eq!(action("app"), "pending", "{}", plan.stdout);
    assert_eq!(action("web"), "pending", "{}", plan.stdout);
}

#[test]
fn exit_codes_say_invalid_input_and_failure_apart() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    for args in [
        &["builds", "list", "--env", "nope"][..],
        &["registry", "report", "--env", "nope"][..],
        &["status", "--env", "dev", "--build-id", "23-01-26-09"][..],
        &["builds", "list", "--env", "dev", "--limit", "0"][..],
        &["secret", "get", "goldenpath/dev/none/postgres"][..],
    ] {
        let out = p.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript());
    }
    // `db list` against an instance that stopped answering: the operation
    // failed (1), the input is fine.
    let pg = gp_test::postgres::TestPostgres::start();
    let spec = format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev: {{}}
components:
  - name: rds
    plane: foundational
    tier: 0
    driver: postgres
    settings:
      server: {{ url: \"postgres://{}@127.0.0.1:{}/postgres\", passwordEnv: PGPW }}
      databases: [app]
",
        pg.superuser, pg.port
    );
    let p = Platform::new(&spec);
    let password = pg.password.expose().to_string();
    let with_pw = |args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("PGPW", &password);
        gp_test::run(&mut c)
    };
    let up = with_pw(&["deploy", "--env", "dev", "--foundational"]);
    assert_eq!(up.code, 0, "{}", up.transcript());
    assert_eq!(with_pw(&["db", "list", "--env", "dev"]).code, 0);
    drop(pg);
    let out = with_pw(&["db", "list", "--env", "dev"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
}

#[test]
fn goldenpath_dash_h_and_help_are_about_goldenpath_with_global_options_apart() {
    let short = gp_test::run(gp().arg("-h"));
    assert_eq!(short.code, 0);
    assert!(
        short
            .stdout
            .starts_with("A control plane for golden-path internal developer platforms"),
        "{}",
        short.stdout
    );
    assert!(!short.stdout.contains("clap"), "{}", short.stdout);
    let bare = gp_test::run(&mut gp());
    assert_eq!(bare.code, 2);
    assert!(!bare.stderr.contains("clap definitions"), "{}", bare.stderr);

    let deploy = gp_test::run(gp().args(["deploy", "--help"])).stdout;
    let own = deploy.find("--build-id").unwrap();
    let heading = deploy.find("Global options:").unwrap();
    let output = deploy.find("--output").unwrap();
    assert!(own < heading && heading < output, "{deploy}");
    assert!(deploy.contains("Guard overrides:"), "{deploy}");
    assert!(
        !deploy.contains("sarif\n"),
        "one line for --output: {deploy}"
    );
    for (cmd, hidden) in [
        ("init", &["--spec", "--state-dir", "--registry"][..]),
        ("schema", &["--spec", "--state-dir", "--registry"][..]),
        ("completions", &["--registry", "--spec"][..]),
    ] {
        let help = gp_test::run(gp().args([cmd, "--help"])).stdout;
        for flag in hidden {
            assert!(!help.contains(flag), "{cmd} --help shows {flag}:\n{help}");
        }
    }
}

#[test]
fn the_spec_is_found_from_a_subdirectory_and_spec_takes_a_directory() {
    let p = Platform::new(SPEC);
    let deeper = p.path().join("infra/modules");
    std::fs::create_dir_all(&deeper).unwrap();
    let out = gp_test::run(gp().current_dir(&deeper).arg("validate"));
    assert_eq!(out.code, 0, "{}", out.transcript());
    let out = gp_test::run(
        gp().current_dir(std::env::temp_dir())
            .arg("--spec")
            .arg(p.path())
            .arg("validate"),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    // `state-dir` needs no spec: without one it is .goldenpath here.
    let empty = gp_test::tempdir();
    let out = gp_test::run(gp().current_dir(empty.path()).arg("state-dir"));
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        Path::new(out.stdout.trim()),
        empty.path().canonicalize().unwrap().join(".goldenpath")
    );
    // With the spec above: beside it.
    let out = gp_test::run(gp().current_dir(&deeper).arg("state-dir"));
    assert_eq!(
        Path::new(out.stdout.trim()),
        p.path().canonicalize().unwrap().join(".goldenpath"),
        "{}",
        out.transcript()
    );
}

#[test]
fn yaml_errors_point_at_the_unclosed_brace_and_at_the_tab() {
    let mut lines: Vec<String> = SPEC.lines().map(str::to_string).collect();
    // Line 13 (`driver: exec` of db) becomes an unclosed flow mapping.
    let at = lines.iter().position(|l| l == "    driver: exec").unwrap();
    lines[at] = "    driver: { name: exec".into();
    let p = Platform::new(&(lines.join("\n") + "\n"));
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains(&format!(
            "goldenpath.yaml:{}:13: invalid YAML: this `{{` is never closed",
            at + 1
        )),
        "{}",
        out.stderr
    );
    let mut lines: Vec<String> = SPEC.lines().map(str::to_string).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("      destroy: rm -f res/db"))
        .unwrap();
    lines[at] = format!("\t{}", lines[at]);
    let p = Platform::new(&(lines.join("\n") + "\n"));
    let out = p.run(&["validate"]);
    assert!(
        out.stderr.contains(&format!(
            "goldenpath.yaml:{}:1: invalid YAML: a tab character",
            at + 1
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn close_names_get_a_did_you_mean() {
    let dir = gp_test::tempdir();
    let target = dir.path().join("p");
    gp_test::run(gp().args(["init", "--example", "local"]).arg(&target));
    let spec = target.join("goldenpath.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replacen("rds/backstage,", "rds/backstag,", 1)).unwrap();
    let out = gp_test::run(gp().current_dir(&target).arg("validate"));
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("hint: did you mean `rds/backstage`?"),
        "{}",
        out.stderr
    );
    std::fs::write(&spec, text).unwrap();
    let out = gp_test::run(gp().current_dir(&target).args([
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "dns-zon",
        "--confirm",
    ]));
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("hint: did you mean `dns-zone`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn validate_finds_a_missing_terraform_root_at_its_line() {
    let p = Platform::new(crate::terraform::SPEC);
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("goldenpath.yaml:16:13: the Terraform root `root` does not exist"),
        "{}",
        out.stderr
    );
    // deploy says the same before it reserves anything.
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "auto"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("goldenpath.yaml:16:13"),
        "{}",
        out.stderr
    );
    assert!(!p.registry_file().exists());
}

#[test]
fn tables_have_no_trailing_blanks_empty_values_or_absolute_paths() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let deploy = p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
    let plan = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    let contract = p.ok(&["contract", "--env", "dev", "--build-id", "23-01-26-01"]);
    let overview = p.ok(&["status", "--env", "dev"]);
    for out in [&deploy, &status, &plan, &contract, &overview] {
        for line in out.stdout.lines() {
            assert_eq!(line, line.trim_end(), "trailing blanks:\n{}", out.stdout);
            assert!(!line.contains("[DIR]"), "an absolute path:\n{}", out.stdout);
        }
        assert!(
            !out.stdout.contains("= ") && !out.stdout.ends_with('='),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn verbose_shows_the_steps_not_terraforms_json() {
    let p = terraform_platform();
    // Nothing deployed: a plan has no state to read, and runs nothing.
    let plan = p.ok(&["-v", "plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(!plan.stderr.contains("terraform-init"), "{}", plan.stderr);
    let deploy = p.ok(&["-v", "deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let plan = p.ok(&["-v", "plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(plan.stderr.contains("terraform-init"), "{}", plan.stderr);
    // In JSON, Terraform's own lines only with -v, as in text.
    let quiet = p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    assert!(
        !quiet.stdout.contains("\"event\":\"log\""),
        "{}",
        quiet.stdout
    );
    assert!(
        deploy.stderr.contains("terraform-apply"),
        "{}",
        deploy.stderr
    );
    assert!(
        !deploy.stderr.contains("\"format_version\""),
        "terraform show -json reached -v: {}",
        deploy.stderr.len()
    );
    let validate = p.ok(&["-v", "validate"]);
    assert!(
        validate
            .stderr
            .contains("cluster (terraform, disposable tier 0)"),
        "{}",
        validate.stderr
    );
}

#[test]
fn the_actor_is_the_ci_user_then_git_then_the_login() {
    let p = Platform::new(SPEC);
    let actor = |envs: &[(&str, &str)], id: &str| {
        let mut c = gp();
        c.current_dir(p.path())
            .args(["deploy", "--env", "dev", "--build-id", id])
            .env_remove("USER")
            .env_remove("LOGNAME");
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = gp_test::run(&mut c);
        assert_eq!(out.code, 0, "{}", out.transcript());
        let show = p.ok(&[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            id,
            "--output",
            "json",
        ]);
        json(&show.stdout)["reservation"]["actor"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        actor(&[("GITHUB_ACTOR", "octocat")], "23-01-26-01"),
        "octocat"
    );
    assert_eq!(
        actor(&[("GITLAB_USER_LOGIN", "gl-user")], "23-01-26-02"),
        "gl-user"
    );
    gp_test::run(
        std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(p.path()),
    );
    gp_test::run(
        std::process::Command::new("git")
            .args(["config", "user.email", "dev@example.io"])
            .current_dir(p.path()),
    );
    assert_eq!(actor(&[], "23-01-26-03"), "dev@example.io");
    std::fs::remove_dir_all(p.path().join(".git")).unwrap();
    let login = actor(&[("HOME", "/nonexistent")], "23-01-26-04");
    assert!(!login.starts_with("unknown@"), "{login}");
}

#[test]
fn the_persistent_deployment_is_an_explicit_choice() {
    let p = Platform::new(SPEC);
    for cmd in ["deploy", "teardown"] {
        let out = p.run(&[cmd, "--env", "dev"]);
        assert_eq!(out.code, 2, "{}", out.transcript());
        assert!(out.stderr.contains("--persistent"), "{}", out.stderr);
    }
    assert!(!p.path().join(".goldenpath").exists());
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let out = p.ok(&["deploy", "--env", "dev", "--persistent"]);
    assert!(out.stdout.starts_with("dev persistent"), "{}", out.stdout);
}

// ---- the repository itself ----

#[test]
fn the_repository_passes_its_own_docs_check_and_points_at_nothing_it_lacks() {
    let root = gp_test::repo_root();
    let out = gp_test::run(gp().current_dir(&root).args(["docs", "check"]));
    assert_eq!(out.code, 0, "{}", out.transcript());
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".md") || name.ends_with(".yaml") || name.ends_with(".sh") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for gone in ["DESIGN.md", "CONVENTIONS.md", "../shared"] {
                    assert!(!text.contains(gone), "{} names {gone}", path.display());
                }
            }
        }
    }
    // The examples' READMEs are copied by `init`: their commands must work
    // from the new directory, not name this repository's paths.
    for example in ["local", "golden-v1"] {
        let text =
            std::fs::read_to_string(gp_test::example(&format!("{example}/README.md"))).unwrap();
        for path in ["examples/", "scripts/", "--spec "] {
            assert!(!text.contains(path), "{example}/README.md names {path}");
        }
    }
}

#[test]
fn validate_reports_findings_as_annotations_and_other_commands_refuse_those_formats() {
    let bad = SPEC.replace("tier: 1\n", "tier: nine\n");
    let p = Platform::new(&bad);
    let gh = p.run(&["validate", "--output", "github"]);
    assert_eq!(gh.code, 2, "{}", gh.transcript());
    let line = gh.stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("::error file=goldenpath.yaml,line=")
            && line.contains(",col=")
            && line.contains("title=spec::"),
        "{}",
        gh.stdout
    );
    let sarif = p.run(&["validate", "--output", "sarif"]);
    assert_eq!(sarif.code, 2, "{}", sarif.transcript());
    let log = json(&sarif.stdout);
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "goldenpath.yaml"
    );
    assert!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap()
            > 0
    );
    // A valid spec: a notice, exit 0; an empty SARIF run.
    let ok = Platform::new(SPEC);
    let gh = ok.run(&["validate", "--output", "github"]);
    assert_eq!(gh.code, 0, "{}", gh.transcript());
    assert!(gh.stdout.starts_with("::notice "), "{}", gh.stdout);
    let sarif = ok.run(&["validate", "--output", "sarif"]);
    assert_eq!(
        json(&sarif.stdout)["runs"][0]["results"],
        serde_json::json!([])
    );
    // A command that reports no findings refuses SARIF; one a workflow
    // does not run refuses github too.
    let out = ok.run(&["status", "--env", "dev", "--output", "sarif"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("validate, docs check and policy check"),
        "{}",
        out.stderr
    );
    let out = ok.run(&[
        "graph",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "github",
    ]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("--output github is for validate, docs check, policy check, plan, deploy, teardown, status, request and ci"),
        "{}",
        out.stderr
    );
}

/// Every file under `root` (`.git` apart) with its content.
fn tree(root: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(path);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// The commands that only look, on a platform with Terraform and exec
/// components and a build.
const READ_ONLY: &[&[&str]] = &[
    &["validate"],
    &["plan", "--env", "dev", "--build-id", "23-01-26-01"],
    &["plan", "--env", "dev", "--build-id", "auto"],
    &["plan", "--env", "dev", "--persistent"],
    &["status", "--env", "dev"],
    &["status", "--env", "dev", "--build-id", "23-01-26-01"],
    &["graph", "--env", "dev", "--build-id", "23-01-26-01"],
    &["contract", "--env", "dev", "--build-id", "23-01-26-01"],
    &["builds", "list", "--env", "dev"],
    &[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
    ],
    &["registry", "verify"],
    &["registry", "export"],
    &["registry", "report"],
    &["lease", "list"],
    &["owners", "--env", "dev"],
];

#[test]
fn read_only_commands_leave_a_directory_byte_for_byte_as_it_was() {
    // Fresh: nothing deployed, no state directory.
    let p = terraform_platform();
    let before = tree(p.path());
    for args in READ_ONLY {
        let _ = p.run(args);
        let after = tree(p.path());
        let changed: Vec<&String> = after
            .keys()
            .chain(before.keys())
            .filter(|k| after.get(*k) != before.get(*k))
            .collect();
        assert!(changed.is_empty(), "{args:?} changed {changed:?}");
    }
    // Deployed: state, registry, logs and Terraform's own files exist.
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let before = tree(p.path());
    for args in READ_ONLY {
        let _ = p.run(args);
        let after = tree(p.path());
        let changed: Vec<&String> = after
            .keys()
            .chain(before.keys())
            .filter(|k| after.get(*k) != before.get(*k))
            .collect();
        assert!(changed.is_empty(), "{args:?} changed {changed:?}");
    }
}
