//! What a request delivers to the cluster goes through the gitops driver
//! like a component's: a user policy that denies its ExternalSecret stops
//! `request apply` before anything is made, committed or pushed; an
//! applied request's ExternalSecret reaches the remote in one commit; a
//! withdrawn one leaves it (the database is kept). Read with git on the
//! bare remote and with a PostgreSQL client. And the states a request
//! goes through — partly approved, approved, edited after approval — are
//! the same in the CLI, the API and the dashboard.

use crate::catalog::http_get;
use crate::deploy::Platform;
use crate::requests::Servers;

fn spec(remote: &str) -> String {
    format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
gitops: {{ path: gitops, git: true, remote: {{ url: \"{remote}\", branch: main }} }}
policy: {{ paths: [policy] }}
requests:
  approvers: {{ platform: [paula], security: [sam] }}
environments:
  dev: {{}}
components:
  - name: rds
    plane: foundational
    tier: 2
    protected: true
    driver: postgres
    settings:
      managed: {{}}
      databases: [keycloak]
"
    )
}

const POLICY: &str = "# id: no-forbidden-namespace
# subject: manifests
# rationale: nothing of an app goes into the forbidden namespace
package main

deny contains msg if {
\tinput.kind == \"ExternalSecret\"
\tinput.metadata.namespace == \"forbidden\"
\tmsg := sprintf(\"ExternalSecret %s goes into the forbidden namespace\", [input.metadata.name])
}
";

fn request(id: &str, database: &str, extra: &str) -> String {
    format!(
        "id: {id}\nenvironment: dev\ndatabaseName: {database}\nusername: {database}_app\nowner: team-orders\nrequester: alice\ndomain: commerce\n{extra}"
    )
}

fn git(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("git")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// The files on the remote's `main` (none when it has no commit yet).
fn remote_files(bare: &str) -> Vec<String> {
    match git(&["--git-dir", bare, "ls-tree", "-r", "--name-only", "main"]) {
        (true, out) => out.lines().map(str::to_string).collect(),
        (false, _) => Vec::new(),
    }
}

fn setup() -> (Platform, tempfile::TempDir, String) {
    let dir = gp_test::tempdir();
    let bare = dir.path().join("gitops.git");
    assert!(
        std::process::Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&bare)
            .status()
            .unwrap()
            .success()
    );
    let url = bare.display().to_string();
    let p = Platform::new(&spec(&url));
    std::fs::create_dir_all(p.path().join("policy")).unwrap();
    std::fs::write(p.path().join("policy/namespaces.rego"), POLICY).unwrap();
    std::fs::create_dir_all(p.path().join("requests")).unwrap();
    (p, dir, url)
}

fn write(p: &Platform, id: &str, text: &str) {
    std::fs::write(p.path().join(format!("requests/{id}.yaml")), text).unwrap();
}

/// Whether the instance has a database of that name (read with a
/// PostgreSQL client, as the instance's admin).
fn database_exists(p: &Platform, name: &str) -> bool {
    let out = p.ok(&["db", "list", "--env", "dev", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["database"] == name)
}

#[test]
fn a_policy_deny_stops_apply_before_anything_and_a_withdrawal_leaves_the_remote() {
    let (p, _dir, url) = setup();
    let _servers = Servers(p.path().to_path_buf());
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let remote_before = git(&["--git-dir", &url, "rev-parse", "main"]);
    // Denied: plan says so, apply refuses (exit 3) before the database is
    // made, and nothing is committed or pushed.
    write(
        &p,
        "RDS-0001",
        &request("RDS-0001", "ledger", "namespace: forbidden\n"),
    );
    let plan = p.run(&["request", "plan", "RDS-0001"]);
    assert_eq!(plan.code, 3, "{}", plan.transcript());
    assert!(
        plan.transcript().contains("forbidden namespace"),
        "{}",
        plan.transcript()
    );
    let out = p.run(&["request", "apply", "RDS-0001"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("policy denied"), "{}", out.stderr);
    assert!(!database_exists(&p, "ledger"), "nothing was made");
    assert_eq!(
        git(&["--git-dir", &url, "rev-parse", "main"]),
        remote_before
    );
    assert!(
        !remote_files(&url)
            .iter()
            .any(|f| f.starts_with("requests/")),
        "{:?}",
        remote_files(&url)
    );
    assert!(!p.path().join("gitops/requests/dev/RDS-0001").exists());
    // Allowed: the database, and its ExternalSecret on the remote in one
    // commit.
    write(&p, "RDS-0002", &request("RDS-0002", "orders", ""));
    let applied = p.ok(&["request", "apply", "RDS-0002", "--output", "json"]);
    let a: serde_json::Value = serde_json::from_str(&applied.stdout).unwrap();
    let file = "requests/dev/RDS-0002/externalsecret-orders-postgres.yaml";
    assert_eq!(a["delivered"], serde_json::json!([file]), "{a}");
    assert!(database_exists(&p, "orders"));
    assert!(remote_files(&url).contains(&file.to_string()));
    let (_, message) = git(&["--git-dir", &url, "log", "-1", "--format=%s", "main"]);
    assert_eq!(message, "goldenpath: deliver request RDS-0002 in dev");
    let (_, text) = git(&["--git-dir", &url, "show", &format!("main:{file}")]);
    let es = gp_core::yaml::parse(&text).unwrap().unwrap().to_json();
    gp_driver_gitops::schemas::check_external_secret(&es, file).unwrap();
    assert_eq!(
        es["metadata"]["labels"]["goldenpath.dev/request"],
        "RDS-0002"
    );
    // Applying again changes nothing: no new commit.
    let head = git(&["--git-dir", &url, "rev-parse", "main"]);
    p.ok(&["request", "apply", "RDS-0002"]);
    assert_eq!(git(&["--git-dir", &url, "rev-parse", "main"]), head);
    // Withdrawn: the ExternalSecret leaves the remote; the database stays.
    let out = p.ok(&["request", "withdraw", "RDS-0002", "--reason", "moved"]);
    assert!(out.stdout.contains("kept     orders"), "{}", out.stdout);
    assert!(!remote_files(&url).contains(&file.to_string()));
    assert!(
        database_exists(&p, "orders"),
        "a withdrawal deletes no data"
    );
    let list = p.ok(&["request", "list"]).stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with("RDS-0002") && l.contains("withdrawn")),
        "{list}"
    );
    let resources = p.ok(&["resources", "list", "--output", "json"]).stdout;
    let r: serde_json::Value = serde_json::from_str(&resources).unwrap();
    assert_eq!(r["resources"][0]["withdrawn"], true, "{r}");
    // A request nobody filed or applied cannot be withdrawn.
    assert_eq!(p.run(&["request", "withdraw", "RDS-0042"]).code, 2);
}

fn row(rows: &serde_json::Value, id: &str) -> serde_json::Value {
    rows["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} in {rows}"))
}

#[test]
fn partial_and_edited_approvals_read_alike_in_the_cli_the_api_and_the_dashboard() {
    let (p, _dir, _url) = setup();
    // High risk: the platform and the security groups, one person each.
    write(
        &p,
        "RDS-0003",
        &request("RDS-0003", "ledger", "risk: high\n"),
    );
    let as_actor = |actor: &str, args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("GOLDENPATH_ACTOR", actor);
        gp_test::run(&mut c)
    };
    assert_eq!(
        as_actor("paula", &["request", "approve", "RDS-0003"]).code,
        0
    );
    let mut server = p
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = {
        use std::io::BufRead;
        let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
        loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "serve stopped");
            if let Some(a) = line.split("http://").nth(1) {
                break a.split_whitespace().next().unwrap().to_string();
            }
        }
    };
    let states = |expect: &str, waiting: bool| {
        let cli: serde_json::Value =
            serde_json::from_str(&p.ok(&["request", "list", "--output", "json"]).stdout).unwrap();
        let (status, _, body) = http_get(&addr, "/api/v1/requests");
        assert_eq!(status, 200);
        let api: serde_json::Value = serde_json::from_str(&body).unwrap();
        for (who, rows) in [("cli", &cli), ("api", &api)] {
            let r = row(rows, "RDS-0003");
            assert_eq!(r["state"], expect, "{who}: {r}");
            assert_eq!(r["awaitingApproval"], waiting, "{who}: {r}");
        }
        let (_, _, page) = http_get(&addr, "/ui/requests");
        assert!(page.contains(expect), "dashboard: {page}");
        // The page offers no form (no tokens), and says who waits.
        assert!(
            page.contains(if waiting {
                "1 of 1 requests wait"
            } else {
                "0 of 1 requests wait"
            }),
            "{page}"
        );
        row(&cli, "RDS-0003")
    };
    let r = states("awaiting security", true);
    assert_eq!(r["missing"], serde_json::json!(["security"]));
    assert_eq!(r["approvals"][0]["by"], "paula");
    // Paula again: one approval still, and the refusal changes nothing.
    assert_eq!(
        as_actor("paula", &["request", "approve", "RDS-0003"]).code,
        3
    );
    assert_eq!(
        states("awaiting security", true)["approvals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(as_actor("sam", &["request", "approve", "RDS-0003"]).code, 0);
    states("approved", false);
    // Edited after approval: the approvals were of another content.
    write(
        &p,
        "RDS-0003",
        &request("RDS-0003", "ledger", "risk: high\nstorageGb: 40\n"),
    );
    let r = states("changed since approval", true);
    assert!(r["approvals"].as_array().unwrap().is_empty(), "{r}");
    let _ = server.kill();
    let _ = server.wait();
}
