//! `goldenpath drift` on the local example with the real systems: after a
//! deploy nothing drifted; then things are changed behind goldenpath's
//! back — a role's connection limit with SQL, a record in the zone file, a
//! rendered file in the GitOps repository (committed), a Terraform root's
//! state through `terraform apply` with another input — and drift names
//! each one (exit 4), counts what `drift.ignore` leaves out, records the
//! check; `deploy` puts them back and drift exits 0.

use std::path::Path;

use crate::e2e::Local;

const B: &str = "23-01-26-01";

fn drift(l: &Local, args: &[&str]) -> (i32, serde_json::Value) {
    let mut full = vec!["drift", "--env", "dev", "--output", "json"];
    full.extend_from_slice(args);
    let out = l.p.run(&full);
    let v =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.transcript()));
    (out.code, v)
}

/// The differences drift reports of a component.
fn of(report: &serde_json::Value, component: &str) -> (String, Vec<String>) {
    let c = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == component)
        .unwrap_or_else(|| panic!("{component} not in {report}"));
    (
        c["status"].as_str().unwrap().to_string(),
        c["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect(),
    )
}

/// `terraform apply` of the root with another input, on the state
/// goldenpath keeps for it, as someone with the state would.
fn apply_behind_its_back(root: &Path, state: &Path) {
    let work = gp_test::tempdir();
    for f in std::fs::read_dir(root).unwrap().flatten() {
        if f.path().extension().is_some_and(|e| e == "tf") {
            std::fs::copy(f.path(), work.path().join(f.file_name())).unwrap();
        }
    }
    // The local backend's default path, holding goldenpath's state.
    std::fs::copy(state, work.path().join("terraform.tfstate")).unwrap();
    let tf = |args: &[&str]| {
        let out = gp_test::run(
            std::process::Command::new("terraform")
                .arg(format!("-chdir={}", work.path().display()))
                .args(args)
                .env("TF_IN_AUTOMATION", "1"),
        );
        assert_eq!(out.code, 0, "terraform {args:?}: {}", out.transcript());
    };
    tf(&["init", "-input=false", "-no-color"]);
    tf(&[
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "-var",
        "cluster_name=changed-by-hand",
        "-var",
        "env=dev",
        "-var",
        &format!("build_id={B}"),
        "-var",
        "deployment_lifecycle=ephemeral",
        "-var",
        "tags={}",
    ]);
    std::fs::copy(work.path().join("terraform.tfstate"), state).unwrap();
}

