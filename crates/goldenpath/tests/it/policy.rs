//! Policies through the binary: a deny stops a deploy before the GitOps
//! commit and push (the repository and the remote read with git) and
//! before `terraform apply` (the state read from disk), an override lets it
//! through and is recorded; the user's unit tests pass and fail; a policy
//! that does not parse is exit 2 with its position and nothing written; a
//! policy that loops or allocates without bound is stopped by its limits.

use crate::deploy::Platform;

fn spec(remote: &str, extra: &str, values: &str) -> String {
    format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
gitops: {{ path: gitops, git: true, remote: {{ url: \"{remote}\", branch: main }} }}
{extra}environments:
  dev: {{ ephemeral: {{ maxTier: 2 }} }}
components:
  - name: web
    plane: disposable
    tier: 1
    driver: gitops
    settings: {{ namespace: web{values} }}
"
    )
}

fn bare(dir: &std::path::Path) -> std::path::PathBuf {
    let bare = dir.join("gitops.git");
    let ok = std::process::Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(ok.success());
    bare
}

fn git(args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_deny_stops_the_deploy_before_the_commit_and_the_push_and_an_override_is_recorded() {
    let dir = gp_test::tempdir();
    let remote = bare(dir.path());
    let url = remote.display().to_string();
    let good = Platform::new(&spec(&url, "", ""));
    good.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let remote_before = git(&["--git-dir", &url, "rev-parse", "main"]);
    let repo = good.path().join("gitops");
    let local_before = git(&["-C", &repo.display().to_string(), "rev-parse", "HEAD"]);
    // The same platform, now with an unpinned image.
    std::fs::write(
        good.path().join("goldenpath.yaml"),
        spec(
            &url,
            "",
            ", values: { image: { repository: web, tag: latest } }",
        ),
    )
    .unwrap();
    // The plan says so first, as the deploy will, changing nothing.
    let plan = good.ok(&[
        "plan",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-02",
        "--output",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let web = plan["items"]
        .as_array()
        .or_else(|| plan["components"].as_array())
        .unwrap()
        .iter()
        .find(|i| i["component"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["action"], "refused", "{web}");
    assert!(
        web["reason"].as_str().unwrap().contains("image-pinned"),
        "{web}"
    );
    assert!(!repo.join("apps/dev/builds/23-01-26-02/web").exists());
    let refused = good.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-02"]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    let all = refused.transcript();
    assert!(all.contains("image-pinned"), "{all}");
    assert!(
        all.contains("apps/dev/builds/23-01-26-02/web/values.yaml:1"),
        "{all}"
    );
    // Nothing reached git: not the working tree, not a commit, not the remote.
    assert!(!repo.join("apps/dev/builds/23-01-26-02/web").exists());
    assert_eq!(
        git(&["-C", &repo.display().to_string(), "rev-parse", "HEAD"]),
        local_before
    );
    assert_eq!(
        git(&["--git-dir", &url, "rev-parse", "main"]),
        remote_before
    );
    let shown = good
        .ok(&[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-02",
        ])
        .stdout;
    assert!(shown.contains("policy_denied"), "{shown}");
    // Let through, with a reason: delivered, and the override recorded.
    let through = good.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-02",
        "--override-policy",
        "image-pinned",
        "--reason",
        "the upstream image has no tags yet",
    ]);
    assert!(
        through
            .transcript()
            .contains("deny (overridden) image-pinned"),
        "{}",
        through.transcript()
    );
    let tree = git(&["--git-dir", &url, "ls-tree", "-r", "--name-only", "main"]);
    assert!(
        tree.contains("apps/dev/builds/23-01-26-02/web/values.yaml"),
        "{tree}"
    );
    let shown = good
        .ok(&[
            "builds",
            "show",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-02",
        ])
        .stdout;
    assert!(shown.contains("policy_warned"), "{shown}");
    assert!(
        shown.contains("the upstream image has no tags yet"),
        "{shown}"
    );
    // An override must name a rule that exists.
    let unknown = good.run(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-02",
        "--override-policy",
        "no-such-rule",
        "--reason",
        "x",
    ]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    // The same finding in machine formats.
    for (format, want) in [
        ("json", "\"rule\": \"image-pinned\""),
        ("sarif", "\"ruleId\": \"image-pinned\""),
        (
            "github",
            "::error file=apps/dev/builds/23-01-26-02/web/values.yaml,line=1,title=image-pinned::",
        ),
    ] {
        let out = good.run(&[
            "policy",
            "check",
            "--env",
            "dev",
            "--build-id",
            "23-01-26-02",
            "--output",
            format,
        ]);
        assert_eq!(out.code, 3, "{}", out.transcript());
        assert!(out.stdout.contains(want), "{format}: {}", out.stdout);
    }
}

const PLAN_POLICY: &str = "# id: no-terraform-data\n# subject: plan\n# rationale: this platform's roots make real resources\npackage main\n\ndeny contains msg if {\n\tsome rc in input.resource_changes\n\trc.type == \"terraform_data\"\n\t\"create\" in rc.change.actions\n\tmsg := sprintf(\"%s would be created\", [rc.address])\n}\n";

#[test]
fn a_deny_on_the_plan_stops_terraform_before_apply() {
    let spec = crate::terraform::SPEC.replace(
        "environments:",
        "policy: { paths: [policy] }\nenvironments:",
    );
    let p = Platform::new(&spec);
    std::fs::create_dir_all(p.path().join("root")).unwrap();
    std::fs::write(p.path().join("root/main.tf"), crate::terraform::ROOT).unwrap();
    std::fs::create_dir_all(p.path().join("policy")).unwrap();
    std::fs::write(p.path().join("policy/plan.rego"), PLAN_POLICY).unwrap();
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    // Once state exists, `plan` lists each resource change as terraform
    // plan does, and the deny the deploy would meet.
    let off_once = spec.replace(
        "policy: { paths: [policy] }",
        "policy: { paths: [policy], disable: [no-terraform-data] }",
    );
    std::fs::write(p.path().join("goldenpath.yaml"), &off_once).unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-02"]);
    // A change that replaces the resource: a create, as the policy reads.
    std::fs::write(
        p.path().join("root/main.tf"),
        crate::terraform::ROOT.replace(
            "input = \"v1-",
            "triggers_replace = [\"v9\"]\n  input = \"v1-",
        ),
    )
    .unwrap();
    let listed = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-02"]);
    assert!(
        listed.stdout.contains("replace terraform_data.cluster"),
        "{}",
        listed.stdout
    );
    std::fs::write(p.path().join("goldenpath.yaml"), &spec).unwrap();
    let denied = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-02"]);
    assert!(
        denied.stdout.contains("refused") && denied.stdout.contains("would be created"),
        "{}",
        denied.stdout
    );
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-02"]);
    std::fs::write(p.path().join("root/main.tf"), crate::terraform::ROOT).unwrap();
    assert!(
        out.transcript()
            .contains("terraform_data.cluster would be created"),
        "{}",
        out.transcript()
    );
    // Terraform never applied: no resource in any state under the key.
    let tfstate = p.path().join(".goldenpath/tfstate");
    let mut stack = vec![tfstate.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(
                    !text.contains("terraform_data"),
                    "{}: {text}",
                    path.display()
                );
            }
        }
    }
    // Turned off in the spec, the same deploy applies.
    let off = spec.replace(
        "policy: { paths: [policy] }",
        "policy: { paths: [policy], disable: [no-terraform-data] }",
    );
    std::fs::write(p.path().join("goldenpath.yaml"), off).unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
}

#[test]
fn policy_unit_tests_pass_and_fail_as_opa_test_reports_them() {
    let dir = gp_test::tempdir();
    let p = Platform::new(&spec("unused", "policy: { paths: [policy] }\n", ""));
    let _ = dir;
    std::fs::create_dir_all(p.path().join("policy")).unwrap();
    std::fs::write(p.path().join("policy/plan.rego"), PLAN_POLICY).unwrap();
    std::fs::write(
        p.path().join("policy/plan_test.rego"),
        "package main_test\n\nimport data.main\n\ntest_terraform_data_is_denied if {\n\tcount(main.deny) == 1 with input as {\"resource_changes\": [{\"address\": \"terraform_data.x\", \"type\": \"terraform_data\", \"change\": {\"actions\": [\"create\"]}}]}\n}\n\ntest_an_update_passes if {\n\tcount(main.deny) == 0 with input as {\"resource_changes\": [{\"address\": \"terraform_data.x\", \"type\": \"terraform_data\", \"change\": {\"actions\": [\"update\"]}}]}\n}\n",
    )
    .unwrap();
    let out = p.ok(&["policy", "test"]);
    assert!(
        out.stdout
            .contains("main_test.test_terraform_data_is_denied: PASS"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("2 passed, 0 failed"), "{}", out.stdout);
    std::fs::write(
        p.path().join("policy/wrong_test.rego"),
        "package wrong_test\n\nimport data.main\n\ntest_expects_too_much if {\n\tcount(main.deny) == 2 with input as {\"resource_changes\": []}\n}\n",
    )
    .unwrap();
    let out = p.run(&["policy", "test"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("wrong_test.test_expects_too_much: FAIL (policy/wrong_test.rego)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("2 passed, 1 failed"), "{}", out.stdout);
}

#[test]
fn a_policy_that_does_not_parse_is_exit_2_at_its_position_and_nothing_is_written() {
    let p = Platform::new(&spec("unused", "policy: { paths: [policy] }\n", ""));
    std::fs::create_dir_all(p.path().join("policy")).unwrap();
    std::fs::write(
        p.path().join("policy/broken.rego"),
        "package main\n\ndeny contains msg if {\n\tinput.kind == \"Pod\"\n\tmsg := sprintf(\"%s\", [input.metadata.name]\n}\n",
    )
    .unwrap();
    for args in [
        vec!["validate"],
        vec!["policy", "check", "--dir", "."],
        vec!["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
    ] {
        let out = p.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript());
        assert!(
            out.stderr.contains("policy/broken.rego:6:1"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(
        !p.path().join(".goldenpath").exists(),
        "nothing written, not even an empty registry"
    );
}

#[test]
fn a_policy_that_loops_or_allocates_without_bound_is_stopped_by_its_limits() {
    let p = Platform::new(&spec(
        "unused",
        "policy: { paths: [policy], timeout: 2s, memoryMib: 512 }\n",
        "",
    ));
    std::fs::create_dir_all(p.path().join("policy")).unwrap();
    std::fs::create_dir_all(p.path().join("objects")).unwrap();
    std::fs::write(
        p.path().join("objects/ns.yaml"),
        "kind: Namespace\nmetadata: { name: a }\n",
    )
    .unwrap();
    // Every pair of a million numbers: the time limit.
    std::fs::write(
        p.path().join("policy/loop.rego"),
        "package main\n\ndeny contains \"never\" if {\n\tsome i in numbers.range(1, 1000000)\n\tsome j in numbers.range(1, 1000000)\n\ti + j < 0\n}\n",
    )
    .unwrap();
    let out = p.run(&["policy", "check", "--dir", "objects"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("time limit"), "{}", out.stderr);
    // Thirty million numbers at once (about a gigabyte, which this machine
    // has): past the 512 MiB limit, in the worker.
    std::fs::write(
        p.path().join("policy/loop.rego"),
        "package main\n\ndeny contains \"never\" if {\n\tcount(numbers.range(1, 30000000)) < 0\n}\n",
    )
    .unwrap();
    let out = p.run(&["policy", "check", "--dir", "objects"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("memory limit"), "{}", out.stderr);
    // goldenpath itself survived both and says what to do.
    assert!(out.stderr.contains("policy.timeout"), "{}", out.stderr);
}
