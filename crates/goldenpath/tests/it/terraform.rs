//! Terraform through the binary: a state lock held by a second process is
//! named with its id, holder and the unlock command; the forced unlock is
//! recorded with who and why, and its outcome beside it.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::deploy::Platform;

pub(crate) const SPEC: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev:
    ephemeral: { maxTier: 1 }
components:
  - name: cluster
    plane: disposable
    tier: 0
    driver: terraform
    settings:
      root: root
";

pub(crate) const ROOT: &str = "terraform {
  backend \"local\" {}
}
variable \"build_id\" { type = string }
resource \"terraform_data\" \"cluster\" {
  input = \"v1-${var.build_id}\"
}
output \"id\" { value = terraform_data.cluster.output }
";

#[test]
fn a_held_lock_is_named_and_a_forced_unlock_is_recorded() {
    let p = Platform::new(SPEC);
    std::fs::create_dir_all(p.path().join("root")).unwrap();
    std::fs::write(p.path().join("root/main.tf"), ROOT).unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);

    // Another terraform holds the lock while it waits for "yes".
    std::fs::write(p.path().join("root/main.tf"), ROOT.replace("v1-", "v2-")).unwrap();
    let work = p.path().join(".goldenpath/work/dev/23-01-26-01/cluster");
    let mut holder = Command::new("terraform")
        .arg(format!("-chdir={}", p.path().join("root").display()))
        .args(["apply", "-no-color"])
        .arg(format!(
            "-var-file={}",
            work.join("goldenpath.auto.tfvars.json").display()
        ))
        .env("TF_DATA_DIR", work.join(".terraform"))
        .env("TF_WORKSPACE", "cluster")
        .env(
            "TF_CLI_CONFIG_FILE",
            p.path().join(".goldenpath/terraform/terraformrc"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = holder.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains("Enter a value") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "the holder exited: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }

    let locked = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(locked.code, 1, "{}", locked.transcript());
    let text = locked.transcript();
    assert!(text.contains("is locked by"), "{text}");
    let lock_id = text
        .split("OperationTypeApply, lock ")
        .nth(1)
        .and_then(|r| r.get(..36))
        .unwrap_or_else(|| panic!("the lock id is named: {text}"))
        .to_string();
    assert!(text.contains(&format!(
        "goldenpath terraform unlock --env dev --build-id 23-01-26-01 cluster --lock-id {lock_id}"
    )));
    assert!(!text.contains('\u{1b}'), "no colour codes in messages");

    // The local backend's lock belongs to the live holder: the forced
    // unlock cannot release it, says why, and is still recorded.
    let unlock = p.run(&[
        "terraform",
        "unlock",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "cluster",
        "--lock-id",
        &lock_id,
        "--reason",
        "the CI runner was deleted",
    ]);
    assert_eq!(unlock.code, 1, "{}", unlock.transcript());
    assert!(unlock.stderr.contains("local backend"), "{}", unlock.stderr);
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
    let o = &v["overrides"].as_array().unwrap()[0];
    assert_eq!(o["kind"], "terraform-force-unlock");
    assert_eq!(o["actor"], "tester");
    assert_eq!(o["reason"], "the CI runner was deleted");
    assert_eq!(o["subject"], format!("cluster lock {lock_id}"));
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "force_unlock_failed"
                && e["detail"]["lockId"] == lock_id.as_str())
    );

    // The holder goes; so does its lock; the deploy proceeds.
    holder.kill().unwrap();
    holder.wait().unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let status = p.ok(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        status.stdout.starts_with("dev build 23-01-26-01: live"),
        "{}",
        status.stdout
    );
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
}

const PROTECTED: &str = "terraform {
  backend \"local\" {}
}
variable \"build_id\" { type = string }
resource \"terraform_data\" \"cluster\" {
  input = \"cluster-${var.build_id}\"
}
resource \"terraform_data\" \"db\" {
  input = \"database\"
}
";

