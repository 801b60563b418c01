//! README claims tested in the direction that can break: teardown keeps
//! what it adopted and reports what survives it, guards refuse and leave
//! the state as it was, retries happen, the persistent deployment needs
//! `--confirm`, another owner's DNS name is refused through the whole CLI,
//! and the CLI's story runs the same on a PostgreSQL registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::deploy::Platform;
use crate::gp;

const SPEC: &str = include_str!("fixtures/exec-platform.yaml");

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The `outcome` line of a run's JSON Lines.
pub(crate) fn outcome(stdout: &str) -> serde_json::Value {
    stdout
        .lines()
        .map(json)
        .find(|l| l["event"] == "outcome")
        .unwrap_or_else(|| panic!("no outcome in\n{stdout}"))["outcome"]
        .clone()
}

fn resources(out: &serde_json::Value, field: &str) -> Vec<String> {
    out[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["component"].as_str().unwrap(),
                r["resource"].as_str().unwrap()
            )
        })
        .collect()
}

// ---- 1. teardown: adopted resources stay; survivors are reported ----

#[test]
fn an_adopted_exec_resource_survives_teardown_in_the_real_system() {
    let p = Platform::new(SPEC);
    std::fs::create_dir_all(p.path().join("res")).unwrap();
    // Someone made the build's cluster already.
    std::fs::write(p.path().join("res/23-01-26-01-cluster"), "theirs").unwrap();
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let deployed = p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let o = outcome(&deployed.stdout);
    let cluster = o["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "cluster")
        .unwrap();
    assert_eq!(cluster["action"], "adopt", "{cluster}");
    let down = p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let t = outcome(&down.stdout);
    assert_eq!(resources(&t, "kept"), ["cluster:exec cluster"], "{t}");
    assert!(
        !resources(&t, "destroyed")
            .iter()
            .any(|r| r.starts_with("cluster:"))
    );
    // On disk: theirs is untouched, ours are gone.
    assert_eq!(
        std::fs::read_to_string(p.path().join("res/23-01-26-01-cluster")).unwrap(),
        "theirs"
    );
    assert_eq!(p.resources(), ["23-01-26-01-cluster", "db"]);
}

#[test]
fn a_resource_recreated_behind_goldenpaths_back_is_listed_and_fails_the_teardown() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    // A controller that puts the web file back as soon as it is removed.
    let stop = Arc::new(AtomicBool::new(false));
    let file = p.path().join("res/23-01-26-01-web");
    let recreator = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if !file.exists() {
                    let _ = std::fs::write(&file, "back");
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let down = p.run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    stop.store(true, Ordering::SeqCst);
    recreator.join().unwrap();
    assert_eq!(down.code, 1, "{}", down.transcript());
    assert!(
        down.stdout
            .contains("orphan check: 1 resource(s) still exist"),
        "{}",
        down.stdout
    );
    assert!(down.stdout.contains("web"), "{}", down.stdout);
    assert!(
        down.stderr.contains("teardown left resources behind"),
        "{}",
        down.stderr
    );
}

#[test]
fn an_adopted_database_and_secret_stay_while_created_ones_go() {
    let pg = gp_test::postgres::TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    // The platform's existing keycloak database, and a secret a human put.
    admin
        .batch_execute("CREATE ROLE keycloak LOGIN PASSWORD 'x-0123456789'")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE keycloak OWNER keycloak")
        .unwrap();
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
      databases: [keycloak, backstage]
  - name: app-secrets
    plane: foundational
    tier: 0
    driver: secrets
    settings:
      secrets:
        - {{ name: grafana_admin, generate: [password] }}
        - {{ name: smtp, generate: [password] }}
",
        pg.superuser, pg.port
    );
    let p = Platform::new(&spec);
    let run = |args: &[&str], input: Option<&str>| {
        let mut c = p.cmd(args);
        c.env("PGPW", pg.password.expose());
        match input {
            None => gp_test::run(&mut c),
            Some(text) => {
                use std::io::Write;
                let mut child = c
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                let o = child.wait_with_output().unwrap();
                gp_test::Output {
                    code: o.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                }
            }
        }
    };
    let put = run(
        &["secret", "put", "demo/dev/smtp"],
        Some("{\"password\": \"chosen-by-a-human-0123456789\"}"),
    );
    assert_eq!(put.code, 0, "{}", put.transcript());
    let up = run(&["deploy", "--env", "dev", "--foundational"], None);
    assert_eq!(up.code, 0, "{}", up.transcript());
    let down = run(
        &[
            "teardown",
            "--env",
            "dev",
            "--foundational",
            "--confirm",
            "--output",
            "json",
        ],
        None,
    );
    assert_eq!(down.code, 0, "{}", down.transcript());
    let t = outcome(&down.stdout);
    let kept = resources(&t, "kept");
    assert!(kept.iter().any(|r| r.contains("keycloak")), "{t}");
    assert!(kept.iter().any(|r| r.contains("smtp")), "{t}");
    // In PostgreSQL's catalog: keycloak is still there, backstage is gone.
    let dbs: Vec<String> = admin
        .query("SELECT datname FROM pg_database", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(dbs.contains(&"keycloak".to_string()), "{dbs:?}");
    assert!(!dbs.contains(&"backstage".to_string()), "{dbs:?}");
    // In the store: the human's secret is kept with its value; the
    // generated one is gone.
    let smtp = run(&["secret", "get", "demo/dev/smtp", "--reveal"], None);
    assert_eq!(smtp.code, 0, "{}", smtp.transcript());
    assert!(smtp.stdout.contains("chosen-by-a-human-0123456789"));
    assert_eq!(
        run(&["secret", "get", "demo/dev/grafana_admin"], None).code,
        2
    );
}

#[test]
fn terraform_state_found_without_a_journal_is_adopted_and_kept() {
    let p = Platform::new(crate::terraform::SPEC);
    std::fs::create_dir_all(p.path().join("root")).unwrap();
    std::fs::write(p.path().join("root/main.tf"), crate::terraform::ROOT).unwrap();
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    // A new registry (a migration from another tool): the state is there,
    // no journal says goldenpath made it.
    for f in ["registry.db", "registry.key", "registry.head"] {
        std::fs::remove_file(p.path().join(".goldenpath").join(f)).unwrap();
    }
    let again = p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let o = outcome(&again.stdout);
    assert_eq!(o["components"][0]["action"], "adopt", "{o}");
    let down = p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let t = outcome(&down.stdout);
    assert_eq!(resources(&t, "destroyed"), Vec::<String>::new(), "{t}");
    assert_eq!(resources(&t, "kept").len(), 1, "{t}");
    // Terraform's own state still holds the resource.
    let state = p
        .path()
        .join(".goldenpath/tfstate/envs/dev/builds/23-01-26-01/terraform.tfstate.d/cluster/terraform.tfstate");
    let v = json(&std::fs::read_to_string(&state).unwrap());
    assert_eq!(v["resources"].as_array().unwrap().len(), 1, "{v}");
}

// ---- 3. confirmation and guards ----

#[test]
fn the_persistent_teardown_needs_confirm_and_changes_nothing_without() {
    let p = Platform::new(SPEC);
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--persistent"]);
    let before = p.resources();
    let out = p.run(&["teardown", "--env", "dev", "--persistent"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(out.stderr.contains("--confirm"), "{}", out.stderr);
    assert_eq!(p.resources(), before);
    let status = p.ok(&["status", "--env", "dev", "--persistent"]);
    assert!(
        status.stdout.starts_with("dev persistent deployment: live"),
        "{}",
        status.stdout
    );
    p.ok(&["teardown", "--env", "dev", "--persistent", "--confirm"]);
    assert_eq!(p.resources(), ["db"]);
}

/// The cluster's state: its resources' addresses and ids.
fn tf_state(p: &Platform) -> Vec<(String, String)> {
    let state = p
        .path()
        .join(".goldenpath/tfstate/envs/dev/builds/23-01-26-01/terraform.tfstate.d/cluster/terraform.tfstate");
    let v = json(&std::fs::read_to_string(state).unwrap());
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}.{}",
                    r["type"].as_str().unwrap(),
                    r["name"].as_str().unwrap()
                ),
                r["instances"][0]["attributes"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn protect_and_limits_refuse_with_exit_3_and_leave_the_state_as_it_was() {
    for (guard, change) in [
        // Renaming the resource replaces it: protect refuses the delete.
        (
            "      protect: [\"terraform_data.cluster\"]\n",
            (
                "resource \"terraform_data\" \"cluster\"",
                "resource \"terraform_data\" \"renamed\"",
            ),
        ),
        // A changed input updates it: maxChange 0 refuses.
        ("      limits: { maxChange: 0 }\n", ("v1-", "v2-")),
    ] {
        let spec = format!("{}{guard}", crate::terraform::SPEC);
        let p = Platform::new(&spec);
        std::fs::create_dir_all(p.path().join("root")).unwrap();
        std::fs::write(p.path().join("root/main.tf"), crate::terraform::ROOT).unwrap();
        p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
        let before = tf_state(&p);
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
        let journal_before = json(&journal_before.stdout)["journal"]
            .as_array()
            .unwrap()
            .len();
        let text = crate::terraform::ROOT.replace(change.0, change.1);
        let text = text.replace(
            "terraform_data.cluster.output",
            &format!(
                "terraform_data.{}.output",
                if change.1.contains("renamed") {
                    "renamed"
                } else {
                    "cluster"
                }
            ),
        );
        std::fs::write(p.path().join("root/main.tf"), text).unwrap();
        let out = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
        assert_eq!(out.code, 3, "{guard}: {}", out.transcript());
        assert_eq!(tf_state(&p), before, "{guard}: the state changed");
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
        let journal = json(&show.stdout)["journal"].as_array().unwrap().clone();
        assert!(
            !journal[journal_before..]
                .iter()
                .any(|e| e["stage"] == "after" && e["action"] != "read"),
            "{guard}: a refused apply journalled a change: {:?}",
            &journal[journal_before..]
        );
    }
}

// ---- 4. retries ----

#[test]
fn a_temporary_failure_is_retried_and_a_permanent_one_is_not() {
    let spec = SPEC.replace(
        "apply: mkdir -p res && touch res/db && echo url=db.internal > \"$GOLDENPATH_OUTPUTS\"",
        "apply: mkdir -p res && n=$(cat res/tries 2>/dev/null || echo 0) && echo $((n+1)) > res/tries && [ \"$n\" -ge 1 ] || exit 75; touch res/db && echo url=db.internal > \"$GOLDENPATH_OUTPUTS\"",
    );
    assert_ne!(spec, SPEC);
    let p = Platform::new(&spec);
    let out = p.run(&["deploy", "--env", "dev", "--foundational"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr.contains("retrying  db (attempt 2)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("res/tries"))
            .unwrap()
            .trim(),
        "2"
    );
    let phases = json(&p.ok(&["registry", "export", "--output", "json"]).stdout);
    let exits: Vec<i64> = phases["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["phase"] == "exec:db")
        .map(|r| r["exitCode"].as_i64().unwrap())
        .collect();
    assert_eq!(exits, [75, 0]);

    // exit 1 is final: one attempt.
    let spec = SPEC.replace(
        "apply: mkdir -p res && touch res/db && echo url=db.internal > \"$GOLDENPATH_OUTPUTS\"",
        "apply: mkdir -p res && echo x >> res/tries && exit 1",
    );
    let p = Platform::new(&spec);
    let out = p.run(&["deploy", "--env", "dev", "--foundational"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(!out.stderr.contains("retrying"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(p.path().join("res/tries")).unwrap(),
        "x\n"
    );
}

// ---- 2. another owner's DNS name, through the CLI, against BIND ----

#[test]
fn another_owners_dns_name_blocks_the_plan_and_the_deploy_refuses_it() {
    let dir = gp_test::tempdir();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let init = gp_test::run(gp().args(["init", "--example", "local"]).arg(dir.path()));
    assert_eq!(init.code, 0, "{}", init.transcript());
    let p = Platform {
        dir,
        env: Vec::new(),
    };
    let _servers = crate::requests::Servers(p.path().to_path_buf());
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    // Another cluster's ExternalDNS published the build's Backstage name.
    let zone = p.path().join(".goldenpath/dns/goldenpath.test.zone");
    let host = "backstage.b-23-01-26-01.dev.goldenpath.test";
    let mut text = std::fs::read_to_string(&zone).unwrap();
    text.push_str(&format!(
        "{host}. 300 IN A 10.9.9.9\na-{host}. 300 IN TXT \"heritage=external-dns,external-dns/owner=other-cluster,external-dns/resource=ingress/portal\"\n"
    ));
    std::fs::write(&zone, &text).unwrap();

    let plan = p.ok(&["plan", "--env", "dev", "--build-id", "23-01-26-01"]);
    let row = plan
        .stdout
        .lines()
        .find(|l| l.starts_with("backstage "))
        .unwrap();
    assert!(
        row.contains(" blocked ") && row.contains("owned by other-cluster"),
        "{}",
        plan.stdout
    );
    let out = p.run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    // BIND, serving the zone, still answers with the other owner's record.
    let bind = gp_test::bind::TestBind::serve_zone_file("goldenpath.test", &zone);
    assert_eq!(bind.dig(host, "A"), "10.9.9.9");
    assert!(
        bind.dig(&format!("a-{host}"), "TXT")
            .contains("owner=other-cluster")
    );
}

// ---- 5. the CLI's story on both registry backends ----

#[test]
fn the_cli_story_runs_the_same_on_a_postgresql_registry() {
    let pg = gp_test::postgres::TestPostgres::start();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE ledger").unwrap();
    let url = pg.url_for("ledger");
    let key = "a-shared-registry-key-0123456789abcdef";
    let p = Platform::new(SPEC);
    let run = |args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("GOLDENPATH_REGISTRY", &url)
            .env("GOLDENPATH_REGISTRY_KEY", key);
        let out = gp_test::run(&mut c);
        assert_eq!(out.code, 0, "{args:?}: {}", out.transcript());
        out
    };
    run(&["deploy", "--env", "dev", "--foundational"]);
    run(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    let status = run(&["status", "--env", "dev", "--build-id", "23-01-26-01"]);
    assert!(
        status.stdout.starts_with("dev build 23-01-26-01: live"),
        "{}",
        status.stdout
    );
    run(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    run(&["registry", "verify"]);
    assert_eq!(p.resources(), ["db"]);
    // Nothing went to a SQLite file; the rows are in PostgreSQL.
    assert!(!p.registry_file().exists());
    let mut ledger = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows: i64 = ledger
        .query_one(
            "SELECT count(*) FROM journal WHERE deployment = '23-01-26-01'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(rows >= 6, "{rows} journal rows");
    let torn: i64 = ledger
        .query_one(
            "SELECT count(*) FROM deployment_events WHERE deployment = '23-01-26-01' AND event = 'torn_down'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(torn, 1);
}

#[test]
fn an_existing_zone_is_adopted_and_kept_on_a_server_and_in_a_file() {
    // A zone on a DNS server (BIND over RFC 2136): goldenpath adopts it.
    let bind = gp_test::bind::TestBind::start("example.io");
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
  - name: dns-zone
    plane: foundational
    tier: 0
    driver: dns
    settings: {{ backend: rfc2136, server: '{}', tsig: {{ keyName: {}, secret: demo/dev/dns-zone/tsig }} }}
",
        bind.server(),
        bind.key_name
    );
    let p = Platform::new(&spec);
    let mut put = p.cmd(&["secret", "put", "demo/dev/dns-zone/tsig"]);
    put.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = put.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(
                serde_json::json!({"secret": bind.key_b64})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let down = p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "--confirm",
        "--output",
        "json",
    ]);
    assert_eq!(
        resources(&outcome(&down.stdout), "kept"),
        ["dns-zone:zone example.io"]
    );
    assert!(
        bind.dig("example.io", "SOA").contains("ns1.example.io."),
        "the server still serves the zone"
    );

    // A zone file that was there before: adopted, kept with its records.
    let spec = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
environments:
  dev: {}
components:
  - name: dns-zone
    plane: foundational
    tier: 0
    driver: dns
    settings: { backend: zonefile, zone: example.io }
";
    let p = Platform::new(spec);
    let file = p.path().join(".goldenpath/dns/example.io.zone");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let theirs = "$ORIGIN example.io.\n$TTL 300\n@ 300 IN SOA ns1.example.io. hostmaster.example.io. 7 3600 600 86400 300\n@ 300 IN NS ns1\nns1 300 IN A 127.0.0.1\nlegacy 300 IN A 10.1.1.1\n";
    std::fs::write(&file, theirs).unwrap();
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let down = p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--foundational",
        "--confirm",
        "--output",
        "json",
    ]);
    let t = outcome(&down.stdout);
    assert_eq!(resources(&t, "kept").len(), 1, "{t}");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("legacy 300 IN A 10.1.1.1")
    );
}

#[test]
fn gitops_folders_found_without_a_journal_are_adopted_and_kept_in_git() {
    let spec = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
gitops: { git: true }
environments:
  dev: {}
components:
  - name: app
    plane: disposable
    tier: 0
    driver: gitops
    settings: { namespace: app }
";
    let p = Platform::new(spec);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    for f in ["registry.db", "registry.key", "registry.head"] {
        std::fs::remove_file(p.path().join(".goldenpath").join(f)).unwrap();
    }
    let again = p.ok(&[
        "deploy",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    assert_eq!(outcome(&again.stdout)["components"][0]["action"], "adopt");
    let down = p.ok(&[
        "teardown",
        "--env",
        "dev",
        "--build-id",
        "23-01-26-01",
        "--output",
        "json",
    ]);
    let t = outcome(&down.stdout);
    assert!(
        resources(&t, "kept")
            .iter()
            .any(|r| r.starts_with("app:gitops-app")),
        "{t}"
    );
    // Still in git's HEAD.
    let tree = std::process::Command::new("git")
        .arg("-C")
        .arg(p.path().join("gitops"))
        .args(["ls-tree", "-r", "--name-only", "HEAD"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains("apps/dev/builds/23-01-26-01/app/"), "{tree}");
}

#[test]
fn a_record_owned_through_the_legacy_txt_format_is_recognised_against_bind() {
    // ExternalDNS before 0.12 (and 0.14 beside the new one) wrote the
    // ownership TXT at the record's own name.
    let bind = gp_test::bind::TestBind::start("example.io");
    let out = bind.nsupdate(
        "update add grafana.dev.example.io. 300 A 10.0.0.9\nupdate add grafana.dev.example.io. 300 TXT \"heritage=external-dns,external-dns/owner=cluster-dev,external-dns/resource=ingress/monitoring/grafana\"",
        None,
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let p = bind_platform(&bind, "txtPrefix: \"\"");
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    let before = bind.axfr();
    let out = p.run(&["deploy", "--env", "dev", "--persistent"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert!(
        out.transcript()
            .contains("grafana.dev.example.io A is owned by cluster-dev"),
        "the legacy TXT names its owner: {}",
        out.transcript()
    );
    assert_eq!(bind.axfr(), before, "nothing changed");
}

/// A platform whose zone is `bind` (RFC 2136 with its TSIG key in the
/// store), with `dns` settings and one host, `grafana`, on a disposable
/// component.
pub(crate) fn bind_platform(bind: &gp_test::bind::TestBind, dns: &str) -> Platform {
    let spec = format!(
        "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: demo
prefix: demo
domain: example.io
owner: team
dns: {{ {dns} }}
environments:
  dev: {{}}
components:
  - name: dns-zone
    plane: foundational
    tier: 0
    driver: dns
    settings: {{ backend: rfc2136, server: '{}', tsig: {{ keyName: {}, secret: demo/dev/dns-zone/tsig }} }}
  - name: monitoring
    plane: disposable
    tier: 1
    driver: exec
    needs: [dns-zone]
    hosts:
      - {{ name: grafana, target: 10.0.0.5 }}
    settings: {{ apply: \"true\", destroy: \"true\" }}
",
        bind.server(),
        bind.key_name
    );
    let p = Platform::new(&spec);
    let mut put = p.cmd(&["secret", "put", "demo/dev/dns-zone/tsig"]);
    put.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = put.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(
                serde_json::json!({"secret": bind.key_b64})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
    p
}

#[test]
fn txt_legacy_writes_both_ownership_formats_and_teardown_removes_both_against_bind() {
    let bind = gp_test::bind::TestBind::start("example.io");
    // Beside one build's name, a TXT someone else keeps at the legacy name
    // of the other build's host: never appended to.
    let out = bind.nsupdate(
        "update add external-dns.grafana.b-23-01-26-02.dev.example.io. 300 TXT \"v=spf1 -all\"",
        None,
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let p = bind_platform(&bind, "txtPrefix: external-dns., txtLegacy: true");
    p.ok(&["deploy", "--env", "dev", "--foundational"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-01"]);
    p.ok(&["deploy", "--env", "dev", "--build-id", "23-01-26-02"]);
    let zone = bind.axfr();
    let owner = "heritage=external-dns,external-dns/owner=demo-dev-23-01-26-01,external-dns/resource=goldenpath/monitoring";
    for name in [
        "external-dns.a-grafana.b-23-01-26-01.dev.example.io.",
        "external-dns.grafana.b-23-01-26-01.dev.example.io.",
    ] {
        assert!(
            zone.lines()
                .any(|l| l.starts_with(name) && l.contains("TXT") && l.contains(owner)),
            "{name} holds the ownership TXT:\n{zone}"
        );
    }
    let legacy2: Vec<&str> = zone
        .lines()
        .filter(|l| l.starts_with("external-dns.grafana.b-23-01-26-02.dev.example.io."))
        .collect();
    assert_eq!(legacy2.len(), 1, "{zone}");
    assert!(legacy2[0].contains("v=spf1 -all"), "{zone}");
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-01"]);
    p.ok(&["teardown", "--env", "dev", "--build-id", "23-01-26-02"]);
    let zone = bind.axfr();
    assert!(!zone.contains("b-23-01-26-01"), "both TXTs gone:\n{zone}");
    assert!(
        zone.contains("external-dns.grafana.b-23-01-26-02.dev.example.io.")
            && zone.contains("v=spf1 -all"),
        "the other TXT is left alone:\n{zone}"
    );
    assert!(!zone.contains("a-grafana.b-23-01-26-02"), "{zone}");
}