#[test]
fn drift_names_each_change_made_behind_goldenpaths_back_and_deploy_puts_it_back() {
    let l = Local::new();
    // Known noise, left out and counted: a comment line in values files.
    let spec_path = l.root().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        format!(
            "{spec}\ndrift:\n  ignore:\n    - component: external-dns\n      match: \"*values.yaml was edited*\"\n      reason: the chart's own comments are rewritten by a bot\n"
        ),
    )
    .unwrap();
    l.p.ok(&["validate"]);
    l.deploy(&["--foundational"]);
    l.deploy(&["--build-id", B]);
    for args in [&["--foundational"][..], &["--build-id", B][..]] {
        let (code, r) = drift(&l, args);
        assert_eq!(code, 0, "{r}");
        assert_eq!(r["drifted"], 0, "{r}");
    }

    // A role's connection limit, with SQL.
    l.admin()
        .batch_execute("ALTER ROLE keycloak CONNECTION LIMIT 3")
        .unwrap();
    // A record of the build's host, in the zone file.
    let zone_path = l.state().join("dns/goldenpath.test.zone");
    let zone = std::fs::read_to_string(&zone_path).unwrap();
    let host = format!("backstage.b-{B}.dev.goldenpath.test.");
    assert!(
        zone.contains(&format!("{host} 300 IN A 127.0.0.1")),
        "{zone}"
    );
    std::fs::write(
        &zone_path,
        zone.replace(
            &format!("{host} 300 IN A 127.0.0.1"),
            &format!("{host} 300 IN A 10.9.9.9"),
        ),
    )
    .unwrap();
    // A rendered file in the GitOps repository, committed by hand; and
    // one the ignore rule covers.
    let gitops = l.root().join("gitops");
    let build_dir = gitops.join(format!("apps/dev/builds/{B}"));
    std::fs::write(build_dir.join("argocd/values.yaml"), "replicas: 9\n").unwrap();
    let ed = build_dir.join("external-dns/values.yaml");
    let text = std::fs::read_to_string(&ed).unwrap();
    std::fs::write(&ed, format!("# edited\n{text}")).unwrap();
    let git = |args: &[&str]| {
        let out = gp_test::run(
            std::process::Command::new("git")
                .current_dir(&gitops)
                .args([
                    "-c",
                    "user.name=someone",
                    "-c",
                    "user.email=someone@example.test",
                ])
                .args(args),
        );
        assert_eq!(out.code, 0, "{}", out.transcript());
    };
    git(&["commit", "-qam", "a hand edit"]);
    // The cluster root's state, through terraform apply with another input.
    apply_behind_its_back(
        &l.root().join("terraform/stand-in-cluster"),
        &l.state().join(format!(
            "tfstate/envs/dev/builds/{B}/terraform.tfstate.d/cluster/terraform.tfstate"
        )),
    );

    let (code, f) = drift(&l, &["--foundational"]);
    assert_eq!(code, 4, "{f}");
    let (status, diffs) = of(&f, "rds");
    assert_eq!(status, "drifted");
    assert!(
        diffs
            .iter()
            .any(|d| d.contains("role keycloak") && d.contains("CONNECTION LIMIT")),
        "{diffs:?}"
    );
    assert_eq!(of(&f, "dns-zone").0, "in-sync");

    let (code, b) = drift(&l, &["--build-id", B]);
    assert_eq!(code, 4, "{b}");
    let (status, diffs) = of(&b, "backstage");
    assert_eq!(status, "drifted", "{b}");
    assert!(
        diffs
            .iter()
            .any(|d| d.contains(&host[..host.len() - 1]) && d.contains("points elsewhere")),
        "{diffs:?}"
    );
    let (status, diffs) = of(&b, "argocd");
    assert_eq!(status, "drifted", "{b}");
    assert!(
        diffs
            .iter()
            .any(|d| d.contains("argocd/values.yaml was edited")),
        "{diffs:?}"
    );
    let (status, diffs) = of(&b, "cluster");
    assert_eq!(status, "drifted", "{b}");
    assert!(
        diffs
            .iter()
            .any(|d| d.contains("terraform_data.cluster (input")),
        "{diffs:?}"
    );
    // The ignored edit is counted, not reported.
    assert_eq!(of(&b, "external-dns").0, "in-sync", "{b}");
    assert_eq!(b["ignored"], 1, "{b}");
    assert_eq!(b["drifted"], 3, "{b}");
    // Nothing leaks: the role's password is in no output.
    assert!(!b.to_string().contains("password"), "{b}");

    // The text says what to run; the check is recorded with who ran it.
    let out = l.p.run(&["drift", "--env", "dev", "--build-id", B]);
    assert_eq!(out.code, 4, "{}", out.transcript());
    assert!(
        out.stdout.contains(&format!(
            "put it back: goldenpath deploy --env dev --build-id {B}"
        )),
        "{}",
        out.stdout
    );
    let shown =
        l.p.ok(&["builds", "show", "--env", "dev", "--build-id", B])
            .stdout;
    assert!(shown.contains("drift_checked"), "{shown}");
    // Status shows what was found, per component, with when; the
    // foundational plane's drift shows in the build's dependency rows too.
    let status: serde_json::Value = serde_json::from_str(
        &l.p.ok(&[
            "status",
            "--env",
            "dev",
            "--build-id",
            B,
            "--output",
            "json",
        ])
        .stdout,
    )
    .unwrap();
    let row = |name: &str| {
        status["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == name)
            .unwrap()
            .clone()
    };
    assert!(
        row("argocd")["drift"]["foundUs"].as_i64().is_some(),
        "{status}"
    );
    assert!(
        row("rds")["drift"]["differences"][0]
            .as_str()
            .unwrap()
            .contains("CONNECTION LIMIT")
    );
    assert!(row("external-dns").get("drift").is_none(), "{status}");
    let text = l.p.ok(&["status", "--env", "dev", "--build-id", B]).stdout;
    assert!(text.contains("drift in backstage (found "), "{text}");

    // The foundational plane's drift goes back only with --remediate-drift
    // and an approval by someone other than who deploys; nothing changes
    // before.
    let refused = l.p.run(&["deploy", "--env", "dev", "--foundational"]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    assert!(
        refused.stderr.contains("rds: alter role keycloak")
            && refused.stderr.contains("--remediate-drift"),
        "{}",
        refused.stderr
    );
    let unapproved = l.p.run(&[
        "deploy",
        "--env",
        "dev",
        "--foundational",
        "--remediate-drift",
    ]);
    assert_eq!(unapproved.code, 3, "{}", unapproved.transcript());
    assert!(
        unapproved.stderr.contains("needs an approval"),
        "{}",
        unapproved.stderr
    );
    // Nothing to approve in a component that did not drift.
    let out = l.p.run(&[
        "drift",
        "--env",
        "dev",
        "--foundational",
        "--approve",
        "dns-zone",
        "--reason",
        "x",
    ]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    // The deployer's own approval does not count.
    l.p.ok(&[
        "drift",
        "--env",
        "dev",
        "--foundational",
        "--approve",
        "rds",
        "--reason",
        "mine",
    ]);
    let own = l.p.run(&[
        "deploy",
        "--env",
        "dev",
        "--foundational",
        "--remediate-drift",
    ]);
    assert_eq!(own.code, 3, "{}", own.transcript());
    let limit = |l: &Local| -> i32 {
        l.admin()
            .query_one(
                "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'keycloak'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(limit(&l), 3, "nothing was put back while refused");
    let out = gp_test::run(
        l.p.cmd(&[
            "drift",
            "--env",
            "dev",
            "--foundational",
            "--approve",
            "rds",
            "--reason",
            "the limit was a test",
        ])
        .env("GOLDENPATH_ACTOR", "lead"),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    // Put back by deploy: nothing drifted.
    l.p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--foundational",
        "--remediate-drift",
    ]);
    l.p.ok(&["deploy", "--env", "dev", "--build-id", B]);
    for args in [&["--foundational"][..], &["--build-id", B][..]] {
        let (code, r) = drift(&l, args);
        assert_eq!(code, 0, "{r}");
    }
    let text = l.p.ok(&["status", "--env", "dev", "--build-id", B]).stdout;
    assert!(!text.contains("drift in"), "{text}");
    let limit: i32 = l
        .admin()
        .query_one(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'keycloak'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(limit, -1, "deploy put the connection limit back");
}

#[test]
fn a_deployment_never_deployed_has_nothing_to_compare_and_bad_input_exits_2() {
    let l = Local::new();
    let (code, r) = drift(&l, &["--build-id", B]);
    assert_eq!(code, 0, "{r}");
    assert!(
        r["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "not-deployed"),
        "{r}"
    );
    let out = l.p.run(&["drift", "--env", "dev", "--build-id", "auto"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    let out = l.p.run(&["drift", "--env", "nope"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    // A rule naming a component the spec does not have is refused at its
    // line.
    let spec_path = l.root().join("goldenpath.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(
        &spec_path,
        format!("{spec}\ndrift:\n  ignore:\n    - component: nope\n      match: \"*\"\n"),
    )
    .unwrap();
    let out = l.p.run(&["drift", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("drift.ignore: no component is named `nope`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_record_changed_with_nsupdate_against_bind_is_drift_until_deploy_puts_it_back() {
    let bind = gp_test::bind::TestBind::start("example.io");
    let p = crate::proofs::bind_platform(&bind, "txtPrefix: external-dns.");
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", B]);
    let run = |args: &[&str]| {
        let mut full = vec!["drift", "--env", "dev", "--output", "json"];
        full.extend_from_slice(args);
        let out = p.run(&full);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", out.transcript()));
        (out.code, v)
    };
    assert_eq!(run(&["--build-id", B]).0, 0);
    let name = format!("grafana.b-{B}.dev.example.io.");
    let out = bind.nsupdate(
        &format!("update delete {name} A\nupdate add {name} 300 A 10.9.9.9"),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let (code, r) = run(&["--build-id", B]);
    assert_eq!(code, 4, "{r}");
    let (status, diffs) = of(&r, "monitoring");
    assert_eq!(status, "drifted", "{r}");
    assert!(
        diffs
            .iter()
            .any(|d| d.contains(&name[..name.len() - 1]) && d.contains("points elsewhere")),
        "{diffs:?}"
    );
    // Gone altogether: still drift.
    let out = bind.nsupdate(&format!("update delete {name} A"), None);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let (code, r) = run(&["--build-id", B]);
    assert_eq!(code, 4, "{r}");
    assert_eq!(of(&r, "monitoring").0, "drifted", "{r}");
    // Put back by deploy, as BIND serves it.
    p.ok(&["deploy", "--env", "dev", "--build-id", B]);
    assert_eq!(run(&["--build-id", B]).0, 0);
    let zone = bind.axfr();
    assert!(
        zone.lines()
            .any(|l| l.starts_with(&name) && l.contains("A") && l.contains("10.0.0.5")),
        "{zone}"
    );
}