#[test]
fn a_protected_address_refuses_exit_3_until_overridden_and_syntax_errors_exit_1() {
    let p = Platform::new(&SPEC.replace(
        "      root: root\n",
        "      root: root\n      protect: [\"terraform_data.db\"]\n",
    ));
    std::fs::create_dir_all(p.path().join("root")).unwrap();
    std::fs::write(p.path().join("root/main.tf"), PROTECTED).unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let state = p
        .path()
        .join(".goldenpath/tfstate/envs/dev/builds/23-01-26-01/terraform.tfstate.d/cluster/terraform.tfstate");
    let before = std::fs::read_to_string(&state).unwrap();

    // The protected block is removed from the code: the plan would delete it.
    let cut = PROTECTED
        .split("resource \"terraform_data\" \"db\"")
        .next()
        .unwrap();
    std::fs::write(p.path().join("root/main.tf"), cut).unwrap();
    let refused = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    assert!(
        refused.stdout.contains("terraform_data.db"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        before,
        "state unchanged"
    );

    p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--override-guard",
        "cluster:protect",
        "--reason",
        "the database moved to the rds root",
    ]);
    assert!(!std::fs::read_to_string(&state).unwrap().contains("\"db\""));
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
    let o = &v["overrides"].as_array().unwrap()[0];
    assert_eq!(o["kind"], "guard");
    assert_eq!(o["subject"], "cluster:protect");
    assert_eq!(o["reason"], "the database moved to the rds root");

    // A syntax error: exit 1, Terraform's diagnostic with file and line,
    // nothing recorded as applied.
    std::fs::write(
        p.path().join("root/main.tf"),
        format!("{cut}\nresource \"terraform_data\" {{\n"),
    )
    .unwrap();
    let journal_before = p.ok(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let applied_before = finished_actions(&journal_before.stdout);
    assert!(applied_before > 0);
    let broken = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(broken.code, 1, "{}", broken.transcript());
    assert!(
        broken
            .stdout
            .contains("main.tf:9: Unclosed configuration block"),
        "{}",
        broken.transcript()
    );
    let journal_after = p.ok(&[
        "builds",
        "show",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    assert_eq!(
        finished_actions(&journal_after.stdout),
        applied_before,
        "nothing recorded as applied"
    );
    std::fs::write(p.path().join("root/main.tf"), cut).unwrap();
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
}

/// Journal entries of `builds show --output json` that finished.
fn finished_actions(json: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["journal"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["entry"]["stage"] == "after" || row["stage"] == "after")
        .count()
}

#[test]
fn state_at_the_deployments_key_is_found_and_adopted() {
    // The platform keeps one root per deployment at exactly the contract's
    // key: a build it ran before goldenpath has its state there.
    let spec = SPEC.replace(
        "      root: root\n",
        "      root: root\n      stateKey: deployment\n",
    );
    let p = Platform::new(&spec);
    std::fs::create_dir_all(p.path().join("root")).unwrap();
    std::fs::write(p.path().join("root/main.tf"), ROOT).unwrap();
    let key = p
        .path()
        .join(".goldenpath/tfstate/envs/dev/builds/23-01-26-01/terraform.tfstate");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let old = p.path().join("old-runner");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("main.tf"), ROOT).unwrap();
    for args in [
        vec![
            "init".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            format!("-backend-config=path={}", key.display()),
        ],
        vec![
            "apply".into(),
            "-auto-approve".into(),
            "-no-color".into(),
            "-var".into(),
            "build_id=23-01-26-01".into(),
        ],
    ] {
        let out = Command::new("terraform")
            .arg(format!("-chdir={}", old.display()))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let before = std::fs::read_to_string(&key).unwrap();
    assert!(before.contains("v1-23-01-26-01"));
    let plan = p
        .ok(&["plan", "--env", "dev", "--build-id", "23-01-26-01"])
        .stdout;
    assert!(
        plan.lines()
            .any(|l| l.starts_with("cluster") && l.contains("adopt")),
        "the existing state is adopted, not created: {plan}"
    );
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    // No workspace: the state stays at the key, and has the one resource.
    let after = std::fs::read_to_string(&key).unwrap();
    assert!(after.contains("terraform_data"), "{after}");
    assert!(!key.with_file_name("terraform.tfstate.d").exists());
    // The build owns its key: its teardown destroys what was adopted there.
    let down = p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let t = crate::proofs::outcome(&down.stdout);
    assert_eq!(t["kept"], serde_json::json!([]), "{t}");
    assert_eq!(t["destroyed"].as_array().unwrap().len(), 1, "{t}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    assert_eq!(state["resources"], serde_json::json!([]), "{state}");
    // Two components may not own one key.
    let two = spec.clone()
        + "  - name: extra\n    plane: disposable\n    tier: 0\n    driver: terraform\n    settings:\n      root: root\n      stateKey: deployment\n";
    std::fs::write(p.path().join("goldenpath.yaml"), two).unwrap();
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("already owns the deployment's state key"),
        "{}",
        out.stderr
    );
}
